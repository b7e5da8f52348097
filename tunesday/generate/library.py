"""Follows and saved tracks of one chunk, derived from its plays.

A listener follows an artist some time after their k-th play of it, and saves a track during
their k-th full play of it (k and the odds vary per listener). Long-standing favourites may have
been followed or saved before the window; a few follows and saves are of things never streamed.
"""

import numpy as np
import pyarrow as pa

from tunesday.contract import RECORDS
from tunesday.generate.catalog import Catalog
from tunesday.generate.config import US_PER_DAY, US_PER_MS, GeneratorConfig
from tunesday.generate.listeners import Listeners
from tunesday.generate.listening import Events
from tunesday.generate.sampling import first_occurrences, rank_in_segment, uniform_between

US_PER_MINUTE = 60_000_000
PRE_WINDOW_SPAN_US = 2 * 365 * US_PER_DAY

Links = tuple[np.ndarray, np.ndarray, np.ndarray]  # (listener, artist or track, timestamp in µs)


def build_follows(cat: Catalog, config: GeneratorConfig, lis: Listeners, ev: Events, rng: np.random.Generator) -> Links:
    """The chunk's follows, unique per listener and artist."""
    threshold = rng.integers(3, 9, lis.n)
    user, artist, at, _ = _kth_play(
        ev.user, cat.track_artist[ev.track], ev.played_at_us, ev.ms_played, threshold, cat.n_artists
    )
    chosen = rng.random(len(user)) < 0.5
    user, artist = user[chosen], artist[chosen]
    at = at[chosen] + US_PER_MINUTE + (rng.exponential(0.5, len(user)) * US_PER_DAY).astype(np.int64)
    in_window = at < config.window_end_us

    signup_us = _signup_us(config, lis)
    fav_user = np.repeat(np.arange(lis.n), np.diff(lis.favourite_offsets))
    old = (lis.favourite_from_day <= 0) & (lis.signup_day[fav_user] < 0) & (rng.random(len(fav_user)) < 0.5)
    old_at = _before_window(config, rng, signup_us[fav_user[old]])

    random_user = np.repeat(np.arange(lis.n), rng.poisson(0.3, lis.n))
    random_artist = cat.any_artist.sample(np.zeros(len(random_user), np.int64), rng.random(len(random_user)))
    random_at = _during_window(config, rng, signup_us[random_user])
    return _unique_earliest(
        np.concatenate([user[in_window], fav_user[old], random_user]),
        np.concatenate([artist[in_window], lis.favourite_artist[old], random_artist]),
        np.concatenate([at[in_window], old_at, random_at]),
        cat.n_artists,
    )


def build_saves(cat: Catalog, config: GeneratorConfig, lis: Listeners, ev: Events, rng: np.random.Generator) -> Links:
    """The chunk's saved tracks, unique per listener and track; saved while playing."""
    full = ~ev.skipped
    threshold = rng.integers(2, 5, lis.n)
    user, track, at, ms = _kth_play(
        ev.user[full], ev.track[full], ev.played_at_us[full], ev.ms_played[full], threshold, cat.n_tracks
    )
    chosen = rng.random(len(user)) < 0.45
    user, track = user[chosen], track[chosen]
    at = at[chosen] + (rng.uniform(0.1, 1.0, len(user)) * ms[chosen] * US_PER_MS).astype(np.int64)
    in_window = at < config.window_end_us

    signup_us = _signup_us(config, lis)
    owner = np.repeat(np.arange(lis.n), np.diff(lis.favourite_track_offsets))
    release_us = config.window_start_us + cat.track_release_day[lis.favourite_track] * US_PER_DAY
    old = (
        (lis.favourite_track_from_day <= 0)
        & (lis.signup_day[owner] < 0)
        & (release_us < config.window_start_us)
        & (rng.random(len(owner)) < 0.5)
    )
    old_at = _before_window(config, rng, np.maximum(signup_us[owner[old]], release_us[old]))

    random_user = np.repeat(np.arange(lis.n), rng.poisson(0.5, lis.n))
    random_track = cat.any_back_catalog_track.sample(np.zeros(len(random_user), np.int64), rng.random(len(random_user)))
    random_at = _during_window(config, rng, signup_us[random_user])
    return _unique_earliest(
        np.concatenate([user[in_window], owner[old], random_user]),
        np.concatenate([track[in_window], lis.favourite_track[old], random_track]),
        np.concatenate([at[in_window], old_at, random_at]),
        cat.n_tracks,
    )


def _kth_play(user, item, played_at_us, ms_played, threshold, n_items):
    """For each (listener, item) played at least threshold[listener] times: the threshold-th play."""
    key = user * n_items + item
    order = np.lexsort((played_at_us, key))
    rank = rank_in_segment(key[order])
    hit = order[rank == threshold[user[order]] - 1]
    return user[hit], item[hit], played_at_us[hit], ms_played[hit]


def _signup_us(config: GeneratorConfig, lis: Listeners) -> np.ndarray:
    return config.window_start_us + lis.signup_day * US_PER_DAY


def _before_window(config, rng, earliest_us) -> np.ndarray:
    """A time between the earliest moment (or two years back, if later) and the window start."""
    start = config.window_start_us
    return uniform_between(rng, np.maximum(earliest_us, start - PRE_WINDOW_SPAN_US), start)


def _during_window(config, rng, signup_us) -> np.ndarray:
    return uniform_between(rng, np.maximum(signup_us, config.window_start_us), config.window_end_us)


def _unique_earliest(user, item, at, n_items) -> Links:
    """One row per (listener, item): the earliest; sorted by listener and time."""
    order = np.lexsort((at, user * n_items + item))
    keep = order[first_occurrences((user * n_items + item)[order])]
    keep = keep[np.lexsort((at[keep], user[keep]))]
    return user[keep], item[keep], at[keep]


def link_table(name: str, user_ids: pa.Array, item_ids: pa.Array, links: Links) -> pa.Table:
    """follows or saved_tracks rows from (listener, item, time) triples."""
    user, item, at = links
    columns = [user_ids.take(user), item_ids.take(item), pa.array(at, type=pa.timestamp("us"))]
    return pa.Table.from_arrays(columns, schema=RECORDS[name])
