"""What BigQuery would bill for a daily run and for a full rebuild, estimated from a DuckDB build.

    python bench/bigquery_cost.py [--listeners 3000] [--days 42] [--history-days 365]

1. Generates --listeners listeners' --days days of plays and builds the warehouse on DuckDB as
   `tunesday daily` does (`dbt build --selector daily`): a full build for the day before the
   last, then the daily (incremental) run for the last day. The SQL of both builds is kept
   (target/compiled: every model and data test).
2. Measures every table's size as BigQuery counts it, per column (INT64, FLOAT64, DATE and TIMESTAMP
   8 bytes a value, BOOL 1, STRING 2 plus its UTF-8 bytes, null 0), per day for the tables
   BigQuery partitions by day (the project parsed for BigQuery says which).
3. Reads, in every statement of each build, the columns and days it reads of each table
   (ci.bigquery_scans, after sqlglot's projection pushdown: BigQuery reads only the columns a query
   uses, through CTEs and `select *`). A view is read as the table under it; a count of a whole
   table is free (metadata).
4. Prices each read: some days of a partitioned table cost those days (the bench's mean day);
   every day of one costs --history-days of them; an unpartitioned table costs all of it. In the
   daily run a data test of a table partitioned by day reads the run's days (what
   macros/data_tests.sql does on BigQuery; DuckDB's SQL tests every day). An incremental model's
   write also reads its output twice (the temporary table and the partitions it replaces).
   Everything scales with the number of listeners (bytes per listener as in the bench; the
   catalog grows with them too).

Prints the largest reads of the daily run with their arithmetic, then the totals at 1 M, 10 M and
100 M listeners, daily and full rebuild; for the daily run also its bytes by what is read (the run's
days, the writes, tables read whole, every day), its largest single queries and how many pass the
default maximum_bytes_billed, every read of every day it makes and what each audit statement reads.
Not counted: BigQuery's 10 MB minimum per table a query reads, the lookups
a model makes when it compiles (its last day; the audits' count of the raw plays, and their recount
when plays came too late), the models' hooks (target/compiled holds a model's SQL only; a delete
from an unpartitioned table bills the whole table), the snapshot, and what the serving export reads.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import duckdb
import sqlglot
from sqlglot.optimizer.pushdown_projections import pushdown_projections
from sqlglot.optimizer.qualify import qualify

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from ci.bigquery_scans import partition_columns, table_scans  # noqa: E402
from tunesday import dbt, settings  # noqa: E402

EVENTS_PER_LISTENER_DAY = 10.9  # the generator's mean (bench/warehouse_bench.py)
SCALES = (1_000_000, 10_000_000, 100_000_000)
USD_PER_TIB = 6.25  # on-demand analysis price, US multi-region
MAX_BYTES_BILLED = 100e9  # the bigquery target's default maximum_bytes_billed (profiles.yml)
LOOKBACK_DAYS = 3  # var incremental_lookback_days
TIB = 2**40
# dbt's views read the base table under them (stg_ and quarantine_ select its rows by row_status).
VIEW_PREFIXES = ("stg_raw__", "quarantine_raw__")


@dataclass
class Table:
    """A table's BigQuery size: bytes per column, in total and per partition day."""

    name: str
    rows: int
    column_bytes: dict[str, int]
    day_bytes: dict[str, dict[str, int]] | None  # column -> {day: bytes}; None: not partitioned
    null_bytes: dict[str, int]  # column -> bytes in the __NULL__ partition

    def bytes_of(self, columns: set[str], days: list[str] | None) -> float:
        """Bytes of `columns` in `days` (None: every day, all of an unpartitioned table)."""
        columns = set(self.column_bytes) if "*" in columns else columns & set(self.column_bytes)
        if days is None or self.day_bytes is None:
            return sum(self.column_bytes[column] for column in columns)
        return sum(self.day_bytes[column].get(day, 0) for column in columns for day in days)


