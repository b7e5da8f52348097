"""Serving snapshots: the day's serving tables exported into one SQLite file built for point lookups,
validated, then published atomically.

The export runs as named stages: check the serving tables (their dbt contracts and
serving/sql/checks.sql), then one stage per snapshot table (listeners with their Bloom filters,
tracks, each surface, playlists with their Smart Shuffle pools: `stages`), validate, publish.
The store's layout is in serving/store.py.

A snapshot is published only after it validated (row counts equal to the warehouse's, the
serving contracts hold) and its file was checksummed and fsynced; publishing writes its manifest,
then replaces CURRENT, each whole or not at all (serving/store.py), so a reader sees the old
snapshot or the new one, never a half-written one, even if the export is killed or the disk fills
up at any point. The last `keep` snapshots stay on disk for `rollback`. With a remote
(TUNESDAY_SNAPSHOT_REMOTE: serving/remote.py), publishing uploads the snapshot there first, for the
fleet's serving hosts to pull.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from serving import documents
from serving.contract import SERVING_TABLES
from serving.documents import SCHEMA_VERSION
from serving.remote import Remote
from serving.store import Store, StoreError, sha256_of, verify, warn_on_stderr
from serving.warehouse import ExportError, Warehouse
from tunesday.bloom import SECOND_HASH_PREFIX

# Stage: check the serving tables --------------------------------------------------------------


def check_serving_tables(relations, run_date: str) -> dict:
    """The serving tables have their dbt contracts' columns, pass checks.sql and hold run_date's
    data; returns the settings (serving_settings) the snapshot carries."""
    _check_columns(relations)
    for _, violation, count in relations.execute(documents.sql("checks")).fetchall():
        if count:
            raise ExportError(f"contract violated: {violation} ({count} rows)")
    run_dates = [row[0] for row in relations.execute(documents.sql("run_dates")).fetchall()]
    if run_dates != [run_date]:
        raise ExportError(
            f"the warehouse's serving tables are for {', '.join(map(str, run_dates)) or 'no day'}, not {run_date}"
        )
    return _settings(relations, run_date)


def _check_columns(relations) -> None:
    """Each serving table has the columns of its dbt contract (serving/contract.py), in its order
    (tracks.sql renders serving_tracks' columns in their order), with its types."""
    found: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in relations.execute(documents.sql("columns")).fetchall():
        found.setdefault(table, []).append((column, data_type))
    if not found.keys() & SERVING_TABLES.keys():
        raise ExportError(
            "the warehouse has no serving tables: build it first (make run, tunesday daily, or dbt build)"
        )
    for table, columns in SERVING_TABLES.items():
        if found.get(table) != list(columns.items()):
            described = ", ".join(f"{column} {data_type}" for column, data_type in found.get(table, []))
            raise ExportError(
                f"contract violated: {table} has columns ({described or 'no table'}), its dbt contract "
                f"({', '.join(f'{column} {data_type}' for column, data_type in columns.items())})"
            )


def _settings(relations, run_date: str) -> dict:
    """serving_settings' one row, but its run_date."""
    cursor = relations.execute(documents.sql("settings"))
    names = [description[0] for description in cursor.description]
    rows = cursor.fetchall()
    if len(rows) != 1:
        raise ExportError(f"contract violated: serving_settings has {len(rows)} rows, not one")
    settings = dict(zip(names, rows[0]))
    if settings.pop("run_date") != run_date:
        raise ExportError(f"contract violated: serving_settings is not for {run_date}")
    return settings


# Stages: each renders one snapshot table on DuckDB and writes it to SQLite ----------------------


@dataclass
class Rendering:
    """What the stages of one export share: the run date, the rows read of each serving table, and
    each track's fields and Bloom hashes (the surfaces and playlists stages join them in)."""

    run_date: str
    read: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SERVING_TABLES, 0))
    fields: dict[str, bytes] = field(default_factory=dict)
    bloom_hashes: dict[str, bytes] = field(default_factory=dict)


