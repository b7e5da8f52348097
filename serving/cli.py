"""tunesday-serving: export the day's serving tables to the snapshot store, list snapshots, roll back.

    tunesday-serving export [--run-date YYYY-MM-DD] [--source duckdb|bigquery] [--keep 3]
    tunesday-serving snapshots
    tunesday-serving rollback [--to SNAPSHOT_ID]

Configuration from the environment, like dbt's (defaults in tunesday.settings):
TUNESDAY_SERVING_STORE, TUNESDAY_DUCKDB_PATH; for BigQuery TUNESDAY_BQ_PROJECT, TUNESDAY_BQ_DATASET
and, for the emulator, TUNESDAY_BQ_EMULATOR_ENDPOINT.
Exit status 1 with a one-line reason when nothing was published (a full disk included: CURRENT
and the snapshots on disk are then as they were). A malformed CURRENT or manifest is a one-line
warning: `snapshots` lists the rest, `rollback` publishes an intact snapshot over it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from serving.snapshot import export, rollback
from serving.store import Store, StoreError, warn_on_stderr
from serving.warehouse import BigQueryWarehouse, DuckDBWarehouse, ExportError
from tunesday import settings


def store_from_env() -> Store:
    return Store(Path(settings.value(settings.SERVING_STORE)))


def _current_id(store: Store) -> str | None:
    try:
        return (store.current() or {}).get("snapshot_id")
    except StoreError as error:
        warn_on_stderr(f"{error}: no snapshot is marked published")
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tunesday-serving", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    export_parser = commands.add_parser("export", help="export and publish a snapshot")
    export_parser.add_argument("--run-date", default=dt.datetime.now(dt.timezone.utc).date().isoformat())
    export_parser.add_argument("--source", choices=["duckdb", "bigquery"], default="duckdb")
    export_parser.add_argument("--keep", type=int, default=3, help="snapshots kept on disk (default 3)")
    commands.add_parser("snapshots", help="list the snapshots on disk")
    rollback_parser = commands.add_parser("rollback", help="re-publish an older snapshot")
    rollback_parser.add_argument("--to", dest="snapshot_id")
    args = parser.parse_args(argv)
    store = store_from_env()
    try:
        if args.command == "export":
            dt.date.fromisoformat(args.run_date)
            if args.source == "duckdb":
                warehouse = DuckDBWarehouse(settings.value(settings.DUCKDB_PATH))
            else:
                warehouse = BigQueryWarehouse(settings.required(settings.BQ_PROJECT),
                                              settings.value(settings.BQ_DATASET),
                                              settings.given(settings.BQ_EMULATOR_ENDPOINT))
            try:
                export(warehouse, store, args.run_date, keep=args.keep)
            finally:
                warehouse.close()
        elif args.command == "snapshots":
            current = _current_id(store)
            for manifest in store.published():
                marker = "*" if manifest["snapshot_id"] == current else " "
                print(f"{marker} {manifest['snapshot_id']}  run_date {manifest['run_date']}  "
                      f"{json.dumps(manifest['row_counts'])}")
        else:
            manifest = rollback(store, args.snapshot_id)
            print(f"published {manifest['snapshot_id']} (run_date {manifest['run_date']})")
    except (ExportError, StoreError, OSError, ValueError, KeyError, settings.SettingMissing) as error:
        print(f"tunesday-serving {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
