"""Load the raw contract's Parquet folders into a BigQuery dataset with load jobs.

This is how a user gets raw data into BigQuery: create each raw table with its explicit schema
(from ``tunesday.contract``), then one Parquet load job per file. The same code loads into the
local emulator (``--endpoint``) in CI.

    tunesday-load-bigquery --raw-dir target/data/raw --project my-project --dataset tunesday_raw
"""

import argparse
import io
import sys
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


def bigquery_schema(table: str) -> list[bigquery.SchemaField]:
    return bigquery_fields(SCHEMAS[table])


def bigquery_fields(schema: pa.Schema) -> list[bigquery.SchemaField]:
    """The BigQuery schema of an Arrow schema (every column NULLABLE)."""
    return [
        bigquery.SchemaField(field.name, BIGQUERY_TYPES[field.type], mode="NULLABLE")
        for field in schema
    ]


def make_client(project: str, endpoint: str | None = None) -> bigquery.Client:
    """A client for real BigQuery (Application Default Credentials) or for an emulator."""
    if endpoint:
        return bigquery.Client(
            project=project,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=endpoint),
        )
    return bigquery.Client(project=project)


def load_raw_dir(client: bigquery.Client, raw_dir: Path, dataset: str,
                 location: str | None = None) -> dict[str, int]:
    """Replace every raw table in `dataset` with the Parquet files under `raw_dir/<table>/`.

    Every file is checked against the contract first (ValueError, nothing replaced, if one does
    not fit). Returns the row count of each table after the load.
    """
    files = {table: contract_files(raw_dir, table) for table in SCHEMAS}
    dataset_ref = f"{client.project}.{dataset}"
    client.create_dataset(bigquery.Dataset(dataset_ref), exists_ok=True)
    counts = {}
    for table, paths in files.items():
        table_ref = f"{dataset_ref}.{table}"
        # Create the table with its schema first: a load job would otherwise infer one.
        client.delete_table(table_ref, not_found_ok=True)
        client.create_table(bigquery.Table(table_ref, schema=bigquery_schema(table)))
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


def append_file(client: bigquery.Client, table: str, path: Path, table_ref: str,
                location: str | None = None) -> None:
    """Append one Parquet file of a contract table to `table_ref` with a load job."""
    job_config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET,
        write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
        schema=bigquery_schema(table),
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
    parser.add_argument("--raw-dir", type=Path, default=Path(settings.value(settings.RAW_DIR)))
    parser.add_argument("--project", default=settings.given(settings.BQ_PROJECT))
    parser.add_argument("--dataset", default=settings.value(settings.BQ_RAW_DATASET))
    parser.add_argument("--location", default=settings.value(settings.BQ_LOCATION))
    parser.add_argument("--endpoint", help="API endpoint of a BigQuery emulator (e.g. http://127.0.0.1:9050)")
    args = parser.parse_args(argv)
    if not args.project:
        parser.error("--project (or TUNESDAY_BQ_PROJECT) is required")
    client = make_client(args.project, args.endpoint)
    try:
        counts = load_raw_dir(client, args.raw_dir, args.dataset, args.location)
    except (OSError, ValueError) as error:
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
