"""Listeners' playlists, built from their taste before the window's listening is simulated.

Each playlist is centred on one of the owner's taste clusters: mostly tracks of that cluster
(popularity-weighted, flattened so that a playlist is not just the top ten), some of the owner's
favourite tracks and a few from the cluster's genre. Playlist sessions then play these tracks, so
a playlist-context play only ever plays a track that was on the playlist at the time.
"""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tunesday.contract import RECORDS
from tunesday.generate import ids, profiles
from tunesday.generate.catalog import Catalog
from tunesday.generate.config import US_PER_DAY, US_PER_SECOND, GeneratorConfig
from tunesday.generate.listeners import Listeners
from tunesday.generate.sampling import (
    choose,
    exclusive_cumsum_in_segments,
    first_occurrences,
    offsets_from_counts,
    rank_in_segment,
    uniform_between,
)

MAX_PLAYLISTS = 6
MIN_TRACKS = 10


@dataclass
class Playlists:
    owner: np.ndarray  # local listener index, sorted
    by_owner_offsets: np.ndarray  # CSR: the playlists of each listener
    numbers: np.ndarray  # global playlist numbers
    names: pa.Array
    created_us: np.ndarray
    is_public: np.ndarray
    item_offsets: np.ndarray  # CSR: the items of each playlist, by position
    item_track: np.ndarray
    item_added_us: np.ndarray

    @property
    def first_added_us(self) -> np.ndarray:
        """When each playlist got its first track; before that it cannot be played."""
        return self.item_added_us[self.item_offsets[:-1]]


def build_playlists(cat: Catalog, config: GeneratorConfig, lis: Listeners, rng: np.random.Generator) -> Playlists:
    count = np.minimum(rng.poisson(0.4 + 0.9 * np.minimum(lis.activity, 4)), MAX_PLAYLISTS)
    owner = np.repeat(np.arange(lis.n), count)
    n = len(owner)
    numbers = lis.numbers[owner] * ids.PLAYLISTS_PER_USER_LIMIT + rank_in_segment(owner)
    centre = lis.taste_cluster[lis.taste.sample(owner, rng.random(n))]
    size = np.clip(np.round(rng.lognormal(np.log(24), 0.55, n)), 10, 80).astype(np.int64)

    item_playlist, item_track = _items(cat, lis, rng, owner, centre, size)
    created_us = _created_at(config, lis, rng, owner)
    added_us = _added_at(cat, config, rng, item_playlist, item_track, created_us)
    order = np.lexsort((added_us, item_playlist))
    return Playlists(
        owner=owner,
        by_owner_offsets=offsets_from_counts(count),
        numbers=numbers,
        names=_names(cat, rng, centre),
        created_us=created_us,
        is_public=rng.random(n) < 0.35,
        item_offsets=offsets_from_counts(np.bincount(item_playlist, minlength=n)),
        item_track=item_track[order],
        item_added_us=added_us[order],
    )


def _items(cat, lis, rng, owner, centre, size):
    """Candidate tracks per playlist, deduplicated, cut to the playlist's size."""
    draws = 3 * size + 20
    playlist = np.repeat(np.arange(len(owner)), draws)
    m = len(playlist)
    source = rng.random(m)
    track = cat.playlist_by_cluster.sample(centre[playlist], rng.random(m))
    from_favourites = (source >= 0.65) & (source < 0.85)
    track[from_favourites] = lis.favourite_track[
        lis.initial_favourite_tracks.sample(owner[playlist[from_favourites]], rng.random(int(from_favourites.sum())))
    ]
    from_genre = source >= 0.85
    per_genre = cat.n_clusters // len(profiles.GENRES)
    sibling = cat.cluster_genre[centre[playlist[from_genre]]] * per_genre + rng.integers(
        0, per_genre, int(from_genre.sum())
    )
    track[from_genre] = cat.playlist_by_cluster.sample(sibling, rng.random(len(sibling)))

    keep = first_occurrences(playlist * cat.n_tracks + track)
    playlist, track = playlist[keep], track[keep]
    keep = rank_in_segment(playlist) < size[playlist]
    return _fill_short(cat, rng, playlist[keep], track[keep], centre)


