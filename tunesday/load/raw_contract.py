"""Raw contract Parquet files (a generated raw folder, or one a loader wrote) into a store.

This is how generated data reaches BigQuery: ``tunesday-load raw target/data/raw --bigquery``
appends each file of each ``<table>/`` folder to its raw table, through the same store as the
real exports (``tunesday.load.stores.BigQueryStore``): one commit per file with its ledger entry,
so a rerun loads only the files that are new, and a killed load leaves no half file behind.

A file is checked against the contract (``tunesday.contract``) as a whole: the contract's
columns with ``loaded_at`` (kept as written), or without it (a file from before the contract had
it: loaded with it null, as the DuckDB raw views read it). A file of any other schema fails
with one line and the others still load. Its rows are written as they are, bad rows included:
quarantining them is staging's job, as for the DuckDB build of the same folder.

The paths given may be a raw folder (one folder per contract table), a table's folder, or
Parquet files inside a table's folder (the folder's name says which table).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from tunesday.contract import LOADED_AT, RECORDS, SCHEMAS
from tunesday.load.source import WRITE_ORDER, BadInput, Batch, InputFile

if TYPE_CHECKING:
    from tunesday.load.catalog import Catalog

# Contract tables in the order they are loaded: what a row refers to first.
TABLE_ORDER = (*WRITE_ORDER, *sorted(set(SCHEMAS) - set(WRITE_ORDER)))


class RawContract:
    name = "raw"
    records_are = "rows"
    kept_out: frozenset[str] = frozenset()

    def files(self, paths: list[Path]) -> list[InputFile]:
        found = []
        for path in paths:
            files = _contract_files(path)
            if files:
                found += [
                    InputFile(file, scope=file.parent.name, label=f"{file.parent.name}-{file.stem}") for file in files
                ]
            else:
                found.append(
                    InputFile(
                        path,
                        error="no raw contract Parquet files here (a raw folder holds a folder per table: "
                        + ", ".join(f"{t}/" for t in TABLE_ORDER[:3])
                        + " ...)",
                    )
                )
        return found

    def read(self, source: InputFile, data: bytes, catalog: Catalog) -> Batch:
        table = source.scope
        try:
            rows = pq.read_table(io.BytesIO(data))
        except (pa.ArrowInvalid, OSError) as error:
            raise BadInput(f"not a Parquet file ({error})") from None
        if rows.schema.equals(RECORDS[table]):
            rows = rows.append_column(LOADED_AT, pa.nulls(rows.num_rows, LOADED_AT.type))
        elif not rows.schema.equals(SCHEMAS[table]):
            raise BadInput(f"does not match the raw contract of {table}: columns {', '.join(rows.schema.names)}")
        batch = Batch(records=rows.num_rows, usable=rows.num_rows)
        if rows.num_rows:
            batch.stamped[table] = rows
        return batch


def _contract_files(path: Path) -> list[Path]:
    """The Parquet files under `path` with the contract table each belongs to (its folder's name)."""
    if path.is_file():
        return [path] if path.suffix == ".parquet" and path.parent.name in SCHEMAS else []
    if not path.is_dir():
        return []
    if path.name in SCHEMAS:
        return sorted(path.glob("*.parquet"))
    return [file for table in TABLE_ORDER for file in sorted((path / table).glob("*.parquet"))]
