"""One chunk of listeners, end to end: who they are, what they play, what they follow, save and
put on playlists, what the serving shim showed them in experiments; then bad rows; then one part
file per table."""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tunesday.contract import stamped
from tunesday.experiments import read_experiments
from tunesday.generate import bad_rows, ids
from tunesday.generate.catalog import Catalog
from tunesday.generate.config import GeneratorConfig
from tunesday.generate.exposures import simulate_experiments
from tunesday.generate.library import build_follows, build_saves, link_table
from tunesday.generate.listeners import build_listeners, listener_tables
from tunesday.generate.listening import ListeningSimulator, event_table
from tunesday.generate.playlists import build_playlists, playlist_tables
from tunesday.generate.writer import RAW, TRUTH, write_part

# Streams of the root SeedSequence: (CATALOG,), (CATALOG_BAD_ROWS,), (CHUNKS, chunk, DATA | BAD_ROWS).
# Bad rows draw from their own streams so that --bad-share never changes the good rows.
CATALOG, CATALOG_BAD_ROWS, CHUNKS = range(3)
DATA, BAD_ROWS, EXPERIMENTS = range(3)


def stream_rng(seed: int, *key: int) -> np.random.Generator:
    """The generator of one independent stream, the same whatever else is generated.

    SeedSequence(seed, spawn_key=(2, c, 0)) is SeedSequence(seed).spawn(3)[2].spawn(n)[c].spawn(2)[0]
    for any n > c: chunk c gets the same child however many chunks there are and whichever
    process generates it.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


@dataclass
class PartCounts:
    """What one part (a chunk, or the catalogue) wrote."""

    rows: dict[str, int]
    bad_rows: dict[str, dict[str, int]]
    truth_rows: dict[str, int]


def run_chunk(cat: Catalog, config: GeneratorConfig, chunk: int) -> PartCounts:
    rng = stream_rng(config.seed, CHUNKS, chunk, DATA)
    numbers = np.array(config.chunk_users_range(chunk), dtype=np.int64)
    lis = build_listeners(cat, config, numbers, rng)
    pls = build_playlists(cat, config, lis, rng)
    events = ListeningSimulator(cat, config, lis, pls, rng).run()
    user_ids = ids.format_ids(ids.USER, lis.numbers)
    # Its own stream: without an effect or lost exposures, the data are what they would be without it.
    exposures, events = simulate_experiments(
        config, list(read_experiments().values()), user_ids, events, stream_rng(config.seed, CHUNKS, chunk, EXPERIMENTS)
    )
    follows = build_follows(cat, config, lis, events, rng)
    saves = build_saves(cat, config, lis, events, rng)

    users, truth = listener_tables(cat, config, lis, user_ids)
    playlists, playlist_tracks = playlist_tables(cat, pls, user_ids)
    tables = {
        "listening_events": event_table(cat, lis, pls, events, user_ids, chunk),
        "users": users,
        "playlists": playlists,
        "playlist_tracks": playlist_tracks,
        "follows": link_table("follows", user_ids, cat.artist_ids, follows),
        "saved_tracks": link_table("saved_tracks", user_ids, cat.track_ids, saves),
        "exposures": exposures,
    }
    bad_rng = stream_rng(config.seed, CHUNKS, chunk, BAD_ROWS)
    has_playlists = np.diff(pls.by_owner_offsets) > 0
    reasons = {
        "listening_events": bad_rows.listening_event_reasons(chunk, len(events), bad_rng),
        "users": bad_rows.user_reasons(),
        "playlists": bad_rows.playlist_reasons(chunk, lis.numbers[pls.owner], pls.by_owner_offsets[:-1][has_playlists]),
        "playlist_tracks": bad_rows.playlist_track_reasons(chunk, pls.item_offsets[1:] - 1),
        "follows": bad_rows.follow_reasons(chunk),
        "saved_tracks": bad_rows.saved_track_reasons(chunk),
        "exposures": bad_rows.exposure_reasons(chunk),
    }
    return write_tables(config, chunk, tables, reasons, truth, bad_rng, force=chunk == 0)


def write_tables(
    config: GeneratorConfig,
    part: int,
    tables: dict[str, pa.Table],
    reasons: dict[str, list],
    truth: dict[str, pa.Table],
    rng: np.random.Generator,
    force: bool,
) -> PartCounts:
    """Inject the bad rows, stamp the raw tables as loaded at config.loaded_at, write the part."""
    counts = PartCounts(rows={}, bad_rows={}, truth_rows={})
    for name, table in tables.items():
        if [r.name for r in reasons[name]] != list(bad_rows.REASONS[name]):
            raise AssertionError(f"bad-row reasons of {name} out of step with bad_rows.REASONS")
        table, counts.bad_rows[name] = bad_rows.inject(table, reasons[name], config.bad_share, rng, force)
        write_part(config.out, RAW, name, part, stamped(name, table, config.loaded_time))
        counts.rows[name] = table.num_rows
    for name, table in truth.items():
        write_part(config.out, TRUTH, name, part, table)
        counts.truth_rows[name] = table.num_rows
    return counts
