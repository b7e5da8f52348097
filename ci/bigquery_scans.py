"""What a statement reads of each table: the columns, and the days of a partitioned table.

BigQuery bills a query for the columns it reads, in the partitions it cannot prune, and it prunes
only on filters of the partitioning column itself by constants (`d >= date '2026-10-28'`,
`ts < timestamp '2026-11-01'`, `ts > current_timestamp()`, `ts is null`), never on a subquery's
result nor on a function of the column. This module finds, for every table a statement reads,
which days those filters leave:

    for scan in table_scans(sql, partition_columns={"fct_user_track_days": "listened_date"}):
        scan.table, scan.columns, scan.days, scan.bounded, scan.free

It reads each SELECT's own WHERE (the conditions ANDed there), the way the models are written:
a filter on a CTE's output is not pushed down into the CTE. A SELECT that reads one table alone
and names none of its columns (`select count(*) from t`) is free: BigQuery answers it from the
table's metadata and bills no bytes, whatever the days. The emulator cannot show pruning, so
tests/python/test_bigquery_path.py proves it on the statements the emulator ran, and
bench/bigquery_cost.py prices the reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

# A partition column's value range: (lowest, highest) as text ('2026-10-28', '2026-10-28
# 00:00:00'), None where unbounded. NOW stands for current_timestamp(), later than any day written.
Interval = tuple[str | None, str | None]
NOW = "now"
EVERYTHING: tuple[Interval, ...] = ((None, None),)


@dataclass(frozen=True)
class Days:
    """The partitions a scan can read: value ranges of the partition column, and whether the
    rows where it is null (BigQuery's __NULL__ partition) are read."""

    intervals: tuple[Interval, ...]
    nulls: bool

    @property
    def bounded(self) -> bool:
        """Every range read starts at a constant: the scan cannot read every day."""
        return all(low is not None for low, _ in self.intervals)

    def describe(self) -> str:
        ranges = [f"[{low or '-inf'}, {high or '+inf'}]" for low, high in self.intervals]
        return " or ".join(ranges + (["null"] if self.nulls else [])) or "nothing"


ALL_DAYS = Days(EVERYTHING, True)


@dataclass(frozen=True)
class Scan:
    """One read of a table by a SELECT: which columns (`*` when all), which days (partitioned
    tables only, else None), and whether it is free (the SELECT reads this table alone and names
    no column: a count of its rows, which BigQuery takes from metadata)."""

    table: str
    alias: str
    columns: frozenset[str]
    days: Days | None
    free: bool = False

    @property
    def bounded(self) -> bool:
        return self.free or self.days is None or self.days.bounded


def table_scans(sql: str, partition_columns: Mapping[str, str], dialect: str = "bigquery") -> list[Scan]:
    """Every read of a table in `sql` (one or more statements), with the days of those named in
    `partition_columns` (table name -> its partitioning column)."""
    scans = []
    for tree in sqlglot.parse(sql, read=dialect):
        if tree is None:
            continue
        for statement in _selects_and_targets(tree):
            for scope in traverse_scope(statement):
                scans.extend(_scope_scans(scope, partition_columns))
    return scans


def _selects_and_targets(tree: exp.Expression) -> Iterable[exp.Expression]:
    """The parts of a statement scopes can be built from: the statement itself when it is a
    query, the queries inside a DML or DDL statement (`create table as`, `merge ... using`,
    `insert ... select`, `delete ... where x in (select ...)`) otherwise."""
    if isinstance(tree, exp.Query):
        yield tree
        return
    for query in tree.find_all(exp.Query):
        if not isinstance(query.parent, exp.Query) and not _inside_query(query):
            yield query
    if isinstance(tree, exp.Delete):
        yield from _delete_scans(tree)


def _inside_query(node: exp.Expression) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, exp.Query):
            return True
        parent = parent.parent
    return False


def _delete_scans(delete: exp.Delete) -> Iterable[exp.Expression]:
    """A DELETE reads its table where its WHERE says: scanned as `select * from t where ...`
    (its subqueries are scans of their own)."""
    select = exp.select("*").from_(delete.this.copy())
    where = delete.args.get("where")
    for conjunct in _conjuncts(where.this) if where is not None else []:
        if not conjunct.find(exp.Query):
            select = select.where(conjunct.copy())
    yield select


def _scope_scans(scope: Scope, partition_columns: Mapping[str, str]) -> list[Scan]:
    scans = []
    select = scope.expression
    conjuncts = _conjuncts(select.args.get("where").this) if select.args.get("where") else []
    tables = {name: source for name, source in scope.sources.items() if isinstance(source, exp.Table)}
    # The sources its FROM and JOINs name: a CTE's scope also lists the CTEs defined before it.
    single = len(scope.selected_sources) == 1
    for name, table in tables.items():
        columns = {
            column.name.lower() for column in scope.columns if column.table == name or (not column.table and single)
        }
        if any(isinstance(star, exp.Star) for star in select.expressions) or _star_of(select, name):
            columns.add("*")
        partition = partition_columns.get(table.name.lower())
        days = None
        if partition is not None:
            days = ALL_DAYS
            for conjunct in conjuncts:
                if _only_column(conjunct, name, partition, single=single):
                    days = _intersect(days, _days_of(conjunct, partition))
        free = single and len(tables) == 1 and not columns and not scope.columns
        scans.append(Scan(table=table.name.lower(), alias=name, columns=frozenset(columns), days=days, free=free))
    return scans


