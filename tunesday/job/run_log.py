"""`ops_run_log`: one row per run and stage, appended to the warehouse, never replaced.

On DuckDB the table is `tunesday_ops.ops_run_log` in the warehouse file, on BigQuery
`<TUNESDAY_BQ_DATASET>_ops.ops_run_log` (appended by a Parquet load job, so a row lands whole or
not at all). dbt never writes it (a `--full-refresh` leaves it alone); it is declared as the source
`ops.ops_run_log` (models/audit/_ops__sources.yml), where its columns are described.

The job writes a stage's row when the stage ends. A run killed mid-stage writes nothing then: the
next run finds the stage in the lock file and appends it as `killed` (tunesday/job/lock.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields

from tunesday.job.target import Target
from tunesday.warehouse import stage_schema

SCHEMA = "ops"
TABLE = "ops_run_log"


@dataclass(frozen=True)
class RunLogRow:
    run_id: str
    command: str  # daily, backfill, or stage (one stage run alone, e.g. by Flyte)
    run_date: dt.date
    stage: str  # lock, build, freshness, export, publish
    started_at: dt.datetime  # UTC
    finished_at: dt.datetime | None  # None: the run was killed in this stage
    seconds: float | None
    status: str  # success, warn (freshness), failed, killed
    rows: int | None  # rows the build wrote, or the snapshot's rows (export, publish)
    dbt_invocation_id: str | None
    snapshot_id: str | None
    error: str | None  # the one-line reason of a failure


_DUCKDB_TYPES = {
    "run_date": "date",
    "started_at": "timestamp",
    "finished_at": "timestamp",
    "seconds": "double",
    "rows": "bigint",
}
_BIGQUERY_TYPES = {
    "run_date": "DATE",
    "started_at": "TIMESTAMP",
    "finished_at": "TIMESTAMP",
    "seconds": "FLOAT64",
    "rows": "INT64",
}
COLUMNS = [field.name for field in fields(RunLogRow)]


def _arrow_schema():
    import pyarrow as pa

    types = {
        "run_date": pa.date32(),
        "started_at": pa.timestamp("us", tz="UTC"),
        "finished_at": pa.timestamp("us", tz="UTC"),
        "seconds": pa.float64(),
        "rows": pa.int64(),
    }
    return pa.schema([(name, types.get(name, pa.string())) for name in COLUMNS])


class RunLog:
    """Append rows, and read which run dates were published."""

    def __init__(self, target: Target) -> None:
        self.target = target

    # DuckDB ------------------------------------------------------------------------------------

    def _duckdb(self):
        import duckdb

        con = duckdb.connect(str(self.target.duckdb_path))
        con.execute("set TimeZone = 'UTC'")
        return con

    def _duckdb_table(self) -> str:
        return f"{stage_schema('tunesday', SCHEMA)}.{TABLE}"

    # BigQuery ----------------------------------------------------------------------------------

    def _bigquery(self):
        from tunesday.load.bigquery import make_client

        return make_client(self.target.bq_project, self.target.bq_endpoint)

    def _bigquery_table(self) -> str:
        return f"{self.target.bq_project}.{stage_schema(self.target.bq_dataset, SCHEMA)}.{TABLE}"

    # -------------------------------------------------------------------------------------------

    def append(self, rows: list[RunLogRow]) -> None:
        if not rows:
            return
        if self.target.is_duckdb:
            with self._duckdb() as con:
                table = self._duckdb_table()
                con.execute(f"create schema if not exists {table.split('.')[0]}")
                columns = ", ".join(f"{name} {_DUCKDB_TYPES.get(name, 'varchar')}" for name in COLUMNS)
                con.execute(f"create table if not exists {table} ({columns})")
                con.executemany(
                    f"insert into {table} values ({', '.join('?' for _ in COLUMNS)})",
                    [tuple(asdict(row).values()) for row in rows],
                )
            return
        import io

        import pyarrow as pa
        import pyarrow.parquet as pq
        from google.cloud import bigquery

        # A Parquet load job, as the loaders append (the emulator takes no JSON upload): the rows
        # land whole or not at all.
        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pylist([asdict(row) for row in rows], schema=_arrow_schema()), buffer)
        buffer.seek(0)
        client = self._bigquery()
        try:
            table = self._bigquery_table()
            client.create_dataset(table.rsplit(".", 1)[0], exists_ok=True)
            schema = [bigquery.SchemaField(name, _BIGQUERY_TYPES.get(name, "STRING")) for name in COLUMNS]
            config = bigquery.LoadJobConfig(
                source_format=bigquery.SourceFormat.PARQUET,
                schema=schema,
                write_disposition="WRITE_APPEND",
                create_disposition="CREATE_IF_NEEDED",
            )
            client.load_table_from_file(buffer, table, job_config=config).result()
        finally:
            client.close()

    def rows(self, where: str = "true") -> list[dict]:
        """Rows of the log (for tests and `tunesday runs`), oldest first; [] when there is none yet."""
        if self.target.is_duckdb:
            if not self.target.duckdb_path.exists():
                return []
            import duckdb

            with duckdb.connect(str(self.target.duckdb_path), read_only=True) as con:
                con.execute("set TimeZone = 'UTC'")
                exists = con.execute(
                    "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                    [stage_schema("tunesday", SCHEMA), TABLE],
                ).fetchall()[0][0]
                if not exists:
                    return []
                cursor = con.execute(f"select * from {self._duckdb_table()} where {where} order by started_at, stage")
                names = [column[0] for column in cursor.description]
                return [dict(zip(names, row)) for row in cursor.fetchall()]
        from google.api_core.exceptions import NotFound

        client = self._bigquery()
        try:
            result = client.query(f"select * from `{self._bigquery_table()}` where {where} order by started_at, stage")
            return [dict(row.items()) for row in result.result()]
        except NotFound:
            return []
        finally:
            client.close()

    def published_run_dates(self) -> set[dt.date]:
        """Run dates whose run got to the end: their publish stage succeeded."""
        return {row["run_date"] for row in self.rows("stage = 'publish' and status = 'success'")}