@dataclass
class Read:
    statement: str  # the model (or data test) the statement belongs to
    table: str  # the table read (a view's: the table under it)
    columns: set[str]
    kind: str  # "days" (some days), "history" (every day), "table" (unpartitioned),
    # "write" (an incremental model's write: some days of its own table)
    days: list[str]
    nulls: bool
    named: str = ""  # the relation the statement names (a view, or the table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listeners", type=int, default=3000)
    parser.add_argument("--days", type=int, default=42)
    parser.add_argument("--tracks", type=int, default=20_000)
    parser.add_argument("--history-days", type=int, default=365, help="days of plays BigQuery holds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dump", type=Path, help="also write every priced read to this JSON file")
    args = parser.parse_args()
    end_date = dt.date(2026, 11, 1)
    last_day = end_date - dt.timedelta(days=1)
    with tempfile.TemporaryDirectory(prefix="tunesday-bigquery-cost-") as tmp:
        tmp = Path(tmp)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tunesday.generate",
                "--users",
                str(args.listeners),
                "--tracks",
                str(args.tracks),
                "--days",
                str(args.days),
                "--seed",
                str(args.seed),
                "--end-date",
                end_date.isoformat(),
                "--out",
                str(tmp / "data"),
                "--workers",
                "2",
            ],
            cwd=PROJECT_DIR,
            check=True,
            capture_output=True,
        )
        env = dbt.duckdb_env(tmp / "work", tmp / "data" / "raw")
        sql = {}
        for label, day, extra in (
            ("full", last_day - dt.timedelta(days=1), ["--full-refresh"]),
            ("daily", last_day, []),
        ):
            result = dbt.run(["build", "--selector", "daily", *extra, "--vars", f"{{run_date: '{day}'}}"], env)
            if not result.success:
                sys.exit(result.describe())
            sql[label] = shutil.copytree(tmp / "work" / "target" / "compiled" / "tunesday", tmp / f"sql-{label}")
        manifest = json.loads((tmp / "work" / "target" / "manifest.json").read_text())
        kinds = {
            node["name"]: node["config"]["materialized"]
            for node in manifest["nodes"].values()
            if node["resource_type"] == "model"
        }
        partitions = bigquery_partitions(tmp / "bigquery-target")
        tables, schema = measure(Path(env[settings.DUCKDB_PATH]), partitions)
        history = args.history_days
        print(
            f"bench: {args.listeners:,} listeners, {args.days} days, "
            f"{tables['listening_events'].rows:,} raw plays; priced for {history} days of history\n"
        )
        costs = {}
        for label in ("daily", "full"):
            # A view's statement reads nothing: its readers read the table under it.
            reads = [
                read for read in statement_reads(sql[label], schema, partitions) if kinds.get(read.statement) != "view"
            ]
            written = []
            if label == "daily":
                reads = [tested_by_day(read, partitions, last_day) for read in reads]
                written = writes(sql[label], tables, partitions, last_day)
            costs[label] = price(reads + written, tables, history, args.days)
        report(costs, kinds, args.listeners)
        if args.dump:
            args.dump.write_text(
                json.dumps(
                    {
                        label: {
                            name: [{"bytes": size, "read": formula, "kind": kind} for size, formula, kind in parts]
                            for name, parts in priced.items()
                        }
                        for label, priced in costs.items()
                    },
                    indent=1,
                )
            )


def bigquery_partitions(target: Path) -> dict[str, str]:
    """The partition column of each table BigQuery partitions: the project parsed for BigQuery
    (no connection needed)."""
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target / "logs"),
        settings.TARGET: "bigquery",
        settings.BQ_PROJECT: "cost-estimate",
    }
    result = dbt.run(["parse"], env)
    if not result.success:
        sys.exit(result.describe())
    return partition_columns(json.loads((target / "manifest.json").read_text()))


def measure(path: Path, partitions: dict[str, str]) -> tuple[dict[str, Table], dict]:
    """Every table's BigQuery size per column (and per day when partitioned), and the schema of
    every table and view (for sqlglot's qualify)."""
    tables, schema = {}, {}
    with duckdb.connect(str(path), read_only=True) as con:
        relations = con.execute("""
            select table_catalog, table_schema, table_name, table_type from information_schema.tables
            where starts_with(table_schema, 'tunesday')
        """).fetchall()
        for catalog, schema_name, name, kind in relations:
            columns = con.execute(
                """
                select column_name, data_type from information_schema.columns
                where table_schema = ? and table_name = ? order by ordinal_position
            """,
                [schema_name, name],
            ).fetchall()
            schema.setdefault(catalog, {}).setdefault(schema_name, {})[name] = dict(columns)
            if kind == "VIEW" and name.startswith(VIEW_PREFIXES):
                continue
            tables[name] = measure_table(con, f'"{schema_name}"."{name}"', name, columns, partitions.get(name))
    return tables, schema