#: Listeners (or playlists) a stage renders at a time: DuckDB holds a slice's documents, not all
#: of them (bench/export_bench.py, peak RSS: 1.7 GB at 100,000 listeners and 4.8 GB at a million,
#: against 4.7 GB and some 43 GB with whole stages; what grows past a slice is the tracks' fields
#: and DuckDB's buffer of the tables it reads). Each slice reads its rows with a range filter on
#: the key.
SLICE_ROWS = 25_000


@dataclass(frozen=True)
class Stage:
    """One snapshot table: its DuckDB query (serving/sql/) with its parameters, the function that
    makes the query's rows into the table's rows, and the insert. A stage `sliced_by` a kind of key
    (serving/sql/slices.sql: listeners or playlists) runs once per slice of keys, in key order, with
    the slice's bounds as $first_key and $last_key."""

    name: str
    query: str
    rows: Callable[[Rendering, Iterable[tuple]], Iterator[tuple]]
    insert: str
    parameters: dict = field(default_factory=dict)
    sliced_by: str | None = None


def listener_rows(rendering: Rendering, rows: Iterable[tuple]) -> Iterator[tuple]:
    """Listeners, each with the bits of their Bloom filter."""
    for user_id, country, tier, item_count, bit_count, hash_count, indexes, words in rows:
        rendering.read["serving_users"] += 1
        bits = None
        if bit_count is not None:
            rendering.read["serving_bloom_filters"] += 1
            rendering.read["serving_bloom_filter_words"] += len(indexes or [])
            try:
                bits = documents.bloom_bits(bit_count, indexes, words)
            except IndexError as error:
                raise ExportError(f"contract violated: Bloom filter of {user_id}: {error}") from error
        yield user_id, country, tier, item_count, bit_count, hash_count, bits


def track_rows(rendering: Rendering, rows: Iterable[tuple]) -> Iterator[tuple]:
    """Tracks and their fields, kept (with their Bloom hashes) for the stages after."""
    for track_id, track_fields, track_hashes in rows:
        rendering.read["serving_tracks"] += 1
        rendering.fields[track_id] = track_fields
        rendering.bloom_hashes[track_id] = track_hashes
        yield track_id, track_fields


def surface_part_rows(rendering: Rendering, rows: Iterable[tuple]) -> Iterator[tuple]:
    """A surface stored as parts, its positions checked, with the experiment and variant that
    ordered it (both null: none)."""
    for user_id, experiment_id, variant, surface, count, positions_ok, track_ids, items in rows:
        _check_items(f"{user_id}'s {surface}", count, positions_ok, track_ids, items)
        rendering.read["serving_recommendations"] += count
        yield user_id, surface, track_ids, items, experiment_id, variant


def whole_surface_rows(rendering: Rendering, rows: Iterable[tuple]) -> Iterator[tuple]:
    """A surface stored whole: its head and parts joined with the tracks' fields."""
    for user_id, surface, track_ids, items, experiment_id, variant in surface_part_rows(rendering, rows):
        head = documents.surface_head(user_id, surface, rendering.run_date, experiment_id, variant)
        yield (
            user_id,
            surface,
            *documents.surface_document(head, track_ids, items, rendering.fields),
            experiment_id,
            variant,
        )


def playlist_rows(rendering: Rendering, rows: Iterable[tuple]) -> Iterator[tuple]:
    """Playlists and their Smart Shuffle pools, with the pool tracks' Bloom hashes."""
    for *row, track_count, pool_count, positions_ok in rows:
        playlist_id, _, _, track_ids, pool_track_ids, pool_items = row
        _check_items(f"playlist {playlist_id}", track_count, positions_ok, track_ids, None)
        _check_items(f"the pool of playlist {playlist_id}", pool_count, True, pool_track_ids, pool_items)
        rendering.read["serving_playlist_tracks"] += track_count
        rendering.read["serving_smart_shuffle_pools"] += pool_count
        yield *row, b"".join(map(rendering.bloom_hashes.__getitem__, documents.split_lines(pool_track_ids)))


