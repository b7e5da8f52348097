"""Serving snapshots: the day's serving tables exported into one SQLite file built for point lookups,
validated, then published atomically.

Store layout (one directory, `TUNESDAY_SERVING_STORE`, default target/serving):
    snapshots/<snapshot_id>.sqlite          one per export; <snapshot_id> = <run_date>_<UTC export time>
    snapshots/<snapshot_id>.sqlite.partial  an export in progress (or killed): never read
    CURRENT                                 JSON: the published snapshot's id and manifest

Publishing replaces CURRENT with os.replace, which is atomic: a reader sees the old snapshot or
the new one, never a half-written one, even if the export is killed at any point. A snapshot is
published only after it validated (row counts equal to the warehouse's, the serving contracts
hold). The last `keep` snapshots stay on disk for `rollback`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from serving.warehouse import SERVING_TABLES, ExportError, Warehouse

SCHEMA_VERSION = 1
SURFACES = ("discover_weekly", "for_you")

SCHEMA = """
create table manifest (key text primary key, value text not null);
create table listeners (
    user_id text primary key,
    country_code text,
    product_tier text,
    bloom text            -- JSON {"bit_count", "hash_count", "item_count", "words": {index: word}}; null: heard nothing
) without rowid;
create table tracks (
    track_id text primary key,
    doc text not null     -- JSON display fields of the track
) without rowid;
create table surfaces (
    user_id text not null,
    surface text not null,
    items text not null,  -- JSON list, in position order; track fields in tracks
    primary key (user_id, surface)
) without rowid;
create table playlists (
    playlist_id text primary key,
    owner_user_id text not null,
    playlist_name text,
    tracks text not null, -- JSON list of track ids, in playlist order
    pool text not null    -- JSON list of Smart Shuffle recommendations, best first ([] under 15 tracks)
) without rowid;
"""

TRACK_FIELDS = ("track_id", "track_name", "artist_id", "artist_name", "album_name", "duration_ms", "tempo_bpm",
                "camelot_code")


@dataclass(frozen=True)
class Store:
    root: Path

    @property
    def snapshots(self) -> Path:
        return self.root / "snapshots"

    @property
    def current_file(self) -> Path:
        return self.root / "CURRENT"

    def current(self) -> dict | None:
        """The published snapshot's manifest (with its id and path), or None."""
        try:
            manifest = json.loads(self.current_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        manifest["path"] = str(self.snapshots / f"{manifest['snapshot_id']}.sqlite")
        return manifest

    def published(self) -> list[dict]:
        """The manifests of the snapshots on disk, newest first."""
        manifests = []
        for path in sorted(self.snapshots.glob("*.manifest.json"), reverse=True):
            manifests.append(json.loads(path.read_text()))
        return manifests


def _json(value):
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if hasattr(value, "__float__") and not isinstance(value, int | float | bool):
        return float(value)  # Decimal from BigQuery NUMERIC
    return value


class _Tracks:
    """Each track's display fields, written once to the tracks table however often it is listed."""

    def __init__(self) -> None:
        self.docs: dict[str, str] = {}

    def __call__(self, row: dict) -> str:
        track_id = row["track_id"]
        _check(track_id is not None, "a listed track_id is null")
        if track_id not in self.docs:
            self.docs[track_id] = json.dumps({field: _json(row[field]) for field in TRACK_FIELDS})
        return track_id


def _reasons(codes: str | None) -> list[str]:
    return [code for code in (codes or "").split(",") if code]


class _Counter:
    """Counts the rows read from a table and shows progress on long exports."""

    def __init__(self, table: str, progress: Callable[[str], None]) -> None:
        self.table, self.progress, self.rows, self.started = table, progress, 0, time.perf_counter()

    def wrap(self, rows: Iterable[dict]) -> Iterator[dict]:
        for row in rows:
            self.rows += 1
            if self.rows % 100_000 == 0:
                self.progress(f"  {self.table}: {self.rows:,} rows ({self.rows / (time.perf_counter() - self.started):,.0f}/s)")
            yield row


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ExportError(f"contract violated: {message}")


def _write(con: sqlite3.Connection, warehouse: Warehouse, run_date: str,
           progress: Callable[[str], None]) -> dict[str, int]:
    read: dict[str, int] = {}
    track = _Tracks()

    def rows_of(table: str) -> Iterator[dict]:
        counter = _Counter(table, progress)
        yield from counter.wrap(warehouse.rows(table))
        read[table] = counter.rows

    # Listeners, with their Bloom filter.
    listeners = {row["user_id"]: row for row in rows_of("serving_listeners")}
    for row in listeners.values():
        _check(row["user_id"] is not None, "serving_listeners.user_id is null")
        _check(str(_json(row["run_date"])) == run_date,
               f"the warehouse's serving tables are for {_json(row['run_date'])}, not {run_date}")
    filters = {row["user_id"]: row for row in rows_of("serving_bloom_filters")}
    words: dict[str, dict[int, int]] = {}
    for user_id, group in groupby(rows_of("serving_bloom_filter_words"), key=lambda r: r["user_id"]):
        words[user_id] = {int(r["word_index"]): int(r["word"]) for r in group}
    for user_id, row in filters.items():
        _check(user_id in listeners, f"Bloom filter of unknown listener {user_id}")
        _check(row["bit_count"] >= 1 and row["hash_count"] >= 1, f"Bloom filter of {user_id} has no bits")
    con.executemany(
        "insert into listeners values (?, ?, ?, ?)",
        ((user_id, row["country_code"], row["product_tier"],
          json.dumps({"bit_count": filters[user_id]["bit_count"], "hash_count": filters[user_id]["hash_count"],
                      "item_count": filters[user_id]["item_count"], "words": words.get(user_id, {})})
          if user_id in filters else None)
         for user_id, row in listeners.items()))
    if os.environ.get("TUNESDAY_EXPORT_PAUSE_SECONDS"):  # test hook: lets a test kill an export midway
        time.sleep(float(os.environ["TUNESDAY_EXPORT_PAUSE_SECONDS"]))

    # Surfaces: one JSON document per listener and surface.
    def surface_documents() -> Iterator[tuple[str, str, str]]:
        for (user_id, surface), group in groupby(rows_of("serving_recommendations"),
                                                 key=lambda r: (r["user_id"], r["surface"])):
            items = list(group)
            _check(user_id in listeners, f"recommendations for unknown listener {user_id}")
            _check(surface in SURFACES, f"unknown surface {surface!r}")
            _check([r["surface_position"] for r in items] == list(range(1, len(items) + 1)),
                   f"{surface} of {user_id}: positions are not 1..{len(items)}")
            yield user_id, surface, json.dumps([
                {"position": r["surface_position"], "track_id": track(r), "score": _json(r["score"]),
                 "is_new_artist": r["is_new_artist"], "reasons": _reasons(r["reason_codes"]),
                 "seed": {"type": r["seed_type"], "id": r["seed_id"]}}
                for r in items])

    con.executemany("insert into surfaces values (?, ?, ?)", surface_documents())

    # Playlists: their tracks and their Smart Shuffle pool.
    pools: dict[str, list[dict]] = {}
    for playlist_id, group in groupby(rows_of("serving_smart_shuffle_pools"), key=lambda r: r["playlist_id"]):
        pools[playlist_id] = [{"rank": r["pool_rank"], "track_id": track(r), "score": _json(r["score"]),
                               "reasons": _reasons(r["reason_codes"]), "seed_track_id": r["seed_track_id"]}
                              for r in group]

    def playlist_documents() -> Iterator[tuple]:
        for playlist_id, group in groupby(rows_of("serving_playlist_tracks"), key=lambda r: r["playlist_id"]):
            items = list(group)
            _check([r["playlist_position"] for r in items] == list(range(1, len(items) + 1)),
                   f"playlist {playlist_id}: positions are not 1..{len(items)}")
            yield (playlist_id, items[0]["owner_user_id"], items[0]["playlist_name"],
                   json.dumps([track(r) for r in items]),
                   json.dumps(pools.pop(playlist_id, [])))

    con.executemany("insert into playlists values (?, ?, ?, ?, ?)", playlist_documents())
    _check(not pools, f"Smart Shuffle pools of unknown playlists: {sorted(pools)[:3]}")
    con.executemany("insert into tracks values (?, ?)", track.docs.items())
    return read


def _validate(con: sqlite3.Connection, warehouse: Warehouse, read: dict[str, int]) -> dict[str, int]:
    """Row counts: what the warehouse holds = what the export read = what the snapshot holds."""
    in_warehouse = {table: warehouse.count(table) for table in SERVING_TABLES}
    in_snapshot = {
        "serving_listeners": con.execute("select count(*) from listeners").fetchone()[0],
        "serving_recommendations": con.execute("select sum(json_array_length(items)) from surfaces").fetchone()[0] or 0,
        "serving_playlist_tracks": con.execute("select sum(json_array_length(tracks)) from playlists").fetchone()[0] or 0,
        "serving_smart_shuffle_pools": con.execute("select sum(json_array_length(pool)) from playlists").fetchone()[0] or 0,
        "serving_bloom_filters": con.execute("select count(bloom) from listeners").fetchone()[0],
        "serving_bloom_filter_words": sum(
            len(json.loads(bloom)["words"]) for (bloom,) in con.execute("select bloom from listeners where bloom is not null")),
    }
    for table in SERVING_TABLES:
        if not in_warehouse[table] == read.get(table) == in_snapshot[table]:
            raise ExportError(f"{table}: {in_warehouse[table]} rows in the warehouse, {read.get(table)} read, "
                              f"{in_snapshot[table]} in the snapshot")
    if in_warehouse["serving_listeners"] == 0:
        raise ExportError("the warehouse has no listeners: nothing to serve")
    return in_snapshot


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _publish(store: Store, manifest: dict) -> None:
    """Point CURRENT at the snapshot: write a temporary file, fsync it, rename it over CURRENT."""
    temporary = store.root / f"CURRENT.{os.getpid()}.tmp"
    with temporary.open("w") as file:
        json.dump(manifest, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, store.current_file)
    directory = os.open(store.root, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def export(warehouse: Warehouse, store: Store, run_date: str, keep: int = 3,
           progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> dict:
    """Export, validate and publish a snapshot of `run_date`; returns its manifest."""
    started = time.perf_counter()
    store.snapshots.mkdir(parents=True, exist_ok=True)
    for leftover in store.snapshots.glob("*.partial"):  # from a killed export
        leftover.unlink()
    snapshot_id = f"{run_date}_{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%f}Z"
    partial = store.snapshots / f"{snapshot_id}.sqlite.partial"
    final = store.snapshots / f"{snapshot_id}.sqlite"
    try:
        with sqlite3.connect(partial) as con:
            con.executescript("pragma journal_mode = off; pragma synchronous = off;" + SCHEMA)
            progress(f"exporting run_date {run_date} to {final.name}")
            read = _write(con, warehouse, run_date, progress)
            counts = _validate(con, warehouse, read)
            manifest = {"snapshot_id": snapshot_id, "run_date": run_date, "schema_version": SCHEMA_VERSION,
                        "row_counts": counts, "built_at": dt.datetime.now(dt.timezone.utc).isoformat()}
            con.executemany("insert into manifest values (?, ?)",
                            [(key, json.dumps(value)) for key, value in manifest.items()])
        con.close()
        manifest["checksum_sha256"] = _sha256(partial)
        manifest["export_seconds"] = round(time.perf_counter() - started, 3)
        os.replace(partial, final)
        (store.snapshots / f"{snapshot_id}.manifest.json").write_text(json.dumps(manifest, indent=2))
        _publish(store, manifest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    for old in store.published()[keep:]:
        if old["snapshot_id"] != manifest["snapshot_id"]:
            (store.snapshots / f"{old['snapshot_id']}.sqlite").unlink(missing_ok=True)
            (store.snapshots / f"{old['snapshot_id']}.manifest.json").unlink(missing_ok=True)
    progress(f"published {snapshot_id}: {counts} in {manifest['export_seconds']} s")
    return manifest


def verify(store: Store, manifest: dict) -> None:
    """A snapshot on disk is whole: its checksum and schema version are the manifest's."""
    path = store.snapshots / f"{manifest['snapshot_id']}.sqlite"
    if not path.exists():
        raise ExportError(f"snapshot {manifest['snapshot_id']} is not on disk")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise ExportError(f"snapshot {manifest['snapshot_id']} has schema {manifest.get('schema_version')}")
    if _sha256(path) != manifest["checksum_sha256"]:
        raise ExportError(f"snapshot {manifest['snapshot_id']} does not match its checksum")


def rollback(store: Store, snapshot_id: str | None = None) -> dict:
    """Re-publish an older snapshot: the one named, or the one before the current one."""
    current = store.current()
    candidates = [m for m in store.published() if m["snapshot_id"] != (current or {}).get("snapshot_id")]
    if snapshot_id:
        candidates = [m for m in candidates if m["snapshot_id"] == snapshot_id]
    elif current:
        candidates = [m for m in candidates if m["snapshot_id"] < current["snapshot_id"]]
    if not candidates:
        raise ExportError("no older snapshot to roll back to" if not snapshot_id else f"no snapshot {snapshot_id}")
    manifest = candidates[0]
    verify(store, manifest)
    _publish(store, manifest)
    return manifest