def _star_of(select: exp.Expression, name: str) -> bool:
    return any(
        isinstance(column, exp.Column) and isinstance(column.this, exp.Star) and column.table == name
        for column in select.expressions
    )


def _conjuncts(condition: exp.Expression) -> list[exp.Expression]:
    condition = _unwrap(condition)
    if isinstance(condition, exp.And):
        return _conjuncts(condition.left) + _conjuncts(condition.right)
    return [condition]


def _unwrap(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _only_column(condition: exp.Expression, alias: str, partition: str, single: bool) -> bool:
    """Whether `condition` refers to no column but the table's partition column (and no subquery)."""
    if condition.find(exp.Query):
        return False
    columns = list(condition.find_all(exp.Column))
    return bool(columns) and all(
        column.name.lower() == partition and (column.table == alias or (not column.table and single))
        for column in columns
    )


def _days_of(condition: exp.Expression, partition: str) -> Days:
    """The values of the partition column a condition on it alone lets through."""
    condition = _unwrap(condition)
    if isinstance(condition, exp.Or):
        left, right = _days_of(condition.left, partition), _days_of(condition.right, partition)
        return Days(left.intervals + right.intervals, left.nulls or right.nulls)
    if isinstance(condition, exp.And):
        return _intersect(_days_of(condition.left, partition), _days_of(condition.right, partition))
    if isinstance(condition, exp.Is) and _is_column(condition.this) and isinstance(condition.expression, exp.Null):
        return Days((), True)
    if isinstance(condition, exp.Not) and isinstance(_unwrap(condition.this), exp.Is):
        return Days(EVERYTHING, False)
    if isinstance(condition, exp.Between) and _is_column(condition.this):
        low, high = _constant(condition.args["low"]), _constant(condition.args["high"])
        return Days(((low, high),), False)
    comparisons = {exp.GTE: ">=", exp.GT: ">", exp.LTE: "<=", exp.LT: "<", exp.EQ: "="}
    flipped = {">=": "<=", ">": "<", "<=": ">=", "<": ">", "=": "="}
    for kind, op in comparisons.items():
        if isinstance(condition, kind):
            column, value = condition.this, condition.expression
            if not _is_column(column):
                column, value, op = value, column, flipped[op]
            constant = _constant(value)
            if not _is_column(column) or constant is None:
                return ALL_DAYS
            if op in (">=", ">"):
                return Days(((_next_day(constant) if op == ">" else constant, None),), False)
            if op in ("<=", "<"):
                return Days(((None, _next_day(constant, -1) if op == "<" else constant),), False)
            return Days(((constant, constant),), False)
    return ALL_DAYS


def _is_column(node: exp.Expression) -> bool:
    return isinstance(_unwrap(node), exp.Column)


def _constant(node: exp.Expression) -> str | None:
    """The text of a constant (a literal, a cast or typed literal of one, current_timestamp())."""
    node = _unwrap(node)
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return _constant(node.this)
    if isinstance(node, exp.Literal):
        return node.this
    if isinstance(node, (exp.CurrentTimestamp, exp.CurrentDate)) or (
        isinstance(node, exp.Anonymous) and node.name.lower() == "now"
    ):  # DuckDB's now()
        return NOW
    if isinstance(node, (exp.TsOrDsToDate, exp.TimeStrToTime, exp.Date, exp.Timestamp)) and node.this is not None:
        return _constant(node.this)
    return None


def _next_day(value: str, days: int = 1) -> str:
    """The day after (or before) a day's text: `d > '2026-10-27'` reads from 2026-10-28 on, and
    `ts < '2026-11-01'` up to 2026-10-31. Other constants (timestamps with a time, now) as they are."""
    if len(value) != 10:
        return value
    try:
        return (dt.date.fromisoformat(value) + dt.timedelta(days=days)).isoformat()
    except ValueError:
        return value


def _intersect(a: Days, b: Days) -> Days:
    intervals = []
    for low_a, high_a in a.intervals:
        for low_b, high_b in b.intervals:
            low = _pick(max, low_a, low_b)
            high = _pick(min, high_a, high_b)
            if low is None or high is None or low[:10] <= high[:10] or NOW in (low, high):
                intervals.append((low, high))
    return Days(tuple(intervals), a.nulls and b.nulls)


def _pick(choose, x: str | None, y: str | None) -> str | None:
    values = [value for value in (x, y) if value is not None]
    return choose(values) if values else None


def partition_columns(manifest: Mapping) -> dict[str, str]:
    """Each table's day partition column on BigQuery, by table name, from a manifest of the project
    parsed for BigQuery: the raw tables' (tunesday.load.bigquery.RAW_LAYOUT), the models' (their
    partition_by config, by day: a month's partitions hold a small history table), and
    stg_raw__listening_events', a view that passes base_raw__listening_events' partition_date
    through (BigQuery prunes through it)."""
    from tunesday.load.bigquery import RAW_LAYOUT

    columns = {table: layout.day_column for table, layout in RAW_LAYOUT.items() if layout.day_column}
    for node in manifest["nodes"].values():
        partition_by = node["config"].get("partition_by") if node["resource_type"] == "model" else None
        if partition_by and partition_by.get("granularity", "day") == "day":
            columns[node["name"]] = partition_by["field"]
    columns["stg_raw__listening_events"] = columns["base_raw__listening_events"]
    return columns
