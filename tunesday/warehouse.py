"""The built warehouse's layout as Python sees it: one schema (BigQuery dataset) per stage.

dbt puts each stage in `<target schema>_<stage>` and building blocks (`int_*`) in
`<target schema>_intermediate` (macros/generate_schema_name.sql); the DuckDB target schema is
`tunesday` (profiles.yml), the BigQuery one the dataset TUNESDAY_BQ_DATASET. Python readers open
the DuckDB file with `connect`, which makes every model queryable by its name alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

#: The DuckDB target's schema (profiles.yml): every stage's schema starts with it.
DUCKDB_TARGET_SCHEMA = "tunesday"
#: The raw contract's schema on DuckDB (views over the Parquet files; not a model).
RAW_SCHEMA = "tunesday_raw"


def stage_schema(target_schema: str, stage: str) -> str:
    """The schema (dataset) a stage's models land in, e.g. ('tunesday', 'serving') -> 'tunesday_serving'."""
    return f"{target_schema}_{stage}"


def connect(path: str | Path, stages: tuple[str, ...] | None = None) -> duckdb.DuckDBPyConnection:
    """The DuckDB warehouse, read-only, with every model (seed, snapshot) queryable by its name alone.

    The file is attached to an in-memory database in which each table of the stages' schemas
    (all of them by default) gets a view of its own name: unlike a search path, the views are seen
    by every cursor of the connection too. Read-only: a DuckDB file has one writer, and dbt must be
    able to take it once the reader is closed."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute(f"attach '{_quoted(str(path))}' as warehouse (read_only)")
        wanted = None if stages is None else {stage_schema(DUCKDB_TARGET_SCHEMA, stage) for stage in stages}
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_catalog = 'warehouse'"
        ).fetchall()
        for schema, table in tables:
            if schema == RAW_SCHEMA or not schema.startswith(f"{DUCKDB_TARGET_SCHEMA}_"):
                continue
            if wanted is None or schema in wanted:
                con.execute(f'create view "{table}" as select * from warehouse."{schema}"."{table}"')
    except BaseException:
        con.close()
        raise
    return con


def _quoted(text: str) -> str:
    return text.replace("'", "''")