def value_bytes(column: str, data_type: str) -> str:
    """SQL of a value's BigQuery logical size."""
    quoted = f'"{column}"'
    if data_type == "VARCHAR":
        return f"coalesce(2 + strlen({quoted}), 0)"
    if data_type == "BOOLEAN":
        return f"case when {quoted} is null then 0 else 1 end"
    if data_type.endswith("[]"):
        element = "2 + strlen(x)" if data_type.startswith("VARCHAR") else "8"
        return f"coalesce(list_sum(list_transform({quoted}, x -> {element})), 0)"
    if data_type.startswith(("DECIMAL", "HUGEINT")):
        return f"case when {quoted} is null then 0 else 16 end"
    return f"case when {quoted} is null then 0 else 8 end"


def measure_table(con, relation: str, name: str, columns: list, partition: str | None) -> Table:
    sizes = ", ".join(f"sum({value_bytes(column, kind)})" for column, kind in columns)
    day = f'cast("{partition}" as date)' if partition else "null"
    rows = con.execute(f"select cast({day} as varchar), count(*), {sizes} from {relation} group by 1").fetchall()
    names = [column for column, _ in columns]
    column_bytes = {column: 0 for column in names}
    day_bytes = {column: {} for column in names} if partition else None
    null_bytes = {column: 0 for column in names}
    total_rows = 0
    for day_value, count, *sizes in rows:
        total_rows += count
        for column, size in zip(names, sizes):
            column_bytes[column] += int(size or 0)
            if partition and day_value is not None:
                day_bytes[column][day_value] = int(size or 0)
            elif partition:
                null_bytes[column] += int(size or 0)
    return Table(name, total_rows, column_bytes, day_bytes, null_bytes)


def statement_reads(compiled: Path, schema: dict, partitions: dict[str, str]) -> list[Read]:
    """The reads of every compiled model and data test."""
    reads = []
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    for path in sorted(compiled.rglob("*.sql")):
        statement = path.parent.name + "/" + path.stem if path.parent.name.endswith(".yml") else path.stem
        text = path.read_text()
        try:
            tree = pushdown_projections(
                qualify(
                    sqlglot.parse_one(text, read="duckdb"),
                    schema=schema,
                    dialect="duckdb",
                    validate_qualify_columns=False,
                )
            )
            text = tree.sql(dialect="duckdb")
        except Exception:  # noqa: BLE001 - sqlglot cannot qualify every statement: then all columns count
            pass
        for scan in table_scans(text, partitions, dialect="duckdb"):
            if scan.free:  # a count of a whole table: BigQuery answers it from metadata
                continue
            table, columns = scan.table, set(scan.columns)
            if table.startswith(VIEW_PREFIXES):
                table = "base_raw__" + table.split("__", 1)[1]
                columns.add("row_status")
            if scan.days is None and table in partitions:
                # A view over a table partitioned by day that has no day column (quarantine_raw__*):
                # every day of the table under it.
                reads.append(Read(statement, table, columns, "history", [], True, scan.table))
            elif scan.days is None:
                reads.append(Read(statement, table, columns, "table", [], False, scan.table))
            elif not scan.bounded:
                reads.append(Read(statement, table, columns, "history", [], True, scan.table))
            else:
                reads.append(
                    Read(statement, table, columns, "days", days_in(scan.days.intervals), scan.days.nulls, scan.table)
                )
    return reads


def days_in(intervals) -> list[str]:
    """The days (YYYY-MM-DD) of bounded ranges, up to the last day written (later ones: none)."""
    days = set()
    for low, high in intervals:
        if low == "now":
            continue
        first = dt.date.fromisoformat(low[:10])
        last = dt.date.fromisoformat(high[:10]) if high and high != "now" else dt.date(2026, 10, 31)
        if high and len(high) > 10 and high[11:19] == "00:00:00":
            last -= dt.timedelta(days=1)  # `ts < timestamp 'D'`: day D is not read
        days.update((first + dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1))
    return sorted(days)


