"""The strongest peers for playlist continuation, tuned fairly: implicit's ALS and EASE.

Both fit the playlist × track matrix X of the training playlists plus the challenge playlists'
seeds (a row each, as the project's own ranking sees them: `continue` loads both), binary, a
track repeated inside a playlist counted once. Both are tuned on a validation split cut from the
training playlists alone (`validation_split`: the same rules as the challenge split, another
seed), never on the challenge playlists, then refitted with the chosen parameters on the whole
training set. Their lists are finished like every ranking (baselines.finish): seeds dropped,
cut to 500, filled from the popularity order.

- EASE (Steck 2019, "Embarrassingly Shallow Autoencoders"): B = argmin ||X − XB||² + λ||B||²
  with diag(B) = 0. Its primal form inverts a track × track matrix; with a few thousand
  playlists and a hundred thousand tracks the dual form is the one that fits (Woodbury): with
  A = XXᵀ + λI (playlist × playlist) and M = XᵀA⁻¹X, B_ij = M_ij / (1 − M_jj) for i ≠ j, so a
  playlist x scores track j (not a seed) as (x M)_j / (1 − M_jj), and x M = ((x Xᵀ) A⁻¹) X.
  One n × n inverse; no track × track matrix is ever formed.
- ALS: implicit's AlternatingLeastSquares (Hu, Koren and Volinsky 2008), optionally on BM25-
  weighted X (a common trick on this data), the challenge rows' factors fitted with the rest.

The optional dependency is the `recsys` extra (implicit, which brings scipy).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tunesday.mpd import Playlist
from tunesday.recsys import baselines, metrics
from tunesday.recsys.split import GroundTruth, make_split
from tunesday.recsys.submission import TRACKS_PER_PLAYLIST

#: Test playlists of the validation split cut from the training playlists (half 5, half 25 seeds).
VALIDATION_PLAYLISTS = 500
#: Its shuffle seed is the challenge split's plus this, so the two never coincide.
VALIDATION_SEED_OFFSET = 1000
#: What tuning maximises: the mean over the validation playlists of these, averaged.
TUNING_METRICS = ("r_precision_track", "ndcg")

# Grids whose best points (on the shared MPD playlists, split seed 0) lie inside them, not on an edge.
EASE_GRID = tuple({"l2": l2} for l2 in (100.0, 300.0, 1000.0, 3000.0, 10000.0, 30000.0))
ALS_GRID = tuple(
    {"factors": factors, "regularization": regularization, "alpha": alpha, "bm25": bm25, "iterations": 15}
    for factors, regularization, alpha, bm25 in itertools.product(
        (64, 128, 256), (0.01, 0.1), (3.0, 10.0, 30.0), (False, True)
    )
)


def _sparse():
    try:
        import scipy.sparse
    except ImportError as missing:  # pragma: no cover - the message is the point
        raise ValueError("the peers need the recsys extra: pip install -e '.[recsys]'") from missing
    return scipy.sparse


@dataclass(frozen=True)
class Matrix:
    """X: rows = the training playlists, then the queries (the challenge playlists' seeds)."""

    index: baselines.TrainingIndex
    uris: list[str]  # column -> track URI: the training tracks, then seed-only ones
    rows: Any  # scipy.sparse.csr_matrix, float32, binary (untyped)
    query_rows: dict[int, int]  # challenge pid -> its row in X

    @classmethod
    def build(cls, train: Sequence[Playlist], challenge: Sequence[Playlist]) -> Matrix:
        sparse = _sparse()
        index = baselines.build_index(train)
        uris = list(index.uris)
        ids = dict(index.ids)
        # Tracks seen only as seeds get columns too (they shape the queries' neighbours).
        for playlist in challenge:
            for uri in playlist.track_uris:
                if uri not in ids:
                    ids[uri] = len(uris)
                    uris.append(uri)
        rows = [sorted({ids[uri] for uri in playlist.track_uris}) for playlist in [*train, *challenge]]
        indptr = np.concatenate([[0], np.cumsum([len(row) for row in rows])])
        columns = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int32, count=int(indptr[-1]))
        matrix = sparse.csr_matrix(
            (np.ones(len(columns), dtype=np.float32), columns, indptr), shape=(len(rows), len(uris))
        )
        return cls(
            index=index,
            uris=uris,
            rows=matrix,
            query_rows={playlist.pid: len(train) + n for n, playlist in enumerate(challenge)},
        )


