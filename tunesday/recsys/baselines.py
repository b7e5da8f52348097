"""Two baselines for playlist continuation, and the list finishing every ranking needs.

- popularity: the tracks in the most training playlists (a track repeated inside one playlist
  counts once), ties by track URI.
- cooccurrence (plain item-item co-occurrence, no normalisation): c(s, t) = number of training
  playlists holding both s and t; score(t) = Σ over the distinct seeds s of c(s, t). Seeds that
  are not in training add nothing. Ties by popularity, then by track URI; tracks that co-occur
  with no seed follow in popularity order (the fill).
Computed without the item-item matrix: with w_p = number of distinct seeds in training playlist
p, Σ_s c(s, t) = Σ_p w_p · [t in p], so a playlist costs one pass over the training playlists
that hold a seed (numpy bincounts over a CSR layout).

`finish` turns any ranking into a valid submission line: duplicates and seeds dropped, cut to k,
filled from the popularity order when shorter.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from tunesday.mpd import Playlist
from tunesday.recsys.submission import TRACKS_PER_PLAYLIST


@dataclass(frozen=True)
class TrainingIndex:
    uris: list[str]  # track id -> URI; ids are in URI order, so id order breaks ties
    ids: dict[str, int]
    playlist_start: np.ndarray  # CSR: the distinct track ids of playlist p are
    playlist_tracks: np.ndarray  #   playlist_tracks[playlist_start[p]:playlist_start[p + 1]]
    track_start: np.ndarray  # CSR the other way: the playlists holding track t
    track_playlists: np.ndarray
    popularity: np.ndarray  # playlists holding each track
    popular: list[str]  # every track URI, most popular first, ties by URI


def build_index(playlists: Iterable[Playlist]) -> TrainingIndex:
    distinct = [sorted(set(playlist.track_uris)) for playlist in playlists]
    uris = sorted({uri for tracks in distinct for uri in tracks})
    ids = {uri: track_id for track_id, uri in enumerate(uris)}
    lengths = np.array([len(tracks) for tracks in distinct], dtype=np.int64)
    playlist_start = np.concatenate([[0], np.cumsum(lengths)])
    playlist_tracks = np.fromiter(
        (ids[uri] for tracks in distinct for uri in tracks), dtype=np.int64, count=int(lengths.sum())
    )
    owners = np.repeat(np.arange(len(distinct), dtype=np.int64), lengths)
    by_track = np.argsort(playlist_tracks, kind="stable")
    popularity = np.bincount(playlist_tracks, minlength=len(uris))
    track_start = np.concatenate([[0], np.cumsum(popularity)])
    popular_order = np.lexsort((np.arange(len(uris)), -popularity))
    return TrainingIndex(
        uris=uris,
        ids=ids,
        playlist_start=playlist_start,
        playlist_tracks=playlist_tracks,
        track_start=track_start,
        track_playlists=owners[by_track],
        popularity=popularity,
        popular=[uris[track_id] for track_id in popular_order],
    )


def finish(
    ranked: Iterable[str], seeds: Iterable[str], fallback: Sequence[str], k: int = TRACKS_PER_PLAYLIST
) -> list[str]:
    """The first k distinct tracks of `ranked` that are not seeds, then of `fallback`."""
    excluded = set(seeds)
    chosen: list[str] = []
    for uri in itertools.chain(ranked, fallback):
        if uri not in excluded:
            excluded.add(uri)
            chosen.append(uri)
            if len(chosen) == k:
                return chosen
    raise ValueError(
        f"only {len(chosen)} tracks besides the seeds to recommend, a submission needs {k}: "
        "the training playlists hold too few distinct tracks"
    )


def popularity(
    index: TrainingIndex, challenge: Sequence[Playlist], k: int = TRACKS_PER_PLAYLIST
) -> dict[int, list[str]]:
    return {playlist.pid: finish((), playlist.track_uris, index.popular, k) for playlist in challenge}


def cooccurrence_scores(index: TrainingIndex, seeds: Iterable[str]) -> np.ndarray:
    """Σ over the distinct seeds of c(seed, t), for every track id t."""
    seed_ids = sorted({index.ids[uri] for uri in seeds if uri in index.ids})
    holding = [index.track_playlists[index.track_start[s] : index.track_start[s + 1]] for s in seed_ids]
    weights = (
        np.bincount(np.concatenate(holding), minlength=len(index.playlist_start) - 1)
        if holding
        else np.zeros(len(index.playlist_start) - 1, dtype=np.int64)
    )
    playlists = np.flatnonzero(weights)
    starts, ends = index.playlist_start[playlists], index.playlist_start[playlists + 1]
    lengths = ends - starts
    # positions of every track of those playlists in playlist_tracks, without a Python loop
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    tracks = index.playlist_tracks[np.repeat(starts, lengths) + offsets]
    return np.bincount(tracks, weights=np.repeat(weights[playlists], lengths), minlength=len(index.uris))


def cooccurrence(
    index: TrainingIndex, challenge: Sequence[Playlist], k: int = TRACKS_PER_PLAYLIST
) -> dict[int, list[str]]:
    recommendations = {}
    for playlist in challenge:
        scores = cooccurrence_scores(index, playlist.track_uris)
        candidates = np.flatnonzero(scores)
        ranked = candidates[np.lexsort((candidates, -index.popularity[candidates], -scores[candidates]))]
        recommendations[playlist.pid] = finish(_uris(index, ranked), playlist.track_uris, index.popular, k)
    return recommendations


def _uris(index: TrainingIndex, track_ids: np.ndarray) -> Iterator[str]:
    return (index.uris[track_id] for track_id in track_ids.tolist())


BASELINES = {"popularity": popularity, "cooccurrence": cooccurrence}