def stages() -> list[Stage]:
    """The stages in order: tracks before the stages that join their fields and hashes in."""
    return [
        Stage(
            "listeners",
            documents.sql("listeners"),
            listener_rows,
            "insert into listeners values (?, ?, ?, ?, ?, ?, ?)",
            sliced_by="listeners",
        ),
        Stage(
            "tracks",
            documents.sql("tracks"),
            track_rows,
            "insert into tracks values (?, ?)",
            {"second_hash_prefix": SECOND_HASH_PREFIX},
        ),
        *[
            Stage(
                surface,
                documents.sql("surface"),
                whole_surface_rows,
                "insert into surfaces values (?, ?, ?, ?, ?, ?)",
                {"surface": surface},
                "listeners",
            )
            for surface in documents.WHOLE_SURFACES
        ],
        *[
            Stage(
                surface,
                documents.sql("surface"),
                surface_part_rows,
                "insert into surface_parts values (?, ?, ?, ?, ?, ?)",
                {"surface": surface},
                "listeners",
            )
            for surface in documents.PART_SURFACES
        ],
        Stage(
            "playlists",
            documents.sql("playlists"),
            playlist_rows,
            "insert into playlists values (?, ?, ?, ?, ?, ?, ?)",
            sliced_by="playlists",
        ),
    ]


@dataclass(frozen=True)
class Task:
    """A stage's query to run: the whole stage, or one slice of it (`label` says which)."""

    stage: Stage
    parameters: dict
    label: str


def tasks(relations, plan: list[Stage], slice_rows: int) -> list[Task]:
    """The plan's stages, each sliced stage as one task per slice of `slice_rows` keys, in key order."""
    cursor = relations.cursor()  # its own: the checks run on `relations` meanwhile
    try:
        starts: dict[str, list[str]] = {}
        for kind, key in cursor.execute(documents.sql("slices"), {"slice_size": slice_rows}).fetchall():
            starts.setdefault(kind, []).append(key)
    finally:
        cursor.close()
    found = []
    for stage in plan:
        if stage.sliced_by is None:
            found.append(Task(stage, stage.parameters, stage.name))
            continue
        bounds = [None, *starts.get(stage.sliced_by, []), None]
        for number, (first, last) in enumerate(zip(bounds, bounds[1:]), start=1):
            label = stage.name if len(bounds) == 2 else f"{stage.name} {number}/{len(bounds) - 1}"
            found.append(Task(stage, {**stage.parameters, "first_key": first, "last_key": last}, label))
    return found


def _check_items(what: str, count: int, positions_ok: bool, track_ids: str, items: bytes | None) -> None:
    """Positions 1..n, each once; one track id (and one rendered item) per row read."""
    if not positions_ok:
        raise ExportError(f"contract violated: the positions of {what} are not 1..{count}")
    if (track_ids.count("\n") + 1 if track_ids else 0) != count or (
        items is not None and (items.count(b"\n") + 1 if items else 0) != count
    ):
        raise ExportError(f"contract violated: {what} has {count} rows but not as many rendered items")


def _execute(relations, task: Task):
    """A cursor holding the task query's whole result (DuckDB materialises it while the GIL is free)."""
    cursor = relations.cursor()
    try:
        return cursor.execute(task.stage.query, task.parameters)
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


def _counted(progress: Callable[[str], None], name: str, rows: Iterable[tuple]) -> Iterator[tuple]:
    """Passes rows through, showing progress every 50,000 and the total."""
    started, count = time.perf_counter(), 0
    for count, row in enumerate(rows, start=1):
        if count % 50_000 == 0:
            progress(f"  {name}: {count:,} ({count / (time.perf_counter() - started):,.0f}/s)")
        yield row
    progress(f"  {name}: {count:,} in {time.perf_counter() - started:.1f} s")


