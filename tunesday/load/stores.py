"""Where the loaders of real exports write: the DuckDB raw folder or a BigQuery raw dataset.

Both stores only ever add to the raw contract, never rewrite or delete what is there, and both
keep two things beside the contract tables, which dbt never reads:

- a load ledger, one entry per input file loaded (loader, scope, SHA-256 of the file's bytes,
  what was written and set aside), so that the same file is skipped the next time;
- the rows a loader set aside (not part of the contract: podcast plays, records without a usable
  key, records that are not objects), each with its reason and the record as JSON.

One input file is one commit (``Store.commit``): its rows in every table it writes, its set-aside
rows and its ledger entry are all written, or none of them is, even when the loader is killed
half-way. A file without a ledger entry has therefore left no rows behind, and loads whole the
next time (a crash between tables used to leave, say, an MPD file's playlists without their
tracks, and the next load took the playlists as already known and wrote no tracks, for good).

DuckDB (``ParquetStore``), under the raw folder (``TUNESDAY_RAW_DIR``):
``<table>/<loader>-<source>-<sha12>.parquet`` (new files only; ``<table>/empty.parquet``, no
rows, where a table has no file yet, as BigQuery gets every table created empty),
``_set_aside/<loader>/<same name>.parquet`` and ``_loads/ledger.jsonl``. The warehouse's raw
views read ``<table>/*.parquet`` only. A commit writes every part under ``_loads/pending/<name>.*/``
(fsynced), then a ``COMMIT.json`` there naming each part's final path and the ledger entry
(written whole: temporary name, fsync, rename) — the commit point — then renames the parts into
place, appends the ledger line and removes the folder. Opening the store finishes what a killed
load left: a pending folder with ``COMMIT.json`` is completed (renames not done yet, the ledger
line if missing), one without is removed. The ledger is appended whole lines, each fsynced; a
half-written last line (a crash during the append) is dropped with a notice, as its commit is
completed again from its pending folder; a damaged line before the last stops the load
(``StoreUnusable``): what was loaded is then unknown. One loader at a time writes a raw folder
(a lock on ``_loads/lock``).

BigQuery (``BigQueryStore``): each contract table is created with its explicit schema and its
layout (``tunesday.load.bigquery.RAW_LAYOUT``: plays partitioned by day of play) when it does
not exist yet (never replaced); the ledger and the set-aside rows are the tables ``_load_ledger``
and ``_load_set_aside`` of the same dataset. A commit loads each part (and the ledger entry) into
a table of its own, ``_pending_<attempt>_<table>``, with one Parquet load job each, then appends
them all to their tables in one multi-statement transaction, then drops them. Pending tables
left by a killed load are dropped when the store is opened: they were never appended, or were
and are no longer needed.
"""

import datetime as dt
import fcntl
import io
import json
import os
import shutil
import tempfile
import uuid
from functools import partial
from pathlib import Path
from typing import Protocol, Self

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from google.api_core.exceptions import GoogleAPIError
from google.cloud import bigquery

from tunesday.contract import LOADS_FOLDER, SCHEMAS, TS
from tunesday.files import sync_directory, write_whole
from tunesday.load.bigquery import LOADER_LABELS, bigquery_fields, ensure_dataset, layout_problem, raw_table

SET_ASIDE_SCHEMA = pa.schema(
    [
        ("loader", pa.string()),
        ("source_file", pa.string()),
        ("record_ref", pa.string()),  # where in the file: "[12]", "playlists[3].tracks[7]", "line 40"
        ("reason", pa.string()),
        ("record", pa.string()),  # the record as JSON (IP addresses removed)
        ("set_aside_at", TS),
    ]
)

LEDGER_SCHEMA = pa.schema(
    [
        ("loader", pa.string()),
        ("scope", pa.string()),  # what else decides the rows: the user id of a history export
        ("sha256", pa.string()),
        ("source_file", pa.string()),
        ("loaded_at", TS),
        ("usable_rows", pa.int64()),
        ("report", pa.string()),  # the file's report as JSON
    ]
)