def _ranked_lists(
    scores: np.ndarray,
    row_pids: Sequence[int],
    seeds: Mapping[int, list[str]],
    index: baselines.TrainingIndex,
    uris: Sequence[str],
    k: int,
) -> dict[int, list[str]]:
    """Each row's top tracks by score (seeds are -inf; ties: popularity, then URI order), finished to k."""
    popularity = np.zeros(scores.shape[1])
    popularity[: len(index.popularity)] = index.popularity
    recommendations = {}
    for row, pid in enumerate(row_pids):
        row_scores = scores[row]
        top = min(k + len(seeds[pid]) + 1, len(row_scores))
        candidates = np.argpartition(-row_scores, top - 1)[:top]
        candidates = candidates[np.isfinite(row_scores[candidates])]
        ordered = candidates[np.lexsort((candidates, -popularity[candidates], -row_scores[candidates]))]
        recommendations[pid] = baselines.finish(
            (uris[track] for track in ordered.tolist()), seeds[pid], index.popular, k
        )
    return recommendations


class EaseDual:
    """EASE fitted in its dual form on X (scipy csr): `scores(queries)` is queries · B for rows of
    tracks, with B's diagonal zero (the module's docstring gives the algebra)."""

    def __init__(self, x, l2: float) -> None:
        self.x = x
        gram = (x @ x.T).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += l2
        self.inverse = np.linalg.inv(gram)
        # M_jj = X_jᵀ A⁻¹ X_j, in slices of tracks (the slice of XᵀA⁻¹ is tracks × playlists).
        columns = x.T.tocsr()
        diagonal = np.empty(x.shape[1])
        for start in range(0, x.shape[1], 20_000):
            part = columns[start : start + 20_000]
            diagonal[start : start + part.shape[0]] = np.asarray(part.multiply(part @ self.inverse).sum(axis=1)).ravel()
        self.diagonal = diagonal

    def scores(self, queries) -> np.ndarray:
        """(queries M − queries ⊙ diag M) / (1 − diag M): row i of the result is Σ_j q_ij B_j·."""
        product = np.asarray(((queries @ self.x.T) @ self.inverse) @ self.x)
        dense = queries.toarray()
        return (product - dense * self.diagonal) / (1.0 - self.diagonal)


def ease(
    train: Sequence[Playlist], challenge: Sequence[Playlist], l2: float, k: int = TRACKS_PER_PLAYLIST, batch: int = 200
) -> dict[int, list[str]]:
    matrix = Matrix.build(train, challenge)
    model = EaseDual(matrix.rows, l2)
    pids = [playlist.pid for playlist in challenge]
    seeds = {playlist.pid: playlist.track_uris for playlist in challenge}
    recommendations = {}
    for start in range(0, len(pids), batch):
        chunk = pids[start : start + batch]
        queries = matrix.rows[[matrix.query_rows[pid] for pid in chunk]]
        scores = model.scores(queries)
        scores[queries.nonzero()] = -np.inf
        recommendations.update(_ranked_lists(scores, chunk, seeds, matrix.index, matrix.uris, k))
    return recommendations


def fit_als(x, factors: int, regularization: float, alpha: float, iterations: int, random_state: int = 0):
    """implicit's AlternatingLeastSquares fitted on X (scipy csr, playlists × tracks)."""
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):  # implicit's own threads; BLAS threads inside them would fight
        model = AlternatingLeastSquares(
            factors=factors,
            regularization=regularization,
            alpha=alpha,
            iterations=iterations,
            random_state=random_state,
            calculate_training_loss=False,
            num_threads=0,
        )
        model.fit(x.astype(np.float32), show_progress=False)
    return model


