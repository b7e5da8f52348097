"""The RecSys Challenge 2018 metrics, per playlist and averaged, plus recall@500.

Notation: G = the ground truth of a playlist (distinct held-out tracks, no seed among them: the
scorer removes seeds again, so a seed can never be a hit), R = the submitted list (500 distinct
tracks, no seed), R[:n] its first n, positions counted from 1, artist(t) the track's artist.

- `r_precision` (official, the one the final leaderboard used): the first |G| recommendations,
  one point per track in G, plus 0.25 per distinct artist of G matched by a recommendation that
  is not itself in G:
      S_A = {artist(t) : t in R[:|G|], t not in G},  G_A = {artist(g) : g in G}
      R-precision = (|R[:|G|] ∩ G| + 0.25 · |S_A ∩ G_A|) / |G|            (never above 1)
  e.g. G = {a1, a2, b1}, R[:3] = [a1, a3, c1] with a* by artist A: (1 + 0.25 · |{A}|) / 3 = 0.4167.
  A recommended track whose artist is unknown earns no artist credit.
- `r_precision_track`: the same without the artist term, |R[:|G|] ∩ G| / |G| (the challenge's
  original definition; what most papers report as "R-precision").
- `ndcg`: DCG = Σ_{i=1..|R|} rel_i / d(i), with rel_i = 1 if R_i in G else 0 and d(1) = 1,
  d(i) = log2(i) for i ≥ 2 (the challenge's discount: positions 1 and 2 both count fully);
  IDCG = Σ_{i=1..min(|G|, 500)} 1 / d(i), the DCG of |G| hits at the top; NDCG = DCG / IDCG.
  (The cap at 500 only matters when |G| > 500, which an MPD playlist, at most 250 tracks, never has.)
- `clicks` (recommended-songs clicks): pages of 10 refreshed before the first hit,
  floor((i - 1) / 10) for the position i of the first track in G; 51 when R has none.
- `recall_500`: |R[:500] ∩ G| / |G|.
`paired_bootstrap` compares two rankings playlist by playlist (95 % percentile intervals).
All five are track-level except the artist term of `r_precision`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tunesday.recsys.split import GroundTruth

K = 500
ARTIST_CREDIT = 0.25
CLICKS_PAGE = 10
NO_CLICK = 51

#: metric name -> (column title, higher is better)
METRICS = {
    "r_precision": ("R-precision (official, artist 0.25)", True),
    "r_precision_track": ("R-precision (track)", True),
    "ndcg": ("NDCG", True),
    "clicks": ("clicks", False),
    "recall_500": ("recall@500", True),
}


def r_precision_track(recommended: Sequence[str], relevant: set[str]) -> float:
    if not relevant:
        return 0.0
    return sum(track in relevant for track in recommended[: len(relevant)]) / len(relevant)


def r_precision(recommended: Sequence[str], relevant: set[str], track_artists: Mapping[str, str]) -> float:
    if not relevant:
        return 0.0
    top = recommended[: len(relevant)]
    track_hits = sum(track in relevant for track in top)
    relevant_artists = {track_artists[track] for track in relevant if track in track_artists}
    missed_artists = {track_artists[track] for track in top if track not in relevant and track in track_artists}
    return (track_hits + ARTIST_CREDIT * len(missed_artists & relevant_artists)) / len(relevant)


def _discount(position: int) -> float:
    return 1.0 if position == 1 else math.log2(position)


def ndcg(recommended: Sequence[str], relevant: set[str]) -> float:
    if not relevant:
        return 0.0
    dcg = sum(1.0 / _discount(position) for position, track in enumerate(recommended, start=1) if track in relevant)
    ideal = sum(1.0 / _discount(position) for position in range(1, min(len(relevant), K) + 1))
    return dcg / ideal


def clicks(recommended: Sequence[str], relevant: set[str]) -> int:
    for position, track in enumerate(recommended, start=1):
        if track in relevant:
            return (position - 1) // CLICKS_PAGE
    return NO_CLICK


def recall_at(recommended: Sequence[str], relevant: set[str], k: int = K) -> float:
    if not relevant:
        return 0.0
    return sum(track in relevant for track in recommended[:k]) / len(relevant)


def playlist_scores(
    recommended: Sequence[str], relevant: set[str], track_artists: Mapping[str, str]
) -> dict[str, float]:
    return {
        "r_precision": r_precision(recommended, relevant, track_artists),
        "r_precision_track": r_precision_track(recommended, relevant),
        "ndcg": ndcg(recommended, relevant),
        "clicks": clicks(recommended, relevant),
        "recall_500": recall_at(recommended, relevant),
    }


def per_playlist(
    recommendations: Mapping[int, Sequence[str]], truth: GroundTruth, seeds: Mapping[int, Iterable[str]]
) -> dict[int, dict[str, float]]:
    """Every playlist of the ground truth's scores; one without recommendations scores as an empty
    list (0, and 51 clicks). Seeds are taken out of G here too, whatever the ground-truth file says."""
    return {
        pid: playlist_scores(recommendations.get(pid, ()), set(holdouts) - set(seeds.get(pid, ())), truth.track_artists)
        for pid, holdouts in truth.holdouts.items()
    }


def categories(truth: GroundTruth) -> dict[str, list[int]]:
    """The pids of each category ("5 seeds", "25 seeds", ...) and of "all"."""
    grouped: dict[str, list[int]] = defaultdict(list)
    for pid in truth.holdouts:
        grouped[f"{truth.num_samples[pid]} seeds"].append(pid)
    grouped["all"] = [pid for pids in list(grouped.values()) for pid in pids]
    return {category: pids for category, pids in grouped.items() if pids}


def evaluate(
    recommendations: Mapping[int, Sequence[str]], truth: GroundTruth, seeds: Mapping[int, Iterable[str]]
) -> dict[str, dict[str, float]]:
    """Means per category ("5 seeds", "25 seeds", ...) and "all", each with its playlist count `n`
    (per_playlist says how each playlist is scored)."""
    return means(per_playlist(recommendations, truth, seeds), truth)


def means(scores: Mapping[int, Mapping[str, float]], truth: GroundTruth) -> dict[str, dict[str, float]]:
    """evaluate's means, from per_playlist's scores."""
    return {
        category: {
            "n": len(pids),
            **{metric: sum(scores[pid][metric] for pid in pids) / len(pids) for metric in METRICS},
        }
        for category, pids in categories(truth).items()
    }


@dataclass(frozen=True)
class PairedDifference:
    """ours − peer over the same playlists: the mean difference, the relative gain
    (mean ours / mean peer − 1) and their percentile-bootstrap 95 % intervals."""

    mean_difference: float
    difference_ci: tuple[float, float]
    relative_gain: float
    relative_ci: tuple[float, float]


def paired_bootstrap(
    ours: Sequence[float], peer: Sequence[float], resamples: int = 10_000, seed: int = 0
) -> PairedDifference:
    """Resamples the playlists with replacement (the same draw for both rankings: paired)."""
    a, b = np.asarray(ours, dtype=np.float64), np.asarray(peer, dtype=np.float64)
    if a.shape != b.shape or not len(a):
        raise ValueError("a paired bootstrap needs the same, non-empty list of playlists for both rankings")
    draws = np.random.default_rng(seed).integers(0, len(a), size=(resamples, len(a)))
    sum_a, sum_b = a[draws].sum(axis=1), b[draws].sum(axis=1)
    differences = (sum_a - sum_b) / len(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = sum_a / sum_b - 1.0
    low, high = np.percentile(differences, [2.5, 97.5])
    relative_low, relative_high = (
        np.nanpercentile(relative, [2.5, 97.5]) if np.isfinite(relative).any() else (float("nan"), float("nan"))
    )
    return PairedDifference(
        mean_difference=float(a.mean() - b.mean()),
        difference_ci=(float(low), float(high)),
        relative_gain=float(a.mean() / b.mean() - 1.0) if b.mean() else float("nan"),
        relative_ci=(float(relative_low), float(relative_high)),
    )


def markdown_table(
    results: Mapping[str, Mapping[str, Mapping[str, float]]], seconds: Mapping[str, float | None] | None = None
) -> str:
    """One row per ranking and category: results[ranking][category] as from `evaluate`."""
    seconds = seconds or {}
    header = ["ranking", "seeds", "playlists", *(title for title, _ in METRICS.values()), "seconds"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (len(METRICS) + 1)) + "|"]
    for ranking, categories in results.items():
        for category, row in categories.items():
            runtime = seconds.get(ranking)
            cells = [
                ranking,
                category.removesuffix(" seeds"),
                str(row["n"]),
                *(f"{row[metric]:.4f}" if metric != "clicks" else f"{row[metric]:.2f}" for metric in METRICS),
                f"{runtime:.1f}" if runtime is not None else "—",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: What the peers are compared on: track-level, so no ranking gains from artist credit.
COMPARED = ("r_precision_track", "ndcg")


def against_best_peer(
    rankings: Mapping[str, Mapping[int, Mapping[str, float]]],
    peers: Mapping[str, Mapping[int, Mapping[str, float]]],
    truth: GroundTruth,
    resamples: int = 10_000,
    metrics: Sequence[str] = COMPARED,
) -> str:
    """A Markdown table: each ranking against the best peer of each category and metric (the peer
    with the highest mean there), with the paired bootstrap's 95 % intervals. Inputs are
    per_playlist results."""
    header = ["ranking", "seeds", "metric", "ours", "best peer", "peer's", "gain", "gain 95 % CI", "difference 95 % CI"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * 6) + "|"]
    for name, ours in rankings.items():
        for category, pids in categories(truth).items():
            for metric in metrics:
                means = {peer: sum(scores[pid][metric] for pid in pids) / len(pids) for peer, scores in peers.items()}
                best = max(means, key=lambda peer: means[peer])
                compared = paired_bootstrap(
                    [ours[pid][metric] for pid in pids], [peers[best][pid][metric] for pid in pids], resamples
                )
                ours_mean = sum(ours[pid][metric] for pid in pids) / len(pids)
                lines.append(
                    "| "
                    + " | ".join(
                        [
                            name,
                            category.removesuffix(" seeds"),
                            metric,
                            f"{ours_mean:.4f}",
                            best,
                            f"{means[best]:.4f}",
                            f"{compared.relative_gain:+.1%}",
                            f"{compared.relative_ci[0]:+.1%} to {compared.relative_ci[1]:+.1%}",
                            f"{compared.difference_ci[0]:+.4f} to {compared.difference_ci[1]:+.4f}",
                        ]
                    )
                    + " |"
                )
    return "\n".join(lines)
