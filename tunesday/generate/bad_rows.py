"""Deliberately broken rows, so that the warehouse's quarantine and duplicate counts can be tested.

Every bad row is an extra row: a copy of a distinct good row with exactly one problem, so its
reason is unambiguous and no good row is lost or changed. Rows that are not exact duplicates get a
fresh key where the key would otherwise collide with their source's. The reason codes are those
of the staging models; the manifest records how many rows of each were injected.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tunesday.generate import ids
from tunesday.generate.config import US_PER_DAY

REASONS: dict[str, tuple[str, ...]] = {
    "listening_events": (
        "duplicate",
        "missing_event_id",
        "missing_user_id",
        "unknown_user_id",
        "missing_track_id",
        "unknown_track_id",
        "missing_played_at",
        "played_at_in_future",
        "played_at_before_launch",
        "negative_ms_played",
        "absurd_ms_played",
    ),
    "tracks": (
        "duplicate",
        "missing_track_id",
        "missing_artist_id",
        "unknown_artist_id",
        "tempo_out_of_range",
        "key_out_of_range",
        "mode_out_of_range",
    ),
    "artists": ("duplicate", "missing_artist_id"),
    "users": ("duplicate", "missing_user_id"),
    "playlists": ("duplicate", "missing_playlist_id", "unknown_owner_user_id"),
    "playlist_tracks": ("duplicate", "missing_track_id", "unknown_playlist_id", "unknown_track_id"),
    "follows": ("duplicate", "unknown_artist_id", "unknown_user_id"),
    "saved_tracks": ("duplicate", "unknown_track_id", "unknown_user_id"),
    "exposures": ("duplicate", "unknown_user_id", "unknown_variant", "missing_exposed_at"),
}
# Below this many good rows a table gets no forced bad row: one would be a large share of it.
MIN_ROWS_FOR_FORCED = 20
# Far outside the window in either direction.
FUTURE_US = int(np.datetime64("2099-01-01", "us").astype(np.int64))
BEFORE_LAUNCH_US = int(np.datetime64("2001-01-01", "us").astype(np.int64))
US_PER_YEAR = 365 * US_PER_DAY

Corrupt = Callable[[pa.Table, np.ndarray], pa.Table]  # (copies of good rows, their row numbers) -> bad rows


@dataclass(frozen=True)
class Reason:
    name: str
    corrupt: Corrupt
    sources: np.ndarray | None = None  # row numbers that may be copied; default: any row


def inject(
    table: pa.Table, reasons: list[Reason], share: float, rng: np.random.Generator, force: bool
) -> tuple[pa.Table, dict[str, int]]:
    """The table with bad rows inserted at random places, and the count per reason.

    Each reason gets share / len(reasons) of the rows in expectation (randomised rounding, so that
    chunks add up to the share); with ``force`` at least one when the table is big enough.
    """
    counts = {reason.name: 0 for reason in reasons}
    n = table.num_rows
    if share <= 0 or n == 0:
        return table, counts
    used = np.zeros(n, dtype=bool)
    pieces = []
    for reason in reasons:
        expected = share * n / len(reasons)
        count = int(expected) + int(rng.random() < expected - int(expected))
        if force and n >= MIN_ROWS_FOR_FORCED:
            count = max(count, 1)
        pool = np.arange(n) if reason.sources is None else reason.sources
        pool = pool[~used[pool]]
        count = min(count, len(pool))
        if count == 0:
            continue
        sources = np.sort(rng.choice(pool, count, replace=False))
        used[sources] = True
        pieces.append(reason.corrupt(table.take(sources), sources))
        counts[reason.name] = count
    if not pieces:
        return table, counts
    bad = pa.concat_tables(pieces)
    # Good row i sorts at 2i + 1, a bad row placed before good row p at 2p.
    sort_key = np.concatenate([2 * np.arange(n) + 1, 2 * rng.integers(0, n + 1, bad.num_rows)])
    return pa.concat_tables([table, bad]).take(np.argsort(sort_key, kind="stable")), counts


# Building blocks for the corrupt functions ------------------------------------------------------


def duplicate(rows: pa.Table, sources: np.ndarray) -> pa.Table:
    return rows


def replace(rows: pa.Table, column: str, values: pa.Array | np.ndarray) -> pa.Table:
    index = rows.schema.get_field_index(column)
    field = rows.schema.field(index)
    return rows.set_column(index, field, pa.array(values, type=field.type))


def null(column: str) -> Corrupt:
    def corrupt(rows, sources):
        return replace(rows, column, pa.nulls(rows.num_rows, rows.schema.field(column).type))

    return corrupt


def with_value(column: str, values: Callable[[int], pa.Array | np.ndarray]) -> Corrupt:
    def corrupt(rows, sources):
        return replace(rows, column, values(rows.num_rows))

    return corrupt


def then(first: Corrupt, second: Corrupt) -> Corrupt:
    def corrupt(rows, sources):
        return second(first(rows, sources), sources)

    return corrupt


class FreshNumbers:
    """Hands out numbers no row uses yet, for the keys of bad rows that are not duplicates."""

    def __init__(self, start: int, limit: int | None = None):
        self.next = start
        self.stop = None if limit is None else start + limit

    def take(self, count: int) -> np.ndarray:
        if self.stop is not None and self.next + count > self.stop:
            raise ValueError("ran out of fresh numbers")
        numbers = np.arange(self.next, self.next + count, dtype=np.int64)
        self.next += count
        return numbers


def fresh_ids(column: str, kind: tuple[str, int], numbers: FreshNumbers) -> Corrupt:
    return with_value(column, lambda n: ids.format_ids(kind, numbers.take(n)))


def unknown_ids(column: str, kind: tuple[str, int], stream: int) -> Corrupt:
    """Ids that exist nowhere; each call of the returned function continues the same range."""
    numbers = FreshNumbers(ids.unknown_base(stream), ids.UNKNOWN_PER_STREAM)
    return with_value(column, lambda n: ids.format_ids(kind, numbers.take(n)))


# The reasons of each table ----------------------------------------------------------------------


def _timestamps_from(base_us: int, rng: np.random.Generator) -> Callable[[int], np.ndarray]:
    return lambda n: base_us + rng.integers(0, US_PER_YEAR, n)


def listening_event_reasons(chunk: int, n_good: int, rng: np.random.Generator) -> list[Reason]:
    new_id = fresh_ids("event_id", ids.EVENT, FreshNumbers(chunk * ids.EVENTS_PER_CHUNK_LIMIT + n_good))
    stream = chunk + 1
    return [
        Reason("duplicate", duplicate),
        Reason("missing_event_id", null("event_id")),
        Reason("missing_user_id", then(new_id, null("user_id"))),
        Reason("unknown_user_id", then(new_id, unknown_ids("user_id", ids.USER, stream))),
        Reason("missing_track_id", then(new_id, null("track_id"))),
        Reason("unknown_track_id", then(new_id, unknown_ids("track_id", ids.TRACK, stream))),
        Reason("missing_played_at", then(new_id, null("played_at"))),
        Reason("played_at_in_future", then(new_id, with_value("played_at", _timestamps_from(FUTURE_US, rng)))),
        Reason(
            "played_at_before_launch", then(new_id, with_value("played_at", _timestamps_from(BEFORE_LAUNCH_US, rng)))
        ),
        Reason("negative_ms_played", then(new_id, with_value("ms_played", lambda n: -rng.integers(1, 300_000, n)))),
        Reason("absurd_ms_played", then(new_id, with_value("ms_played", lambda n: rng.integers(10**9, 2 * 10**9, n)))),
    ]


def _alternate(n: int, first, second) -> np.ndarray:
    """Out-of-range values on both sides of the range."""
    return np.where(np.arange(n) % 2, second, first)


def track_reasons(n_tracks: int) -> list[Reason]:
    """Broken tracks get fresh ids (except duplicates): no play refers to them."""
    new_id = fresh_ids("track_id", ids.TRACK, FreshNumbers(n_tracks))
    return [
        Reason("duplicate", duplicate),
        Reason("missing_track_id", null("track_id")),
        Reason("missing_artist_id", then(new_id, null("artist_id"))),
        Reason("unknown_artist_id", then(new_id, unknown_ids("artist_id", ids.ARTIST, 0))),
        Reason("tempo_out_of_range", then(new_id, with_value("tempo", lambda n: _alternate(n, 400.0, 0.0)))),
        Reason("key_out_of_range", then(new_id, with_value("key", lambda n: _alternate(n, 12, -3)))),
        Reason("mode_out_of_range", then(new_id, with_value("mode", lambda n: np.full(n, 2)))),
    ]


def artist_reasons() -> list[Reason]:
    return [Reason("duplicate", duplicate), Reason("missing_artist_id", null("artist_id"))]


def user_reasons() -> list[Reason]:
    return [Reason("duplicate", duplicate), Reason("missing_user_id", null("user_id"))]


def playlist_reasons(chunk: int, owner_numbers: np.ndarray, first_of_owner: np.ndarray) -> list[Reason]:
    """owner_numbers: the owner's user number per good row; first_of_owner: one row per owner."""

    def spare_playlist_id(rows, sources):
        # The owner's last playlist number is never used by a real playlist.
        numbers = owner_numbers[sources] * ids.PLAYLISTS_PER_USER_LIMIT + ids.PLAYLISTS_PER_USER_LIMIT - 1
        return replace(rows, "playlist_id", ids.format_ids(ids.PLAYLIST, numbers))

    return [
        Reason("duplicate", duplicate),
        Reason("missing_playlist_id", null("playlist_id")),
        Reason(
            "unknown_owner_user_id",
            then(spare_playlist_id, unknown_ids("owner_user_id", ids.USER, chunk + 1)),
            first_of_owner,
        ),
    ]


