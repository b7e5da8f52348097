"""tunesday-serving: export the day's serving tables to the snapshot store, list snapshots, roll back,
pull the fleet's snapshot from the remote.

    tunesday-serving export [--run-date YYYY-MM-DD] [--source duckdb|bigquery] [--keep 3]
    tunesday-serving snapshots
    tunesday-serving rollback [--to SNAPSHOT_ID]
    tunesday-serving pull [--every SECONDS] [--keep 3]

Configuration from the environment, like dbt's (defaults in tunesday.settings):
TUNESDAY_SERVING_STORE, TUNESDAY_DUCKDB_PATH; for BigQuery TUNESDAY_BQ_PROJECT, TUNESDAY_BQ_DATASET
and, for the emulator, TUNESDAY_BQ_EMULATOR_ENDPOINT. With TUNESDAY_SNAPSHOT_REMOTE set, `export`
and `rollback` publish to the remote too (serving/remote.py), and `pull` makes this host's store
publish what the remote's CURRENT names: once, or every SECONDS beside the server (JSON-line logs
on stderr; a failed pull is retried, the last good snapshot serving meanwhile).
Exit status 1 with a one-line reason when nothing was published (a full disk included: CURRENT
and the snapshots on disk are then as they were) or, for a single pull, when it failed. A
malformed CURRENT or manifest is a one-line warning: `snapshots` lists the rest, `rollback`
publishes an intact snapshot over it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from serving import remote as remotes
from serving.snapshot import export, rollback
from serving.store import Store, StoreError, warn_on_stderr
from serving.warehouse import BigQueryWarehouse, DuckDBWarehouse, ExportError, Warehouse
from tunesday import logs, settings
from tunesday.command import Parser


def store_from_env() -> Store:
    return Store(Path(settings.required(settings.SERVING_STORE)))


def _current_id(store: Store) -> str | None:
    try:
        return (store.current() or {}).get("snapshot_id")
    except StoreError as error:
        warn_on_stderr(f"{error}: no snapshot is marked published")
        return None


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="tunesday-serving", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    export_parser = commands.add_parser("export", help="export and publish a snapshot")
    export_parser.add_argument("--run-date", default=dt.datetime.now(dt.UTC).date().isoformat())
    export_parser.add_argument("--source", choices=["duckdb", "bigquery"], default="duckdb")
    export_parser.add_argument("--keep", type=int, default=3, help="snapshots kept on disk (default 3)")
    commands.add_parser("snapshots", help="list the snapshots on disk")
    rollback_parser = commands.add_parser("rollback", help="re-publish an older snapshot")
    rollback_parser.add_argument("--to", dest="snapshot_id")
    pull_parser = commands.add_parser("pull", help="publish here the snapshot TUNESDAY_SNAPSHOT_REMOTE's CURRENT names")
    pull_parser.add_argument("--every", type=float, metavar="SECONDS", help="pull again every SECONDS, forever")
    pull_parser.add_argument("--keep", type=int, default=3, help="snapshots kept on disk (default 3)")
    args = parser.parse_args(argv)
    store = store_from_env()
    try:
        if args.command == "pull":
            return _pull(store, args.every, args.keep)
        remote = remotes.configured()
        if args.command == "export":
            dt.date.fromisoformat(args.run_date)
            warehouse: Warehouse
            if args.source == "duckdb":
                warehouse = DuckDBWarehouse(settings.required(settings.DUCKDB_PATH))
            else:
                warehouse = BigQueryWarehouse(
                    settings.required(settings.BQ_PROJECT),
                    settings.required(settings.BQ_DATASET),
                    settings.given(settings.BQ_EMULATOR_ENDPOINT),
                )
            try:
                export(warehouse, store, args.run_date, keep=args.keep, remote=remote)
            finally:
                warehouse.close()
        elif args.command == "snapshots":
            current = _current_id(store)
            for manifest in store.published():
                marker = "*" if manifest["snapshot_id"] == current else " "
                print(
                    f"{marker} {manifest['snapshot_id']}  run_date {manifest['run_date']}  "
                    f"{json.dumps(manifest['row_counts'])}"
                )
        else:
            manifest = rollback(store, args.snapshot_id, remote=remote)
            print(f"published {manifest['snapshot_id']} (run_date {manifest['run_date']})")
    except (
        ExportError,
        StoreError,
        OSError,
        ValueError,
        KeyError,
        settings.SettingMissing,
        logs.LogLevelError,
    ) as error:
        print(f"tunesday-serving {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


def _pull(store: Store, every: float | None, keep: int) -> int:
    """One pull (exit 1 with its reason if it failed), or a pull every `every` seconds until killed."""
    remote = remotes.Remote(settings.required(settings.SNAPSHOT_REMOTE))
    logs.configure()
    if every is not None:
        if every <= 0:
            raise ValueError("--every must be a number of seconds above 0")
        remotes.pull_every(remote, store, every, keep)
    pulled, failed = remotes.pull_once(remote, store, keep)
    if failed or pulled is None:
        raise StoreError(failed or "the pull gave no result")
    if pulled.snapshot_id is None:
        print(f"nothing published on {remote.url} yet")
    elif pulled.downloaded:
        print(f"pulled {pulled.snapshot_id} ({pulled.downloaded:,} bytes in {pulled.seconds:.1f} s)")
    else:
        print(f"up to date: {pulled.snapshot_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
