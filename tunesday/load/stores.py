"""Where the loaders of real exports write: the DuckDB raw folder or a BigQuery raw dataset.

Both stores only ever add to the raw contract, never rewrite or delete what is there, and both
keep two things beside the contract tables, which dbt never reads:

- a load ledger, one entry per input file loaded (loader, scope, SHA-256 of the file's bytes,
  what was written and set aside), so that the same file is skipped the next time;
- the rows a loader set aside (not part of the contract: podcast plays, records without a usable
  key, records that are not objects), each with its reason and the record as JSON.

DuckDB (``ParquetStore``), under the raw folder (``TUNESDAY_RAW_DIR``):
``<table>/<loader>-<source>-<sha12>.parquet`` (new files only, written under a temporary name
and renamed, so a half-written file is never read; ``<table>/empty.parquet``, no rows, where a
table has no file yet, as BigQuery gets every table created empty), ``_set_aside/<loader>/<same name>.parquet``
and ``_loads/ledger.jsonl``. The warehouse's raw views read ``<table>/*.parquet`` only.

BigQuery (``BigQueryStore``): each contract table is created with its explicit schema when it does
not exist yet (never replaced) and appended to with one Parquet load job per table and input
file; the ledger and the set-aside rows are the tables ``_load_ledger`` and ``_load_set_aside``
of the same dataset.
"""

import datetime as dt
import io
import json
import os
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from google.cloud import bigquery

from tunesday.contract import SCHEMAS, TS
from tunesday.load.bigquery import bigquery_fields

SET_ASIDE_SCHEMA = pa.schema([
    ("loader", pa.string()),
    ("source_file", pa.string()),
    ("record_ref", pa.string()),     # where in the file: "[12]", "playlists[3].tracks[7]", "line 40"
    ("reason", pa.string()),
    ("record", pa.string()),         # the record as JSON (IP addresses removed)
    ("set_aside_at", TS),
])

LEDGER_SCHEMA = pa.schema([
    ("loader", pa.string()),
    ("scope", pa.string()),          # what else decides the rows: the user id of a history export
    ("sha256", pa.string()),
    ("source_file", pa.string()),
    ("loaded_at", TS),
    ("usable_rows", pa.int64()),
    ("report", pa.string()),         # the file's report as JSON
])

LEDGER_TABLE = "_load_ledger"
SET_ASIDE_TABLE = "_load_set_aside"
# Ids per lookup query: keeps each BigQuery request well under its size limit.
LOOKUP_CHUNK = 10_000


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def ledger_key(entry: dict) -> tuple[str, str, str]:
    return entry["loader"], entry["scope"], entry["sha256"]


class Store(Protocol):
    description: str

    def ledger(self) -> dict[tuple[str, str, str], dict]:
        """Every load recorded so far, by (loader, scope, sha256)."""

    def record_load(self, entry: dict) -> None:
        """Add one ledger entry (LEDGER_SCHEMA's fields); called after the file's rows are written."""

    def write(self, table: str, rows: pa.Table, name: str) -> None:
        """Append rows to a contract table (the rows already have the contract's schema)."""

    def set_aside(self, rows: pa.Table, loader: str, name: str) -> None:
        """Keep rows that are not part of the contract (SET_ASIDE_SCHEMA)."""

    def fetch(self, table: str, key: str, ids: list[str], columns: list[str]) -> list[dict]:
        """The rows of a contract table whose `key` is one of `ids` (all of them, duplicates too)."""


