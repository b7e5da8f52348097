"""Serving snapshots: the day's serving tables exported into one SQLite file built for point lookups,
validated, then published atomically.

The store's layout is in serving/store.py.

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from serving import documents
from serving.documents import SCHEMA_VERSION
from serving.store import Store
from serving.warehouse import SERVING_TABLES, ExportError, Warehouse


def _stage(progress: Callable[[str], None], name: str, rows: Iterable[tuple]) -> Iterator[tuple]:
    """Passes rows through, showing progress every 50,000 and the total."""
    started, count = time.perf_counter(), 0
    for count, row in enumerate(rows, start=1):
        if count % 50_000 == 0:
            progress(f"  {name}: {count:,} ({count / (time.perf_counter() - started):,.0f}/s)")
        yield row
    progress(f"  {name}: {count:,} in {time.perf_counter() - started:.1f} s")


def _check_items(what: str, count: int, positions_ok: bool, track_ids: str, items: bytes | None) -> None:
    """Positions 1..n, each once; one track id (and one rendered item) per row read."""
    if not positions_ok:
        raise ExportError(f"contract violated: the positions of {what} are not 1..{count}")
    if (track_ids.count("\n") + 1 if track_ids else 0) != count or (
            items is not None and (items.count(b"\n") + 1 if items else 0) != count):
        raise ExportError(f"contract violated: {what} has {count} rows but not as many rendered items")


def _execute(relations, sql: str):
    """A cursor holding the query's whole result (DuckDB materialises it while the GIL is free)."""
    cursor = relations.cursor()
    try:
        return cursor.execute(sql)
    except BaseException:
        cursor.close()
        raise


def _rows(cursor, batch: int = 4096) -> Iterator[tuple]:
    """The result in batches: only a batch at a time is made into Python objects."""
    try:
        while rows := cursor.fetchmany(batch):
            yield from rows
    finally:
        cursor.close()