LEDGER_TABLE = "_load_ledger"
SET_ASIDE_TABLE = "_load_set_aside"
PART_SCHEMAS = {**SCHEMAS, SET_ASIDE_TABLE: SET_ASIDE_SCHEMA}
# Ids per lookup query: keeps each BigQuery request well under its size limit.
LOOKUP_CHUNK = 10_000
COMMIT_FILE = "COMMIT.json"
PENDING_PREFIX = "_pending_"

# The queries the history loaders compare plays and tracks by, the same text on both stores:
# {table} is a contract table, {name} a query parameter (``_select`` fills both in). A track's
# name and its artist's name, one row per track: the rows of a track only grow, and an artist id
# is its normalised name, so any non-null value is the one.
NAMED_TRACKS_SQL = """
    select tracks.track_id, tracks.track_name, artists.artist_name
    from (
        select track_id, max(track_name) as track_name, max(artist_id) as artist_id
        from {tracks}
        group by track_id
    ) as tracks
    left join (
        select artist_id, max(artist_name) as artist_name
        from {artists}
        group by artist_id
    ) as artists on artists.artist_id = tracks.artist_id
"""
# A listener's plays of one export (by the prefix of their event ids) with the names of their
# tracks: what tells whether a play of the other export is the same play.
LISTENER_PLAYS_SQL = (
    """
    select plays.event_id, plays.played_at, plays.ms_played, named.track_name, named.artist_name
    from {listening_events} as plays
    left join ("""
    + NAMED_TRACKS_SQL
    + """) as named on named.track_id = plays.track_id
    where plays.user_id = {user_id}
        and starts_with(plays.event_id, {event_prefix})
        and plays.played_at is not null
        and plays.ms_played is not null
"""
)