class ParquetStore:
    """The DuckDB raw folder: one Parquet folder per contract table."""

    def __init__(self, raw_dir: Path):
        self.raw_dir = Path(raw_dir)
        self.description = f"DuckDB raw folder {self.raw_dir}"
        self._ledger_path = self.raw_dir / "_loads" / "ledger.jsonl"
        self._con = duckdb.connect()
        self._ensure_tables()

    def _ensure_tables(self) -> None:
        """An empty file with the contract's schema in each table folder that has no file yet, so
        that a raw folder loaded from real exports only (no follows, no saved tracks) has every
        table the warehouse reads, as a BigQuery dataset gets every table created empty."""
        for table, schema in SCHEMAS.items():
            if not any((self.raw_dir / table).glob("*.parquet")):
                self._write_new(self.raw_dir / table, "empty", schema.empty_table())

    def ledger(self) -> dict[tuple[str, str, str], dict]:
        entries = {}
        if self._ledger_path.exists():
            for line in self._ledger_path.read_text().splitlines():
                if line.strip():
                    entry = json.loads(line)
                    entries[ledger_key(entry)] = entry
        return entries

    def record_load(self, entry: dict) -> None:
        self._ledger_path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({**entry, "loaded_at": entry["loaded_at"].isoformat()}) + "\n"
        with self._ledger_path.open("a") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def write(self, table: str, rows: pa.Table, name: str) -> None:
        if not rows.schema.equals(SCHEMAS[table]):
            raise ValueError(f"{table} rows do not match the raw contract:\n{rows.schema}")
        self._write_new(self.raw_dir / table, name, rows)

    def set_aside(self, rows: pa.Table, loader: str, name: str) -> None:
        self._write_new(self.raw_dir / "_set_aside" / loader, name, rows)

    def fetch(self, table: str, key: str, ids: list[str], columns: list[str]) -> list[dict]:
        files = sorted(str(p) for p in (self.raw_dir / table).glob("*.parquet"))
        if not files or not ids:
            return []
        result = self._con.execute(
            f"select {', '.join(columns)} from read_parquet($files) where {key} in (select unnest($ids))",
            {"files": files, "ids": list(ids)},
        )
        return [dict(zip(columns, row)) for row in result.fetchall()]

    @staticmethod
    def _write_new(folder: Path, name: str, rows: pa.Table) -> None:
        """Write `name`.parquet, or `name`-2.parquet … if it exists: never replace a file."""
        folder.mkdir(parents=True, exist_ok=True)
        path, n = folder / f"{name}.parquet", 1
        while path.exists():
            n += 1
            path = folder / f"{name}-{n}.parquet"
        partial = folder / f".{path.name}.partial"
        pq.write_table(rows, partial, compression="zstd")
        os.replace(partial, path)


class BigQueryStore:
    """A BigQuery raw dataset (or the emulator's), appended to with Parquet load jobs."""

    def __init__(self, client: bigquery.Client, dataset: str, location: str | None = None):
        self.client = client
        self.dataset = f"{client.project}.{dataset}"
        self.location = location
        self.description = f"BigQuery dataset {self.dataset}"
        self._ensure_tables()

    def _ensure_tables(self) -> None:
        """Create the dataset and any missing table with its explicit schema; keep existing ones."""
        self.client.create_dataset(bigquery.Dataset(self.dataset), exists_ok=True)
        schemas = {**SCHEMAS, LEDGER_TABLE: LEDGER_SCHEMA, SET_ASIDE_TABLE: SET_ASIDE_SCHEMA}
        for table, schema in schemas.items():
            self.client.create_table(
                bigquery.Table(f"{self.dataset}.{table}", schema=bigquery_fields(schema)), exists_ok=True)

    def ledger(self) -> dict[tuple[str, str, str], dict]:
        rows = self._query(f"select * from `{self.dataset}.{LEDGER_TABLE}`")
        return {ledger_key(row): row for row in rows}

    def record_load(self, entry: dict) -> None:
        self._load(LEDGER_TABLE, pa.Table.from_pylist([entry], schema=LEDGER_SCHEMA))

    def write(self, table: str, rows: pa.Table, name: str) -> None:
        if not rows.schema.equals(SCHEMAS[table]):
            raise ValueError(f"{table} rows do not match the raw contract:\n{rows.schema}")
        self._load(table, rows)

    def set_aside(self, rows: pa.Table, loader: str, name: str) -> None:
        self._load(SET_ASIDE_TABLE, rows)

    def fetch(self, table: str, key: str, ids: list[str], columns: list[str]) -> list[dict]:
        ids = list(ids)
        rows = []
        for start in range(0, len(ids), LOOKUP_CHUNK):
            rows += self._query(
                f"select {', '.join(columns)} from `{self.dataset}.{table}` where {key} in unnest(@ids)",
                [bigquery.ArrayQueryParameter("ids", "STRING", ids[start:start + LOOKUP_CHUNK])],
            )
        return rows

    def _query(self, sql: str, parameters: list | None = None) -> list[dict]:
        config = bigquery.QueryJobConfig(query_parameters=parameters or [])
        result = self.client.query(sql, job_config=config, location=self.location).result()
        return [dict(row.items()) for row in result]

    def _load(self, table: str, rows: pa.Table) -> None:
        buffer = io.BytesIO()
        pq.write_table(rows, buffer)
        buffer.seek(0)
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
            schema=bigquery_fields(rows.schema),
        )
        self.client.load_table_from_file(
            buffer, f"{self.dataset}.{table}", job_config=config, location=self.location
        ).result()