def _write(con: sqlite3.Connection, warehouse: Warehouse, run_date: str,
           progress: Callable[[str], None]) -> dict[str, int]:
    """Render the documents (documents.py) into the snapshot; returns the rows read of each table.

    DuckDB renders the next table's documents (in a thread: it releases the GIL) while this one's
    are written to SQLite."""
    read = dict.fromkeys(SERVING_TABLES, 0)

    def listeners(rows: Iterable[tuple]) -> Iterator[tuple]:
        for user_id, country, tier, item_count, bit_count, hash_count, indexes, words in rows:
            read["serving_listeners"] += 1
            bits = None
            if bit_count is not None:
                read["serving_bloom_filters"] += 1
                read["serving_bloom_filter_words"] += len(indexes or [])
                try:
                    bits = documents.bloom_bits(bit_count, indexes, words)
                except IndexError as error:
                    raise ExportError(f"contract violated: Bloom filter of {user_id}: {error}") from error
            yield user_id, country, tier, item_count, bit_count, hash_count, bits

    fields: dict[str, bytes] = {}
    bloom_hashes: dict[str, bytes] = {}

    def tracks(rows: Iterable[tuple]) -> Iterator[tuple]:
        for track_id, track_fields, track_hashes in rows:
            fields[track_id] = track_fields
            bloom_hashes[track_id] = track_hashes
            yield track_id, track_fields

    def surface_items(rows: Iterable[tuple]) -> Iterator[tuple]:
        for user_id, surface, count, positions_ok, track_ids, items in rows:
            _check_items(f"{user_id}'s {surface}", count, positions_ok, track_ids, items)
            read["serving_recommendations"] += count
            yield user_id, surface, track_ids, items

    def whole_surfaces(rows: Iterable[tuple]) -> Iterator[tuple]:
        for user_id, surface, track_ids, items in surface_items(rows):
            yield user_id, surface, *documents.surface_document(user_id, surface, run_date, track_ids, items, fields)

    def playlists(rows: Iterable[tuple]) -> Iterator[tuple]:
        for *row, track_count, pool_count, positions_ok in rows:
            playlist_id, _, _, track_ids, pool_track_ids, pool_items = row
            _check_items(f"playlist {playlist_id}", track_count, positions_ok, track_ids, None)
            _check_items(f"the pool of playlist {playlist_id}", pool_count, True, pool_track_ids, pool_items)
            read["serving_playlist_tracks"] += track_count
            read["serving_smart_shuffle_pools"] += pool_count
            yield *row, b"".join(map(bloom_hashes.__getitem__, documents.split_lines(pool_track_ids)))

    stages = [("listeners", documents.LISTENERS, listeners, "insert into listeners values (?, ?, ?, ?, ?, ?, ?)"),
              ("tracks", documents.TRACKS, tracks, "insert into tracks values (?, ?)"),
              *[(surface, documents.surface_query(surface), whole_surfaces, "insert into surfaces values (?, ?, ?, ?)")
                for surface in documents.WHOLE_SURFACES],
              *[(surface, documents.surface_query(surface), surface_items,
                 "insert into surface_parts values (?, ?, ?, ?)") for surface in documents.PART_SURFACES],
              ("playlists", documents.PLAYLISTS, playlists, "insert into playlists values (?, ?, ?, ?, ?, ?, ?)")]
    started = time.perf_counter()
    relations = warehouse.relations()
    # One stage renders ahead: two would overlap more but hold two results at once, and on a VM
    # the extra memory costs more in page faults than the overlap wins.
    with ThreadPoolExecutor(max_workers=1) as renderer:
        rendering = renderer.submit(_execute, relations, stages[0][1])
        try:
            for violation, sql in documents.CHECKS:
                [(count,)] = relations.execute(sql).fetchall()
                if count:
                    raise ExportError(f"contract violated: {violation} ({count} rows)")
            run_dates = [row[0] for row in relations.execute(documents.RUN_DATES).fetchall()]
            if run_dates != [run_date]:
                raise ExportError(f"the warehouse's serving tables are for "
                                  f"{', '.join(map(str, run_dates)) or 'no day'}, not {run_date}")
            progress(f"  contracts checked in {time.perf_counter() - started:.1f} s")
            for number, (name, _, rows_of, insert) in enumerate(stages):
                waited = time.perf_counter()
                rows = _rows(rendering.result())
                rendering = renderer.submit(_execute, relations, stages[number + 1][1]) if number + 1 < len(stages) \
                    else None
                progress(f"  {name}: rendered ({time.perf_counter() - waited:.1f} s waited for DuckDB)")
                try:
                    con.executemany(insert, _stage(progress, name, rows_of(rows)))
                except sqlite3.IntegrityError as error:
                    raise ExportError(f"contract violated: {name}: {error} (a track's display fields differ "
                                      "between the serving tables?)") from error
                if name == "listeners" and os.environ.get("TUNESDAY_EXPORT_PAUSE_SECONDS"):
                    time.sleep(float(os.environ["TUNESDAY_EXPORT_PAUSE_SECONDS"]))  # test hook: kill midway
        finally:
            if rendering is not None and not rendering.cancel() and rendering.exception() is None:
                rendering.result().close()
    return read


def _lines(con: sqlite3.Connection, column: str, table: str) -> int:
    """Lines in a newline-separated column, summed over the table ('' holds none)."""
    text = f"cast({column} as text)"
    sql = (f"select coalesce(sum(length({text}) - length(replace({text}, char(10), '')) + 1), 0) "
           f"from {table} where length({column}) > 0")
    return con.execute(sql).fetchone()[0]