def als(
    train: Sequence[Playlist],
    challenge: Sequence[Playlist],
    factors: int,
    regularization: float,
    alpha: float,
    bm25: bool,
    iterations: int,
    k: int = TRACKS_PER_PLAYLIST,
    random_state: int = 0,
) -> dict[int, list[str]]:
    try:
        from implicit.nearest_neighbours import bm25_weight
    except ImportError as missing:
        raise ValueError("the ALS peer needs the recsys extra: pip install -e '.[recsys]'") from missing
    matrix = Matrix.build(train, challenge)
    weighted = bm25_weight(matrix.rows, K1=100, B=0.8).tocsr() if bm25 else matrix.rows
    model = fit_als(weighted, factors, regularization, alpha, iterations, random_state)
    pids = [playlist.pid for playlist in challenge]
    rows = np.array([matrix.query_rows[pid] for pid in pids])
    seeds = {playlist.pid: playlist.track_uris for playlist in challenge}
    uris = matrix.uris
    ids, _ = model.recommend(rows, weighted[rows], N=k, filter_already_liked_items=True)
    recommendations = {}
    for pid, tracks in zip(pids, ids.tolist()):
        recommendations[pid] = baselines.finish(
            (uris[track] for track in tracks if track >= 0), seeds[pid], matrix.index.popular, k
        )
    return recommendations


PEERS: dict[str, Callable[..., dict[int, list[str]]]] = {"ease": ease, "als": als}
GRIDS: dict[str, tuple[dict, ...]] = {"ease": EASE_GRID, "als": ALS_GRID}


@dataclass(frozen=True)
class Validation:
    """A challenge cut from the training playlists: tuning never sees the real challenge."""

    train: list[Playlist]
    queries: list[Playlist]  # the validation playlists' seeds
    truth: GroundTruth

    @classmethod
    def cut(cls, train: Sequence[Playlist], seed: int, playlists: int | None = None) -> Validation:
        split = make_split(train, playlists or VALIDATION_PLAYLISTS, seed + VALIDATION_SEED_OFFSET)
        queries = [
            Playlist(case.playlist.pid, case.playlist.name, case.playlist.tracks[: case.num_samples])
            for case in split.cases
        ]
        truth = GroundTruth(
            holdouts={case.playlist.pid: case.holdouts for case in split.cases},
            num_samples={case.playlist.pid: case.num_samples for case in split.cases},
            track_artists={},
        )
        return cls(train=split.train, queries=queries, truth=truth)

    def score(self, recommendations: Mapping[int, Sequence[str]]) -> float:
        means = metrics.evaluate(recommendations, self.truth, {query.pid: query.track_uris for query in self.queries})[
            "all"
        ]
        return sum(means[metric] for metric in TUNING_METRICS) / len(TUNING_METRICS)


@dataclass(frozen=True)
class Tuned:
    name: str
    params: dict
    trials: list[tuple[dict, float]] = field(default_factory=list)  # every grid point, its score
    seconds: float = 0.0  # the whole search

    def describe(self) -> str:
        shown = ", ".join(f"{key}={value}" for key, value in self.params.items())
        best = max(score for _, score in self.trials) if self.trials else float("nan")
        return (
            f"{self.name}: {shown} (validation mean of {' and '.join(TUNING_METRICS)} {best:.4f}, "
            f"best of {len(self.trials)} in {self.seconds:.0f} s)"
        )


def tune(name: str, validation: Validation, grid: Iterable[dict] | None = None) -> Tuned:
    """The grid point whose lists score best on the validation split (ties: the earlier point)."""
    started = time.perf_counter()
    trials = []
    for params in GRIDS[name] if grid is None else grid:
        trials.append((params, validation.score(PEERS[name](validation.train, validation.queries, **params))))
    params = max(trials, key=lambda trial: trial[1])[0] if trials else {}
    return Tuned(name, dict(params), trials, time.perf_counter() - started)
