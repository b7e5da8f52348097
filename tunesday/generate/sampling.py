"""Vectorised sampling helpers shared by the catalogue, the listeners and the listening model."""

import numpy as np


class GroupSampler:
    """Draws one item per request, weighted, from the request's group, for many requests at once.

    Items are sorted by group. Group g occupies [g, g + 1) of one global cumulative distribution,
    so a draw for group g with uniform u is ``searchsorted(cdf, g + u)``: one call serves a million
    requests spread over thousands of groups (tracks of a cluster, favourites of a listener, ...).
    Items of weight zero are never drawn; an empty group or one of weight zero must not be asked for.
    """

    def __init__(self, groups: np.ndarray, weights: np.ndarray, n_groups: int):
        groups = np.asarray(groups, dtype=np.int64)
        weights = np.asarray(weights, dtype=np.float64)
        if len(groups) and np.any(np.diff(groups) < 0):
            raise ValueError("items must be sorted by group")
        self.start = np.searchsorted(groups, np.arange(n_groups), side="left")
        self.end = np.searchsorted(groups, np.arange(n_groups), side="right")
        cumulative = np.cumsum(weights)
        before = np.where(self.start > 0, cumulative[np.maximum(self.start - 1, 0)], 0.0)
        totals = np.bincount(groups, weights, minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            within = (cumulative - before[groups]) / totals[groups]
        within = np.nan_to_num(within, nan=1.0)
        nonempty = self.end > self.start
        within[self.end[nonempty] - 1] = 1.0  # no rounding gap at the top of a group
        self.cdf = groups + within

    def sample(self, groups: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Item indices for each (group, uniform in [0, 1)) pair."""
        groups = np.asarray(groups, dtype=np.int64)
        found = np.searchsorted(self.cdf, groups + u, side="right")
        return np.clip(found, self.start[groups], self.end[groups] - 1)


def segment_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Indices where a new run of equal keys begins."""
    if len(sorted_keys) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])


def rank_in_segment(sorted_keys: np.ndarray) -> np.ndarray:
    """0, 1, 2 ... within each run of equal keys."""
    starts = segment_starts(sorted_keys)
    lengths = np.diff(np.r_[starts, len(sorted_keys)])
    return np.arange(len(sorted_keys)) - np.repeat(starts, lengths)


def offsets_from_counts(counts: np.ndarray) -> np.ndarray:
    """CSR offsets (length n + 1) of groups with the given sizes."""
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def exclusive_cumsum_in_segments(values: np.ndarray, segment_of: np.ndarray) -> np.ndarray:
    """Sum of the earlier values of the same segment (segments contiguous)."""
    total = np.cumsum(values) - values
    starts = segment_starts(segment_of)
    lengths = np.diff(np.r_[starts, len(values)])
    return total - np.repeat(total[starts], lengths)


def first_occurrences(keys: np.ndarray) -> np.ndarray:
    """Sorted indices of the first occurrence of each distinct key."""
    _, first = np.unique(keys, return_index=True)
    return np.sort(first)


def beta_by_mean(rng: np.random.Generator, mean: np.ndarray, concentration: float) -> np.ndarray:
    mean = np.clip(mean, 0.02, 0.98)
    return rng.beta(mean * concentration, (1 - mean) * concentration)


def choose(rng: np.random.Generator, shares: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn from fixed shares (faster than Generator.choice for large sizes)."""
    cdf = np.cumsum(shares) / np.sum(shares)
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(shares) - 1)


def uniform_between(rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Integers uniformly in [low, high) elementwise (high > low)."""
    low = np.asarray(low, dtype=np.int64)
    span = np.asarray(high, dtype=np.int64) - low
    return low + (rng.random(np.broadcast(low, span).shape) * span).astype(np.int64)
