"""The raw contract on BigQuery: each raw table's schema (from ``tunesday.contract``) and layout
(``RAW_LAYOUT``), the client (real BigQuery or the emulator), the raw dataset's location, and
whole-table load jobs (``load_arrow``).

The loads themselves go through one path, ``tunesday-load ... --bigquery``
(``tunesday.load.stores.BigQueryStore``: a ledger, one commit per file); generated data takes it
too: ``tunesday-load raw target/data/raw --bigquery``.
"""

import io
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from tunesday.contract import SCHEMAS

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