def tested_by_day(read: Read, partitions: dict[str, str], run_date: dt.date) -> Read:
    """A data test of a table partitioned by day (or of the view over one that names its days)
    reads the daily run's days on BigQuery (macros/data_tests.sql); the DuckDB SQL reads all."""
    if "/" not in read.statement or read.kind != "history" or read.named not in partitions:
        return read
    days = [(run_date - dt.timedelta(days=n)).isoformat() for n in range(LOOKBACK_DAYS + 1)]
    return Read(read.statement, read.table, read.columns, "days", days, False, read.named)


def writes(compiled: Path, tables: dict[str, Table], partitions: dict[str, str], run_date: dt.date) -> list[Read]:
    """An incremental model's write: its new rows read twice (the temporary table, then the
    partitions they replace), here as the days of the lookback window."""
    reads = []
    for path in sorted((compiled / "models").rglob("*.sql")):
        name = path.stem
        if any(folder.name.endswith(".yml") for folder in path.parents):
            continue  # a test's SQL, or a unit test's fixture named after the model it stands for
        if name in partitions and name in tables and not name.startswith(VIEW_PREFIXES):
            days = [(run_date - dt.timedelta(days=n)).isoformat() for n in range(LOOKBACK_DAYS + 1)]
            reads += [Read(name, name, {"*"}, "write", days, False)] * 2
    return reads


def price(reads: list[Read], tables: dict[str, Table], history: int, bench_days: int) -> dict[str, list]:
    """Bytes of each read at the bench's scale, by statement: (bytes, formula, kind) triples."""
    priced = defaultdict(list)
    for read in reads:
        table = tables.get(read.table)
        if table is None:
            continue
        columns = f" ({', '.join(sorted(read.columns))[:70]})"
        if read.kind == "history" and table.day_bytes is not None:
            per_day = table.bytes_of(read.columns, None) / bench_days
            size, formula = per_day * history, f"{read.table}, every day: {mb(per_day)}/day x {history} days"
        elif read.kind in ("days", "write") and table.day_bytes is not None:
            size = table.bytes_of(read.columns, read.days)
            if read.nulls:
                size += sum(
                    bytes_
                    for column, bytes_ in table.null_bytes.items()
                    if "*" in read.columns or column in read.columns
                )
            formula = f"{read.table}, {len(read.days)} days: {mb(size / max(len(read.days), 1))}/day x {len(read.days)}"
        else:
            size = table.bytes_of(read.columns, None)
            formula = f"{read.table}, whole: {mb(size)}"
        priced[read.statement].append((size, formula + columns, read.kind))
    return priced


def category(statement: str, kinds: dict[str, str]) -> str:
    if "/" in statement:
        return "data tests"
    if statement.startswith(("audit_", "int_audit_")):
        return "audits"
    return "incremental models" if kinds.get(statement) == "incremental" else "other models"


def mb(value: float) -> str:
    return f"{value / 1e6:,.2f} MB"


def human(value: float) -> str:
    for unit, size in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if value >= size:
            return f"{value / size:,.1f} {unit}"
    return f"{value:,.0f} B"


def report(costs: dict, kinds: dict[str, str], listeners: int) -> None:
    """Per build: the largest statements with their reads, the total per category, at the
    bench's scale and at each of SCALES (bytes scale with listeners)."""
    header = "".join(f"{n:>13,}" for n in SCALES)
    for label in ("daily", "full"):
        by_statement = {name: sum(size for size, _, _ in parts) for name, parts in costs[label].items()}
        total = sum(by_statement.values())
        print(f"== {label}: {human(total)} at the bench's scale")
        for name, size in sorted(by_statement.items(), key=lambda item: -item[1])[:10]:
            print(f"  {name[-58:]:58s} {human(size):>10s} {100 * size / total:5.1f} %  [{category(name, kinds)}]")
            for part, formula, _ in sorted(costs[label][name], key=lambda item: -item[0])[:2]:
                print(f"      {human(part):>10s}  {formula}")
        print(f"  {'listeners:':58s}{header}")
        groups = defaultdict(float)
        history = defaultdict(float)
        for name, parts in costs[label].items():
            groups[category(name, kinds)] += sum(size for size, _, _ in parts)
            history[category(name, kinds)] += sum(size for size, _, kind in parts if kind == "history")
        for group in ("incremental models", "other models", "audits", "data tests"):
            row = "".join(f"{human(groups[group] * n / listeners):>13s}" for n in SCALES)
            print(f"  {group:58s}{row}")
            if label == "daily" and history[group]:
                row = "".join(f"{human(history[group] * n / listeners):>13s}" for n in SCALES)
                print(f"  {'  of which reads of every day':58s}{row}")
        row = "".join(f"{human(total * n / listeners):>13s}" for n in SCALES)
        print(f"  {'total':58s}{row}")
        row = "".join(f"{'$' + format(total * n / listeners / TIB * USD_PER_TIB, ',.0f'):>13s}" for n in SCALES)
        print(f"  {'on demand':58s}{row}\n")
        if label == "daily":
            by_kind(costs[label], listeners)
            largest_queries(costs[label], kinds, listeners)
            every_day(costs[label], kinds, listeners)


