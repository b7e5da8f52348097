"""Load the raw contract's Parquet folders into a BigQuery dataset with load jobs.

This is how a user gets raw data into BigQuery: create each raw table with its explicit schema
(from ``tunesday.contract``) and its layout (``RAW_LAYOUT``), then one Parquet load job per file.
The same code loads into the local emulator (``--endpoint``) in CI.

    tunesday-load-bigquery --raw-dir target/data/raw --project my-project --dataset tunesday_raw
"""

import argparse
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from google.api_core.client_options import ClientOptions
from google.api_core.exceptions import GoogleAPIError
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from tunesday import settings
from tunesday.contract import LOADED_AT, RECORDS, SCHEMAS

BIGQUERY_TYPES = {
    pa.string(): "STRING",
    pa.int64(): "INT64",
    pa.float64(): "FLOAT64",
    pa.bool_(): "BOOL",
    pa.date32(): "DATE",
    pa.timestamp("us"): "TIMESTAMP",
}


@dataclass(frozen=True)
class Layout:
    """How a raw table is stored on BigQuery: partitioned by the UTC day of a timestamp column
    (or not), clustered by the columns it is looked up by."""

    day_column: str | None
    cluster_by: tuple[str, ...]


# Plays are partitioned by day of play, so that a daily run reads only its days (and those
# without a time, in the __NULL__ partition), and clustered by listener. The other tables are
# read whole by every run: clustering by their key keeps the loaders' lookups by id small.
# No table requires a partition filter: the loaders look plays up by event id and by listener,
# the audit counts every raw row, and `dbt source freshness` reads the newest loaded_at, each
# over every day (README "What BigQuery costs").
RAW_LAYOUT: dict[str, Layout] = {
    "listening_events": Layout("played_at", ("user_id",)),
    "tracks": Layout(None, ("track_id",)),
    "artists": Layout(None, ("artist_id",)),
    "users": Layout(None, ("user_id",)),
    "playlists": Layout(None, ("playlist_id",)),
    "playlist_tracks": Layout(None, ("playlist_id",)),
    "follows": Layout(None, ("user_id",)),
    "saved_tracks": Layout(None, ("user_id",)),
    "exposures": Layout(None, ("experiment_id", "user_id")),
}


# The labels of the loaders' jobs, as dbt's carry their model (macros/query_labels.sql): what
# BigQuery's job history adds bytes up by.
LOADER_LABELS = {"model": "none", "resource_type": "loader"}


def bigquery_schema(table: str) -> list[bigquery.SchemaField]:
    return bigquery_fields(SCHEMAS[table])


def raw_table(table_ref: str, table: str) -> bigquery.Table:
    """A raw contract table as the loaders create it: its schema and its layout."""
    created = bigquery.Table(table_ref, schema=bigquery_schema(table))
    layout = RAW_LAYOUT[table]
    if layout.day_column:
        created.time_partitioning = bigquery.TimePartitioning(
            type_=bigquery.TimePartitioningType.DAY, field=layout.day_column
        )
    created.clustering_fields = list(layout.cluster_by)
    return created


def layout_problem(table: str, found: bigquery.Table) -> str | None:
    """What differs between an existing raw table's layout and RAW_LAYOUT's, as one line with the
    statement that fixes it (None if nothing): a table made before the loaders laid them out."""
    layout = RAW_LAYOUT[table]
    partitioned = found.time_partitioning.field if found.time_partitioning else None
    if partitioned == layout.day_column and tuple(found.clustering_fields or ()) == layout.cluster_by:
        return None
    name = f"`{found.project}.{found.dataset_id}.{found.table_id}`"
    partition = f" partition by timestamp_trunc({layout.day_column}, day)" if layout.day_column else ""
    return (
        f"{table} is not laid out as the loaders make it ({_describe(layout)}): every run reads all "
        f"of it; re-create it once: create or replace table {name}{partition} "
        f"cluster by {', '.join(layout.cluster_by)} as select * from {name}"
    )


def _describe(layout: Layout) -> str:
    partition = f"partitioned by day of {layout.day_column}, " if layout.day_column else ""
    return f"{partition}clustered by {', '.join(layout.cluster_by)}"


def bigquery_fields(schema: pa.Schema) -> list[bigquery.SchemaField]:
    """The BigQuery schema of an Arrow schema (every column NULLABLE)."""
    return [bigquery.SchemaField(field.name, BIGQUERY_TYPES[field.type], mode="NULLABLE") for field in schema]


def make_client(project: str, endpoint: str | None = None) -> bigquery.Client:
    """A client for real BigQuery (Application Default Credentials) or for an emulator."""
    if endpoint:
        return bigquery.Client(
            project=project,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=endpoint),
        )
    return bigquery.Client(project=project)