class StoreUnusable(Exception):
    """The target cannot be loaded into (its ledger is damaged, another load holds it)."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def ledger_key(entry: dict) -> tuple[str, str, str]:
    return entry["loader"], entry["scope"], entry["sha256"]


class Store(Protocol):
    description: str
    errors: tuple[type[Exception], ...]  # what the store raises when it fails (not the input)
    notices: list[str]  # what opening it repaired, for the report

    def ledger(self) -> dict[tuple[str, str, str], dict]:
        """Every load recorded so far, by (loader, scope, sha256)."""

    def commit(self, name: str, parts: dict[str, pa.Table], entry: dict) -> None:
        """Add one input file's rows, all or none: `parts` by table (the contract's tables and
        SET_ASIDE_TABLE, each with its schema), and its ledger entry (LEDGER_SCHEMA's fields)."""

    def fetch(self, table: str, key: str, ids: list[str], columns: list[str]) -> list[dict]:
        """The rows of a contract table whose `key` is one of `ids` (all of them, duplicates too)."""

    def named_tracks(self) -> list[dict]:
        """Every track with its name and its artist's name (track_id, track_name, artist_name;
        one row per track, names null when unknown): the catalog a play known only by its
        names is matched against."""

    def listener_plays(self, user_id: str, event_prefix: str) -> list[dict]:
        """The plays of `user_id` whose event id starts with `event_prefix` and that have a
        played_at and an ms_played (event_id, played_at, ms_played, track_name, artist_name: the
        names the catalog has for the play's track), in one query: what a play of the other
        history export is compared with."""

    def close(self) -> None:
        """Let another load use the target."""

    def __enter__(self) -> Self:
        """``with store:`` closes it at the end of the block (_Closing)."""

    def __exit__(self, *exc: object) -> None: ...


class _Closing:
    """``with store:`` closes the store at the end of the block."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Queries:
    """The history loaders' queries (``Store.named_tracks``, ``Store.listener_plays``), run by each
    store's ``_select``."""

    def named_tracks(self) -> list[dict]:
        return self._select(NAMED_TRACKS_SQL, {})

    def listener_plays(self, user_id: str, event_prefix: str) -> list[dict]:
        return self._select(LISTENER_PLAYS_SQL, {"user_id": user_id, "event_prefix": event_prefix})

    def _select(self, template: str, parameters: dict) -> list[dict]:
        raise NotImplementedError


def _select_sql(template: str, table_ref, parameter_ref) -> tuple[str, list[str]]:
    """A query template with its contract tables and parameters filled in the store's own way,
    and the tables it reads."""
    tables = [table for table in SCHEMAS if "{" + table + "}" in template]
    names = {name: parameter_ref(name) for name in ("user_id", "event_prefix")}
    return template.format(**{table: table_ref(table) for table in tables}, **names), tables


def _check_parts(parts: dict[str, pa.Table]) -> None:
    for table, rows in parts.items():
        if not rows.schema.equals(PART_SCHEMAS[table]):
            raise ValueError(f"{table} rows do not match the raw contract:\n{rows.schema}")


class ParquetStore(_Queries, _Closing):
    """The DuckDB raw folder: one Parquet folder per contract table."""

    errors: tuple[type[Exception], ...] = (duckdb.Error,)

    def __init__(self, raw_dir: Path):
        self.raw_dir = Path(raw_dir)
        self.description = f"DuckDB raw folder {self.raw_dir}"
        self.notices: list[str] = []
        loads = self.raw_dir / LOADS_FOLDER
        self._ledger_path = loads / "ledger.jsonl"
        self._pending = loads / "pending"
        self._lock = _lock(loads / "lock", self.raw_dir)
        self._con = duckdb.connect()
        try:
            self._ensure_tables()
            self._recover()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._con.close()
        self._lock.close()

    def _ensure_tables(self) -> None:
        """An empty file with the contract's schema in each table folder that has no file yet, so
        that a raw folder loaded from real exports only (no follows, no saved tracks) has every
        table the warehouse reads, as a BigQuery dataset gets every table created empty."""
        for table, schema in SCHEMAS.items():
            if not any((self.raw_dir / table).glob("*.parquet")):
                folder = self.raw_dir / table
                folder.mkdir(parents=True, exist_ok=True)
                write_whole(self._free_path(folder, "empty"), partial(_write_parquet, schema.empty_table()))

    def ledger(self) -> dict[tuple[str, str, str], dict]:
        entries = {}
        lines = self._ledger_path.read_bytes().split(b"\n") if self._ledger_path.exists() else []
        for number, line in enumerate(lines, 1):
            if line.strip():
                entry = _ledger_entry(line)
                if entry is None:
                    raise StoreUnusable(
                        f"the load ledger {self._ledger_path} is damaged at line {number}: "
                        "what was loaded is unknown; restore it or remove the line"
                    )
                entries[ledger_key(entry)] = entry
        return entries

    def commit(self, name: str, parts: dict[str, pa.Table], entry: dict) -> None:
        _check_parts(parts)
        self._pending.mkdir(parents=True, exist_ok=True)
        pending = Path(tempfile.mkdtemp(prefix=f"{name}.", dir=self._pending))
        moves = []
        for number, (table, rows) in enumerate(parts.items()):
            staged = pending / f"{number}.parquet"
            _write_synced(staged, rows)
            folder = self.raw_dir / "_set_aside" / entry["loader"] if table == SET_ASIDE_TABLE else self.raw_dir / table
            moves.append([staged.name, str(self._free_path(folder, name).relative_to(self.raw_dir))])
        ledger_entry = {**entry, "loaded_at": entry["loaded_at"].isoformat()}
        write_whole(pending / COMMIT_FILE, json.dumps({"moves": moves, "entry": ledger_entry}).encode())
        self._finish(pending, ledger={})

    def fetch(self, table: str, key: str, ids: list[str], columns: list[str]) -> list[dict]:
        files = sorted(str(p) for p in (self.raw_dir / table).glob("*.parquet"))
        if not files or not ids:
            return []
        result = self._con.execute(
            f"select {', '.join(columns)} from read_parquet($files) where {key} in (select unnest($ids))",
            {"files": files, "ids": list(ids)},
        )
        return [dict(zip(columns, row)) for row in result.fetchall()]

    def _select(self, template: str, parameters: dict) -> list[dict]:
        sql, tables = _select_sql(template, lambda table: f"read_parquet(${table})", lambda name: f"${name}")
        files = {table: sorted(str(p) for p in (self.raw_dir / table).glob("*.parquet")) for table in tables}
        result = self._con.execute(sql, {**files, **parameters})
        columns = [column[0] for column in result.description]
        return [dict(zip(columns, row)) for row in result.fetchall()]

    def _finish(self, pending: Path, ledger: dict) -> dict:
        """Carry out a commit whose COMMIT.json is written (again, after a crash: each step is
        done only if it was not); the ledger line is appended unless `ledger` has the entry."""
        commit = json.loads((pending / COMMIT_FILE).read_text())
        for staged, target in commit["moves"]:
            source, target = pending / staged, self.raw_dir / target
            if source.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
                sync_directory(target.parent)
        entry = commit["entry"]
        if ledger_key(entry) not in ledger:
            self._append_ledger(entry)
        shutil.rmtree(pending)
        return entry

    def _recover(self) -> None:
        """Finish or undo what a killed load left (see the module's docstring)."""
        self._repair_ledger()
        if not self._pending.is_dir():
            return
        ledger = None
        for pending in sorted(self._pending.iterdir()):
            if (pending / COMMIT_FILE).is_file():
                ledger = self.ledger() if ledger is None else ledger
                entry = self._finish(pending, ledger)
                ledger[ledger_key(entry)] = entry
                self.notices.append(
                    f"completed the interrupted load of {entry['source_file']} "
                    "(it was committed before the loader stopped)"
                )
            else:
                # Never committed: its staged parts go, its input file loads again. (An empty
                # folder is a finished commit stopped while removing it: nothing to say.)
                if any(pending.iterdir()):
                    self.notices.append(
                        f"removed what an interrupted load left in {pending} (never "
                        "committed: its input file loads again)"
                    )
                shutil.rmtree(pending)

    def _repair_ledger(self) -> None:
        """Drop a half-written last ledger line; end the file with a newline so appends are lines."""
        if not self._ledger_path.exists():
            return
        data = self._ledger_path.read_bytes()
        body = data.rstrip(b"\n")
        last = body.rfind(b"\n") + 1  # where the last line starts
        if not body or _ledger_entry(body[last:]) is not None:
            if not data.endswith(b"\n"):
                with self._ledger_path.open("ab") as fh:
                    fh.write(b"\n")
                    _sync(fh)
            return
        with self._ledger_path.open("r+b") as fh:
            fh.truncate(last)
            _sync(fh)
        self.notices.append(
            f"dropped a half-written last line of the load ledger {self._ledger_path} "
            f"({len(body) - last} bytes, from a load that was stopped while writing it)"
        )

    def _append_ledger(self, entry: dict) -> None:
        """One whole line in one write, fsynced: a crash leaves at most a torn last line."""
        self._ledger_path.parent.mkdir(parents=True, exist_ok=True)
        line = memoryview((json.dumps(entry) + "\n").encode())
        fd = os.open(self._ledger_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            while line:
                line = line[os.write(fd, line) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    @staticmethod
    def _free_path(folder: Path, name: str) -> Path:
        """`name`.parquet, or `name`-2.parquet … if it exists: never replace a file."""
        path, n = folder / f"{name}.parquet", 1
        while path.exists():
            n += 1
            path = folder / f"{name}-{n}.parquet"
        return path


def _ledger_entry(line: bytes) -> dict | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) and {"loader", "scope", "sha256"} <= entry.keys() else None


def _lock(path: Path, raw_dir: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StoreUnusable(f"another load is writing to {raw_dir} (it holds {path})") from None
    return handle


def _sync(fh) -> None:
    fh.flush()
    os.fsync(fh.fileno())


def _write_parquet(rows: pa.Table, fh) -> None:
    pq.write_table(rows, fh, compression="zstd")


def _write_synced(path: Path, rows: pa.Table) -> None:
    with path.open("wb") as fh:
        _write_parquet(rows, fh)
        _sync(fh)


class BigQueryStore(_Queries, _Closing):
    """A BigQuery raw dataset (or the emulator's), appended to with Parquet load jobs."""

    errors: tuple[type[Exception], ...] = (GoogleAPIError,)

    def __init__(self, client: bigquery.Client, dataset: str, location: str | None = None):
        self.client = client
        self.dataset = f"{client.project}.{dataset}"
        self.location = location
        self.description = f"BigQuery dataset {self.dataset}"
        self.notices: list[str] = []
        self._ensure_tables()
        self._drop_pending()

    def close(self) -> None:
        """Nothing to release: BigQuery's transactions keep concurrent commits whole."""

    def _ensure_tables(self) -> None:
        """Create the dataset and any missing table with its explicit schema (a contract table
        with its layout, RAW_LAYOUT); keep existing ones, adding the contract's newer columns
        (loaded_at) to a table made before them: its rows read them as null, new rows fill them.
        A contract table laid out otherwise (made before RAW_LAYOUT) is kept, with a notice."""
        ensure_dataset(self.client, self.dataset, self.location)
        for table, schema in {**PART_SCHEMAS, LEDGER_TABLE: LEDGER_SCHEMA}.items():
            fields = bigquery_fields(schema)
            table_ref = f"{self.dataset}.{table}"
            wanted = raw_table(table_ref, table) if table in SCHEMAS else bigquery.Table(table_ref, schema=fields)
            existing = self.client.create_table(wanted, exists_ok=True)
            if table in SCHEMAS and (problem := layout_problem(table, existing)):
                self.notices.append(problem)
            known = {field.name for field in existing.schema}
            missing = [field for field in fields if field.name not in known]
            if missing:
                # DDL rather than a schema update: the emulator applies only DDL to the data.
                self._query(
                    f"alter table `{self.dataset}.{table}` "
                    + ", ".join(f"add column if not exists {field.name} {field.field_type}" for field in missing)
                )
                self.notices.append(
                    f"added {', '.join(field.name for field in missing)} to {table} (its earlier rows have none)"
                )

    def _drop_pending(self) -> None:
        for table in self.client.list_tables(self.dataset):
            if table.table_id.startswith(PENDING_PREFIX):
                self.client.delete_table(table, not_found_ok=True)
                self.notices.append(f"dropped {table.table_id}, left by an interrupted load")

    def ledger(self) -> dict[tuple[str, str, str], dict]:
        rows = self._query(f"select * from `{self.dataset}.{LEDGER_TABLE}`")
        return {ledger_key(row): row for row in rows}

    def commit(self, name: str, parts: dict[str, pa.Table], entry: dict) -> None:
        _check_parts(parts)
        parts = {**parts, LEDGER_TABLE: pa.Table.from_pylist([entry], schema=LEDGER_SCHEMA)}
        attempt = f"{self.dataset}.{PENDING_PREFIX}{uuid.uuid4().hex[:12]}_"
        for table, rows in parts.items():
            self._load(attempt + table, rows, bigquery.WriteDisposition.WRITE_TRUNCATE)
        appends = [
            f"insert into `{self.dataset}.{table}` ({', '.join(rows.schema.names)}) "
            f"select {', '.join(rows.schema.names)} from `{attempt}{table}`;"
            for table, rows in parts.items()
        ]
        self._query("\n".join(["begin transaction;", *appends, "commit transaction;"]))
        for table in parts:
            self.client.delete_table(attempt + table, not_found_ok=True)

    def fetch(self, table: str, key: str, ids: list[str], columns: list[str]) -> list[dict]:
        ids = list(ids)
        rows = []
        for start in range(0, len(ids), LOOKUP_CHUNK):
            rows += self._query(
                f"select {', '.join(columns)} from `{self.dataset}.{table}` where {key} in unnest(@ids)",
                [bigquery.ArrayQueryParameter("ids", "STRING", ids[start : start + LOOKUP_CHUNK])],
            )
        return rows

    def _select(self, template: str, parameters: dict) -> list[dict]:
        sql, _ = _select_sql(template, lambda table: f"`{self.dataset}.{table}`", lambda name: f"@{name}")
        return self._query(
            sql, [bigquery.ScalarQueryParameter(name, "STRING", value) for name, value in parameters.items()]
        )

    def _query(self, sql: str, parameters: list | None = None) -> list[dict]:
        config = bigquery.QueryJobConfig(query_parameters=parameters or [], labels=LOADER_LABELS)
        result = self.client.query(sql, job_config=config, location=self.location).result()
        return [dict(row.items()) for row in result]

    def _load(self, table_ref: str, rows: pa.Table, disposition: str) -> None:
        buffer = io.BytesIO()
        pq.write_table(rows, buffer)
        buffer.seek(0)
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            write_disposition=disposition,
            schema=bigquery_fields(rows.schema),
            labels=LOADER_LABELS,
        )
        self.client.load_table_from_file(buffer, table_ref, job_config=config, location=self.location).result()