def _validate(con: sqlite3.Connection, warehouse: Warehouse, read: dict[str, int]) -> dict[str, int]:
    """Row counts: what the warehouse holds = what the export read = what the snapshot holds."""
    in_warehouse = {table: warehouse.count(table) for table in SERVING_TABLES}
    word_count = 0
    for (bits,) in con.execute("select bloom_bits from listeners where bloom_bits is not null"):
        word_count += len(bits) // 8 - memoryview(bits).cast("Q").tolist().count(0)
    in_snapshot = {
        "serving_listeners": con.execute("select count(*) from listeners").fetchone()[0],
        "serving_recommendations": con.execute(
            "select coalesce(sum(length(item_ends) / 4 - 1), 0) from surfaces").fetchone()[0]
        + _lines(con, "track_ids", "surface_parts"),
        "serving_playlist_tracks": _lines(con, "track_ids", "playlists"),
        "serving_smart_shuffle_pools": _lines(con, "pool_track_ids", "playlists"),
        "serving_bloom_filters": con.execute("select count(bloom_bits) from listeners").fetchone()[0],
        "serving_bloom_filter_words": word_count,
    }
    # Rendered documents are valid JSON: a sample of them, parsed, list what item_ends say.
    sample = """
        select surfaces.* from (select user_id from listeners order by random() limit 100) as sampled
        join surfaces on surfaces.user_id = sampled.user_id
    """
    for user_id, surface, body, item_ends in con.execute(sample):
        try:
            document = json.loads(body)
        except ValueError as error:
            raise ExportError(f"the {surface} document of {user_id} is not valid JSON: {error}") from error
        if [item["position"] for item in document["items"]] != list(range(1, len(item_ends) // 4)):
            raise ExportError(f"the {surface} document of {user_id} does not list what item_ends say")
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


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _publish(store: Store, manifest: dict) -> None:
    """Point CURRENT at the snapshot: write a temporary file, fsync it, rename it over CURRENT."""
    temporary = store.root / f"CURRENT.{os.getpid()}.tmp"
    with temporary.open("w") as file:
        json.dump(manifest, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, store.current_file)
    _fsync(store.root)


def export(warehouse: Warehouse, store: Store, run_date: str, keep: int = 3,
           progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> dict:
    """Export, validate and publish a snapshot of `run_date`; returns its manifest."""
    started = time.perf_counter()
    try:
        run_date = dt.date.fromisoformat(run_date).isoformat()  # also: safe to render into documents
    except ValueError as error:
        raise ExportError(f"run_date {run_date!r} is not a date (YYYY-MM-DD)") from error
    store.snapshots.mkdir(parents=True, exist_ok=True)
    for leftover in store.snapshots.glob("*.partial"):  # from a killed export
        leftover.unlink()
    snapshot_id = f"{run_date}_{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%f}Z"
    partial = store.snapshots / f"{snapshot_id}.sqlite.partial"
    final = store.snapshots / f"{snapshot_id}.sqlite"
    try:
        with sqlite3.connect(partial) as con:
            # 64 KiB pages hold a listener's documents in one page (4 KiB pages chain them through
            # overflow pages: 25 % larger file, 3x slower to write).
            con.executescript("pragma page_size = 65536; pragma journal_mode = off; pragma synchronous = off;"
                              + documents.SCHEMA)
            progress(f"exporting run_date {run_date} to {final.name}")
            read = _write(con, warehouse, run_date, progress)
            manifest = {"snapshot_id": snapshot_id, "run_date": run_date, "schema_version": SCHEMA_VERSION,
                        "row_counts": read, "built_at": dt.datetime.now(dt.timezone.utc).isoformat()}
            con.executemany("insert into manifest values (?, ?)",
                            [(key, json.dumps(value)) for key, value in manifest.items()])
            con.commit()
            # The file is final: checksum it (hashlib releases the GIL) while validating it.
            with ThreadPoolExecutor(max_workers=1) as sealer:
                checksum = sealer.submit(_sha256, partial)
                validating = time.perf_counter()
                try:
                    _validate(con, warehouse, read)
                finally:
                    progress(f"  validated in {time.perf_counter() - validating:.1f} s")
                sealing = time.perf_counter()
                manifest["checksum_sha256"] = checksum.result()
        con.close()
        _fsync(partial)  # on disk before CURRENT points at it, should the machine stop
        progress(f"  checksummed and synced in {time.perf_counter() - sealing:.1f} s more")
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
    progress(f"published {snapshot_id}: {read} in {manifest['export_seconds']} s")
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