def _write_task(
    con: sqlite3.Connection, task: Task, rendering: Rendering, rows: Iterable[tuple], progress: Callable[[str], None]
) -> None:
    try:
        con.executemany(task.stage.insert, _counted(progress, task.label, task.stage.rows(rendering, rows)))
    except sqlite3.IntegrityError as error:
        raise ExportError(f"contract violated: {task.stage.name}: {error}") from error


def _write(
    con: sqlite3.Connection,
    relations,
    rendering: Rendering,
    progress: Callable[[str], None],
    slice_rows: int = SLICE_ROWS,
) -> dict:
    """Check the serving tables, then write the stages into the snapshot, slice by slice; returns
    the settings.

    DuckDB renders the next task (in a thread: it releases the GIL) while this one's rows are
    written to SQLite. One task renders ahead: two would overlap more but hold two results at
    once, and on a VM the extra memory costs more in page faults than the overlap wins."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as renderer:
        planned = renderer.submit(tasks, relations, stages(), slice_rows)
        ahead: Future | None = renderer.submit(lambda: _execute(relations, planned.result()[0]))
        try:
            settings = check_serving_tables(relations, rendering.run_date)  # before any error of the tasks'
            rendering.read["serving_settings"] = 1
            progress(f"  contracts checked in {time.perf_counter() - started:.1f} s")
            plan = planned.result()
            for number, task in enumerate(plan):
                waited = time.perf_counter()
                assert ahead is not None  # submitted for this task by the one before
                rows = _rows(ahead.result())
                ahead = renderer.submit(_execute, relations, plan[number + 1]) if number + 1 < len(plan) else None
                progress(f"  {task.label}: rendered ({time.perf_counter() - waited:.1f} s waited for DuckDB)")
                _write_task(con, task, rendering, rows, progress)
        finally:
            if ahead is not None and not ahead.cancel() and ahead.exception() is None:
                ahead.result().close()
    return settings


# Stage: validate ------------------------------------------------------------------------------


def _lines(con: sqlite3.Connection, column: str, table: str) -> int:
    """Lines in a newline-separated column, summed over the table ('' holds none)."""
    text = f"cast({column} as text)"
    sql = (
        f"select coalesce(sum(length({text}) - length(replace({text}, char(10), '')) + 1), 0) "
        f"from {table} where length({column}) > 0"
    )
    return con.execute(sql).fetchone()[0]


def _snapshot_counts(con: sqlite3.Connection) -> dict[str, int]:
    """The rows of each serving table the snapshot holds."""
    word_count = 0
    for (bits,) in con.execute("select bloom_bits from listeners where bloom_bits is not null"):
        word_count += len(bits) // 8 - memoryview(bits).cast("Q").tolist().count(0)
    return {
        "serving_users": con.execute("select count(*) from listeners").fetchone()[0],
        "serving_tracks": con.execute("select count(*) from tracks").fetchone()[0],
        "serving_recommendations": con.execute(
            "select coalesce(sum(length(item_ends) / 4 - 1), 0) from surfaces"
        ).fetchone()[0]
        + _lines(con, "track_ids", "surface_parts"),
        "serving_playlist_tracks": _lines(con, "track_ids", "playlists"),
        "serving_smart_shuffle_pools": _lines(con, "pool_track_ids", "playlists"),
        "serving_bloom_filters": con.execute("select count(bloom_bits) from listeners").fetchone()[0],
        "serving_bloom_filter_words": word_count,
        "serving_settings": con.execute("select count(*) from manifest where key = 'settings'").fetchone()[0],
    }


def _check_documents_parse(con: sqlite3.Connection) -> None:
    """Rendered documents are valid JSON: a sample of them, parsed, list what item_ends say."""
    sample = """
        select surfaces.user_id, surfaces.surface, surfaces.body, surfaces.item_ends
        from (select user_id from listeners order by random() limit 100) as sampled
        join surfaces on surfaces.user_id = sampled.user_id
    """
    for user_id, surface, body, item_ends in con.execute(sample):
        try:
            document = json.loads(body)
        except ValueError as error:
            raise ExportError(f"the {surface} document of {user_id} is not valid JSON: {error}") from error
        if [item["position"] for item in document["items"]] != list(range(1, len(item_ends) // 4)):
            raise ExportError(f"the {surface} document of {user_id} does not list what item_ends say")


def validate(con: sqlite3.Connection, warehouse: Warehouse, read: dict[str, int]) -> None:
    """Row counts: what the warehouse holds = what the export read = what the snapshot holds."""
    in_warehouse = {table: warehouse.count(table) for table in SERVING_TABLES}
    in_snapshot = _snapshot_counts(con)
    _check_documents_parse(con)
    for table in SERVING_TABLES:
        if not in_warehouse[table] == read.get(table) == in_snapshot.get(table):
            raise ExportError(
                f"{table}: {in_warehouse[table]} rows in the warehouse, {read.get(table)} read, "
                f"{in_snapshot.get(table)} in the snapshot"
            )
    if in_warehouse["serving_users"] == 0:
        raise ExportError("the warehouse has no listeners: nothing to serve")


# The export: the stages in order --------------------------------------------------------------


def _build(
    partial: Path,
    warehouse: Warehouse,
    snapshot_id: str,
    run_date: str,
    progress: Callable[[str], None],
    slice_rows: int,
) -> dict:
    """Write the snapshot file, validate it and checksum it; returns its manifest."""
    with sqlite3.connect(partial) as con:
        # 64 KiB pages hold a listener's documents in one page (4 KiB pages chain them through
        # overflow pages: 25 % larger file, 3x slower to write).
        con.executescript(
            "pragma page_size = 65536; pragma journal_mode = off; pragma synchronous = off;" + documents.SCHEMA
        )
        progress(f"exporting run_date {run_date} to {snapshot_id}.sqlite")
        rendering = Rendering(run_date)
        settings = _write(con, warehouse.relations(), rendering, progress, slice_rows)
        manifest = {
            "snapshot_id": snapshot_id,
            "run_date": run_date,
            "schema_version": SCHEMA_VERSION,
            "row_counts": rendering.read,
            "settings": settings,
            "built_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        con.executemany(
            "insert into manifest values (?, ?)", [(key, json.dumps(value)) for key, value in manifest.items()]
        )
        con.commit()
        # The file is final: checksum it (hashlib releases the GIL) while validating it.
        with ThreadPoolExecutor(max_workers=1) as sealer:
            checksum = sealer.submit(sha256_of, partial)
            validating = time.perf_counter()
            try:
                validate(con, warehouse, rendering.read)
            finally:
                progress(f"  validated in {time.perf_counter() - validating:.1f} s")
            sealing = time.perf_counter()
            manifest["checksum_sha256"] = checksum.result()
    con.close()
    with partial.open("rb") as file:
        os.fsync(file.fileno())  # on disk before CURRENT points at it, should the machine stop
    progress(f"  checksummed and synced in {time.perf_counter() - sealing:.1f} s more")
    return manifest


def export(
    warehouse: Warehouse,
    store: Store,
    run_date: str,
    keep: int = 3,
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
    publish: bool = True,
    remote: Remote | None = None,
    slice_rows: int = SLICE_ROWS,
) -> dict:
    """Export, validate and publish a snapshot of `run_date` (to `remote` too, if given: `_publish`);
    returns its manifest.

    With `publish=False` the snapshot is written, validated and sealed in the store but CURRENT
    is left alone: the daily job publishes it later (`publish_exported`), once every stage passed.

    A failure to write (a full disk, a file size limit, a store that is not writable) is an
    ExportError with the system's one-line reason: nothing is published, CURRENT and the other
    snapshots are as they were, and nothing of this export stays on disk."""
    started = time.perf_counter()
    try:
        run_date = dt.date.fromisoformat(run_date).isoformat()  # also: safe to render into documents
    except ValueError as error:
        raise ExportError(f"run_date {run_date!r} is not a date (YYYY-MM-DD)") from error
    try:
        store.snapshots.mkdir(parents=True, exist_ok=True)
        with store.exclusive():
            store.remove_leftovers()  # of a killed export
            snapshot_id = f"{run_date}_{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}Z"
            try:
                manifest = _build(
                    store.partial_path(snapshot_id), warehouse, snapshot_id, run_date, progress, slice_rows
                )
                manifest["export_seconds"] = round(time.perf_counter() - started, 3)
                manifest = store.add(store.partial_path(snapshot_id), manifest)
                if publish:
                    _publish(store, manifest, remote, keep, warn=lambda line: progress(f"warning: {line}"))
            except BaseException:
                store.discard(snapshot_id)
                raise
            if publish:
                store.prune(keep, warn=lambda line: progress(f"warning: {line}"))
    except (OSError, sqlite3.Error) as error:
        raise ExportError(f"nothing published: {_reason(error)}") from error
    done = "published" if publish else "exported (not published yet)"
    progress(f"{done} {snapshot_id}: {manifest['row_counts']} in {manifest['export_seconds']} s")
    return manifest


def publish_exported(
    store: Store,
    snapshot_id: str,
    keep: int = 3,
    warn: Callable[[str], None] = warn_on_stderr,
    remote: Remote | None = None,
) -> dict:
    """Publish a snapshot `export(publish=False)` wrote: its file checked against its seal (stat;
    in full if the stat changed), CURRENT (and the remote's) pointed at it, old snapshots pruned.
    Returns its manifest."""
    with store.exclusive():
        found = [m for m in store.published(warn) if m["snapshot_id"] == snapshot_id]
        if not found:
            raise ExportError(f"no snapshot {snapshot_id} in {store.root} to publish")
        manifest = store.seal(found[0], verify(store, found[0], trust_seal=True))
        _publish(store, manifest, remote, keep, warn)
        store.prune(keep, warn=warn)
    return manifest


def _publish(store: Store, manifest: dict, remote: Remote | None, keep: int, warn: Callable[[str], None]) -> None:
    """Point CURRENT at the sealed snapshot. With a remote (serving/remote.py), the remote's CURRENT
    first: a snapshot the fleet could not get is not published here either (RemoteError)."""
    if remote is not None:
        remote.upload(store, manifest, keep, warn)
    store.publish(manifest)


def _reason(error: OSError | sqlite3.Error) -> str:
    """The system's one-line reason, with SQLite's error name (SQLITE_FULL, SQLITE_IOERR_WRITE)."""
    if isinstance(error, sqlite3.Error):
        return f"the snapshot file: {error} ({getattr(error, 'sqlite_errorname', 'SQLite error')})"
    return str(error)


def rollback(
    store: Store,
    snapshot_id: str | None = None,
    warn: Callable[[str], None] = warn_on_stderr,
    remote: Remote | None = None,
    keep: int = 3,
) -> dict:
    """Re-publish an older snapshot: the one named, or the one before the current one (the newest
    when CURRENT is missing or malformed), to `remote` too if given (uploaded again only if the
    remote no longer has it). Its checksum is verified first, in full, and its file's stat sealed
    anew (a store restored from a backup has new inodes)."""
    with store.exclusive():
        try:
            current = store.current()
        except StoreError as error:
            warn(f"{error}: taken as no snapshot published")
            current = None
        candidates = [m for m in store.published(warn) if m["snapshot_id"] != (current or {}).get("snapshot_id")]
        if snapshot_id:
            candidates = [m for m in candidates if m["snapshot_id"] == snapshot_id]
        elif current:
            candidates = [m for m in candidates if m["snapshot_id"] < current["snapshot_id"]]
        if not candidates:
            raise ExportError("no older snapshot to roll back to" if not snapshot_id else f"no snapshot {snapshot_id}")
        manifest = store.seal(candidates[0], verify(store, candidates[0]))
        _publish(store, manifest, remote, keep, warn)
    return manifest