def by_kind(costs: dict, listeners: int) -> None:
    """The daily run's bytes by what is read, whatever reads it: some days of a partitioned table,
    the incremental models' writes, unpartitioned tables whole, every day of a partitioned one."""
    header = "".join(f"{n:>13,}" for n in SCALES)
    print(f"  {'by what is read':58s}{header}")
    totals = defaultdict(float)
    for parts in costs.values():
        for size, _, kind in parts:
            totals[kind] += size
    for kind, label in (
        ("days", "some days of partitioned tables (the run's days)"),
        ("write", "incremental models' writes (their new days, twice)"),
        ("table", "unpartitioned tables, whole"),
        ("history", "every day of partitioned tables"),
    ):
        row = "".join(f"{human(totals[kind] * n / listeners):>13s}" for n in SCALES)
        print(f"  {label:58s}{row}")
    print()


def largest_queries(costs: dict, kinds: dict[str, str], listeners: int) -> None:
    """The daily run's largest single queries (a statement's reads; an incremental model's write is
    another query), and how many statements pass the default maximum_bytes_billed at each scale."""
    header = "".join(f"{n:>13,}" for n in SCALES)
    queries = {name: sum(size for size, _, kind in parts if kind != "write") for name, parts in costs.items()}
    print(f"  largest single queries of the daily run{' ' * 19}{header}")
    for name, size in sorted(queries.items(), key=lambda item: -item[1])[:8]:
        row = "".join(f"{human(size * n / listeners):>13s}" for n in SCALES)
        print(f"  {name[-58:]:58s}{row}")
    row = "".join(f"{sum(size * n / listeners > MAX_BYTES_BILLED for size in queries.values()):>13,}" for n in SCALES)
    print(f"  {'queries over ' + human(MAX_BYTES_BILLED) + ' (the default cap)':58s}{row}\n")


def every_day(costs: dict, kinds: dict[str, str], listeners: int) -> None:
    """Every read of every day the daily run makes (what grows with the years), largest first, with
    its arithmetic and its bytes at each of SCALES; then each audit statement's total."""
    header = "".join(f"{n:>13,}" for n in SCALES)
    print(f"  reads of every day in the daily run{' ' * 22}{header}")
    reads = sorted(
        ((size, name, formula) for name, parts in costs.items() for size, formula, kind in parts if kind == "history"),
        reverse=True,
    )
    for size, name, formula in reads:
        row = "".join(f"{human(size * n / listeners):>13s}" for n in SCALES)
        print(f"  {name[-58:]:58s}{row}\n      {formula}")
    print(f"\n  audit statements in the daily run{' ' * 25}{header}")
    audits = {
        name: sum(size for size, _, _ in parts) for name, parts in costs.items() if category(name, kinds) == "audits"
    }
    for name, size in sorted(audits.items(), key=lambda item: -item[1]):
        row = "".join(f"{human(size * n / listeners):>13s}" for n in SCALES)
        print(f"  {name[-58:]:58s}{row}")
        for part, formula, _ in sorted(costs[name], key=lambda item: -item[0])[:3]:
            print(f"      {human(part * SCALES[-1] / listeners):>10s}  {formula}")
    print()


if __name__ == "__main__":
    main()