def playlist_track_reasons(chunk: int, last_items: np.ndarray) -> list[Reason]:
    """last_items: the row of each playlist's last track; a bad item goes after it."""

    def next_position(rows, sources):
        return replace(rows, "position", rows.column("position").to_numpy() + 1)

    return [
        Reason("duplicate", duplicate),
        Reason("missing_track_id", then(next_position, null("track_id")), last_items),
        Reason("unknown_playlist_id", unknown_ids("playlist_id", ids.PLAYLIST, chunk + 1)),
        Reason("unknown_track_id", then(next_position, unknown_ids("track_id", ids.TRACK, chunk + 1)), last_items),
    ]


def follow_reasons(chunk: int) -> list[Reason]:
    return [
        Reason("duplicate", duplicate),
        Reason("unknown_artist_id", unknown_ids("artist_id", ids.ARTIST, chunk + 1)),
        Reason("unknown_user_id", unknown_ids("user_id", ids.USER, chunk + 1)),
    ]


def saved_track_reasons(chunk: int) -> list[Reason]:
    return [
        Reason("duplicate", duplicate),
        Reason("unknown_track_id", unknown_ids("track_id", ids.TRACK, chunk + 1)),
        Reason("unknown_user_id", unknown_ids("user_id", ids.USER, chunk + 1)),
    ]


def exposure_reasons(chunk: int) -> list[Reason]:
    numbers = FreshNumbers(0)
    new_id = with_value("exposure_id", lambda n: [f"gen-bad-{chunk}-{k}" for k in numbers.take(n)])
    return [
        Reason("duplicate", duplicate),
        Reason("unknown_user_id", then(new_id, unknown_ids("user_id", ids.USER, chunk + 1))),
        Reason("unknown_variant", then(new_id, with_value("variant", lambda n: ["no_such_variant"] * n))),
        Reason("missing_exposed_at", then(new_id, null("exposed_at"))),
    ]