def ensure_dataset(client: bigquery.Client, dataset_ref: str, location: str | None) -> None:
    """Create the dataset in `location` (the profile's, TUNESDAY_BQ_LOCATION) if it is missing; one
    that exists elsewhere is a StoreUnusable: the build's queries, run in the profile's location,
    could not read it."""
    from tunesday.load.stores import StoreUnusable  # stores imports this module

    wanted = bigquery.Dataset(dataset_ref)
    if location:
        wanted.location = location
    found = client.create_dataset(wanted, exists_ok=True)
    if location and found.location and found.location.lower() != location.lower():
        raise StoreUnusable(
            f"the dataset {dataset_ref} is in {found.location}, but TUNESDAY_BQ_LOCATION (the dbt profile's "
            f"location) is {location}: set it to {found.location}, or use another dataset"
        )


def load_raw_dir(client: bigquery.Client, raw_dir: Path, dataset: str, location: str | None = None) -> dict[str, int]:
    """Replace every raw table in `dataset` with the Parquet files under `raw_dir/<table>/`.

    Every file is checked against the contract first (ValueError, nothing replaced, if one does
    not fit). Returns the row count of each table after the load.
    """
    files = {table: contract_files(raw_dir, table) for table in SCHEMAS}
    dataset_ref = f"{client.project}.{dataset}"
    ensure_dataset(client, dataset_ref, location)
    counts = {}
    for table, paths in files.items():
        table_ref = f"{dataset_ref}.{table}"
        # Create the table with its schema and layout first: a load job would otherwise infer one.
        client.delete_table(table_ref, not_found_ok=True)
        client.create_table(raw_table(table_ref, table))
        for path in paths:
            append_file(client, table, path, table_ref, location)
        counts[table] = client.get_table(table_ref).num_rows
    return counts


def contract_files(raw_dir: Path, table: str) -> list[Path]:
    """The Parquet files of a contract table, each checked (``has_loaded_at``)."""
    paths = sorted((raw_dir / table).glob("*.parquet"))
    if not paths:
        raise FileNotFoundError(f"no Parquet files for raw table {table!r} in {raw_dir / table}")
    for path in paths:
        has_loaded_at(table, path)
    return paths


def has_loaded_at(table: str, path: Path) -> bool:
    """Whether a Parquet file of a contract table has `loaded_at`: a file written before the
    contract had it is loaded with it null (as the DuckDB raw views read it); a file of any other
    schema is refused (ValueError)."""
    found = pq.read_schema(path)
    if not (found.equals(SCHEMAS[table]) or found.equals(RECORDS[table])):
        raise ValueError(f"{path} does not match the raw contract of {table}: columns {', '.join(found.names)}")
    return found.equals(SCHEMAS[table])


def load_arrow(client: bigquery.Client, rows: pa.Table, table_ref: str, location: str | None = None) -> None:
    """Replace `table_ref` by `rows` with one load job (WRITE_TRUNCATE: readers see the old table
    or the new one, never a part), its schema from the rows'."""
    job_config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET,
        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
        schema=bigquery_fields(rows.schema),
        labels=LOADER_LABELS,
    )
    buffer = io.BytesIO()
    pq.write_table(rows, buffer)
    buffer.seek(0)
    client.load_table_from_file(buffer, table_ref, job_config=job_config, location=location).result()


def append_file(client: bigquery.Client, table: str, path: Path, table_ref: str, location: str | None = None) -> None:
    """Append one Parquet file of a contract table to `table_ref` with a load job."""
    job_config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET,
        write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
        schema=bigquery_schema(table),
        labels=LOADER_LABELS,
    )
    if has_loaded_at(table, path):
        with path.open("rb") as fh:
            client.load_table_from_file(fh, table_ref, job_config=job_config, location=location).result()
        return
    rows = pq.read_table(path)
    buffer = io.BytesIO()
    pq.write_table(rows.append_column(LOADED_AT, pa.nulls(rows.num_rows, LOADED_AT.type)), buffer)
    buffer.seek(0)
    client.load_table_from_file(buffer, table_ref, job_config=job_config, location=location).result()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-dir", type=Path, default=Path(settings.required(settings.RAW_DIR)))
    parser.add_argument("--project", default=settings.given(settings.BQ_PROJECT))
    parser.add_argument("--dataset", default=settings.value(settings.BQ_RAW_DATASET))
    parser.add_argument("--location", default=settings.value(settings.BQ_LOCATION))
    parser.add_argument("--endpoint", help="API endpoint of a BigQuery emulator (e.g. http://127.0.0.1:9050)")
    args = parser.parse_args(argv)
    if not args.project:
        parser.error("--project (or TUNESDAY_BQ_PROJECT) is required")
    from tunesday.load.stores import StoreUnusable

    client = make_client(args.project, args.endpoint)
    try:
        counts = load_raw_dir(client, args.raw_dir, args.dataset, args.location)
    except (OSError, ValueError, StoreUnusable) as error:
        print(f"tunesday-load-bigquery: {error}", file=sys.stderr)
        return 2
    except GoogleAPIError as error:
        print(f"tunesday-load-bigquery: BigQuery refused: {error}", file=sys.stderr)
        return 2
    for table, rows in counts.items():
        print(f"{args.dataset}.{table}: {rows} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
