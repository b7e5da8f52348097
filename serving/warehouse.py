"""Where the export reads the day's serving tables from: the DuckDB file or BigQuery, behind one interface."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from serving.contract import SERVING_TABLES
from tunesday.warehouse import connect, stage_schema

if TYPE_CHECKING:
    import duckdb


class ExportError(Exception):
    """The warehouse cannot give a valid snapshot: nothing is published."""


class Warehouse(Protocol):
    def count(self, table: str) -> int:
        """The table's row count, asked of the warehouse itself."""

    def relations(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection on which each serving table is queryable by its name, with the
        columns and types of its dbt contract (serving.contract.SERVING_TABLES): the export renders
        the documents with DuckDB whatever the warehouse, so both give byte-identical snapshots
        from the same rows."""

    def close(self) -> None: ...


class DuckDBWarehouse:
    """The DuckDB file, opened read-only for the export and closed after it (dbt needs the lock)."""

    def __init__(self, path: str) -> None:
        import duckdb

        if not Path(path).exists():
            raise ExportError(f"the DuckDB warehouse {path} does not exist: run make run or tunesday daily first")
        try:
            self._con = connect(path, stages=("serving",))
        except duckdb.Error as error:
            raise ExportError(f"cannot open the DuckDB warehouse {path!r}: {error}") from error
        self._error = duckdb.Error

    def count(self, table: str) -> int:
        try:
            return int(self._con.execute(f"select count(*) from {table}").fetchall()[0][0])
        except self._error as error:
            raise ExportError(f"cannot read {table}: {error}") from error

    def relations(self) -> duckdb.DuckDBPyConnection:
        return self._con

    def close(self) -> None:
        self._con.close()


class BigQueryWarehouse:
    """The dataset on BigQuery (or the emulator), read with google-cloud-bigquery."""

    def __init__(self, project: str, dataset: str, endpoint: str | None = None) -> None:
        from tunesday.load.bigquery import make_client

        self._client = make_client(project, endpoint)
        self._prefix = f"`{project}.{stage_schema(dataset, 'serving')}`"

    def _query(self, sql: str):
        from google.api_core.exceptions import GoogleAPIError

        try:
            return self._client.query(sql).result()
        except GoogleAPIError as error:
            raise ExportError(f"BigQuery query failed: {error}") from error

    def count(self, table: str) -> int:
        return next(iter(self._query(f"select count(*) from {self._prefix}.{table}")))[0]

    def relations(self) -> duckdb.DuckDBPyConnection:
        """The serving tables' contract columns fetched as Arrow (REST pages: the emulator has no
        Storage API) into an in-memory DuckDB."""
        import duckdb

        con = duckdb.connect()
        for table, columns in SERVING_TABLES.items():
            rows = self._query(f"select {', '.join(columns)} from {self._prefix}.{table}")
            con.register("fetched", rows.to_arrow(create_bqstorage_client=False))
            con.execute(f"create table {table} as select * from fetched")  # a table: visible to cursors
            con.unregister("fetched")
        return con

    def close(self) -> None:
        self._client.close()