def _fill_short(cat, rng, playlist, track, centre):
    """Top up the rare playlist of a tiny scene to MIN_TRACKS with other tracks of its genre."""
    count = np.bincount(playlist, minlength=len(centre))
    per_genre = cat.n_clusters // len(profiles.GENRES)
    extra_playlist, extra_track = [], []
    for short in np.flatnonzero(count < MIN_TRACKS):
        first_cluster = cat.cluster_genre[centre[short]] * per_genre
        genre_tracks = np.arange(cat.by_cluster.start[first_cluster], cat.by_cluster.end[first_cluster + per_genre - 1])
        fresh = rng.permutation(np.setdiff1d(genre_tracks, track[playlist == short]))
        extra_track.append(fresh[: MIN_TRACKS - count[short]])
        extra_playlist.append(np.full(len(extra_track[-1]), short))
    if not extra_track:
        return playlist, track
    playlist = np.concatenate([playlist, *extra_playlist])
    order = np.argsort(playlist, kind="stable")
    return playlist[order], np.concatenate([track, *extra_track])[order]


def _created_at(config, lis, rng, owner) -> np.ndarray:
    """Most playlists of earlier listeners predate the window; the rest are made during it."""
    start, end = config.window_start_us, config.window_end_us
    signup_us = start + lis.signup_day[owner] * US_PER_DAY
    old = (lis.signup_day[owner] < 0) & (rng.random(len(owner)) < 0.75)
    before = uniform_between(rng, np.maximum(signup_us, start - 3 * 365 * US_PER_DAY), start)
    during = uniform_between(rng, np.maximum(signup_us, start), end - 3600 * US_PER_SECOND)
    return np.where(old, before, during)


def _added_at(cat, config, rng, item_playlist, item_track, created_us) -> np.ndarray:
    """A playlist's first tracks come minutes apart at creation, some are added later; never
    before the track's release nor after the window end."""
    end = config.window_end_us
    n = len(item_track)
    gaps = (rng.exponential(90, n) * US_PER_SECOND).astype(np.int64)
    added = created_us[item_playlist] + exclusive_cumsum_in_segments(gaps, item_playlist)
    later = (rng.random(n) < 0.15) & (rank_in_segment(item_playlist) > 0)
    added[later] = uniform_between(rng, created_us[item_playlist[later]], end)
    release_us = config.window_start_us + cat.track_release_day[item_track] * US_PER_DAY
    early = added < release_us
    room = np.minimum(2 * US_PER_DAY, end - US_PER_SECOND - release_us[early])
    added[early] = release_us[early] + (rng.random(int(early.sum())) * room).astype(np.int64)
    return np.minimum(added, end - US_PER_SECOND)


def _names(cat, rng, centre) -> pa.Array:
    n = len(centre)
    genre = cat.cluster_genre[centre]
    energetic = cat.cluster_energy[centre] >= 0.6
    kind = choose(rng, np.array([0.45, 0.3, 0.25]), n)
    pick = rng.integers(0, 1000, n)
    names = []
    for i in range(n):
        if kind[i] == 0:
            template = profiles.GENRE_PLAYLIST_TEMPLATES[pick[i] % len(profiles.GENRE_PLAYLIST_TEMPLATES)]
            name = template.format(profiles.GENRE_NAMES[genre[i]])
            name = name[0].upper() + name[1:]
        elif kind[i] == 1:
            moods = profiles.ENERGETIC_PLAYLIST_NAMES if energetic[i] else profiles.CALM_PLAYLIST_NAMES
            name = moods[pick[i] % len(moods)]
        else:
            name = profiles.GENERIC_PLAYLIST_NAMES[pick[i] % len(profiles.GENERIC_PLAYLIST_NAMES)]
        names.append(name)
    return pa.array(names, type=pa.string())


def playlist_tables(cat: Catalog, pls: Playlists, user_ids: pa.Array) -> tuple[pa.Table, pa.Table]:
    playlist_ids = ids.format_ids(ids.PLAYLIST, pls.numbers)
    playlists = pa.Table.from_arrays(
        [
            playlist_ids,
            user_ids.take(pls.owner),
            pls.names,
            pa.array(pls.created_us, type=pa.timestamp("us")),
            pa.array(pls.is_public),
        ],
        schema=RECORDS["playlists"],
    )
    item_playlist = np.repeat(np.arange(len(pls.numbers)), np.diff(pls.item_offsets))
    items = pa.Table.from_arrays(
        [
            playlist_ids.take(item_playlist),
            pa.array(rank_in_segment(item_playlist)),
            cat.track_ids.take(pls.item_track),
            pa.array(pls.item_added_us, type=pa.timestamp("us")),
        ],
        schema=RECORDS["playlist_tracks"],
    )
    return playlists, items
