"""Row-for-row parity of a table on two engines (DuckDB, BigQuery) without moving every row.

Fetching every row of every model from the BigQuery emulator through its REST API is slow
(about 1.2 million rows, over three minutes). So each engine first computes a fingerprint of the
table in SQL: the row count and four sums of 32-bit slices of an MD5 of a canonical text of each
row. Sums do not depend on row order and count duplicates, so equal fingerprints mean the same
multiset of rows (a collision needs the four 32-bit sums to agree by chance). Only a table whose
fingerprints differ has its rows fetched and compared in Python, as before, so a difference is
still shown row by row.

The canonical text is the same on both engines by construction (`fingerprint_sql`): floats
rounded to 6 decimals and written as an integer of millionths, timestamps as microseconds since
the epoch, booleans as true/false, dates as YYYY-MM-DD. The Python comparison (`normalise`)
rounds floats to the same 6 decimals.

Two engines can sum the same floats in different orders and differ in the last bits; once in a
while such a value sits on a rounding step of the 6th decimal and rounds one millionth apart
(0.684773 on DuckDB, 0.684772 on BigQuery: a weighted mean of fct_user_audio_profile). So rows
left over by the exact comparison are paired once more (`_pair_within_a_step`): equal in every
field but floats, and those at most one step of the 6th decimal apart. Two steps are a difference.
"""

from __future__ import annotations

import datetime as dt
import decimal
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    """The few spellings that differ between DuckDB and BigQuery in a fingerprint query."""

    md5_hex: str  # lowercase hex MD5 of a string, `{}` the string
    epoch_micros: str  # microseconds since the epoch of a timestamp, `{}` the timestamp
    integer: str
    string: str
    kinds: dict[str, str]  # the engine's type name -> the kind of value it holds


DUCKDB = Dialect(
    md5_hex="md5({})",
    epoch_micros="epoch_us({})",
    integer="bigint",
    string="varchar",
    kinds={
        "VARCHAR": "text",
        "BIGINT": "integer",
        "INTEGER": "integer",
        "HUGEINT": "integer",
        "DOUBLE": "float",
        "FLOAT": "float",
        "DATE": "date",
        "TIMESTAMP": "timestamp",
        "TIMESTAMP WITH TIME ZONE": "timestamp",
        "BOOLEAN": "boolean",
    },
)
BIGQUERY = Dialect(
    md5_hex="to_hex(md5({}))",
    epoch_micros="unix_micros({})",
    integer="int64",
    string="string",
    kinds={
        "STRING": "text",
        "INTEGER": "integer",
        "INT64": "integer",
        "FLOAT": "float",
        "FLOAT64": "float",
        "NUMERIC": "float",
        "BIGNUMERIC": "float",
        "DATE": "date",
        "TIMESTAMP": "timestamp",
        "BOOLEAN": "boolean",
        "BOOL": "boolean",
    },
)
FLOAT_DECIMALS = 6
# Two values rounded to FLOAT_DECIMALS that straddle one rounding step are 1e-6 apart, give or
# take the binary representation of the decimals; two steps (2e-6) are a difference.
FLOAT_STEP_TOLERANCE = 1.5 * 10**-FLOAT_DECIMALS
COLUMNS_PER_GROUP = 8


def kind_of(dialect: Dialect, type_name: str) -> str:
    """The kind of value a column type holds (DECIMAL(p, s) is a float, as `normalise` treats it);
    a type without a canonical text here (an array, a struct) is an error to fix here."""
    name = type_name.upper()
    if name.startswith("DECIMAL") or name.startswith("NUMERIC"):
        return "float"
    if name not in dialect.kinds:
        raise ValueError(f"parity has no canonical text for a column of type {type_name}")
    return dialect.kinds[name]


def _as_text(dialect: Dialect, column: str, kind: str) -> str:
    """A column's value as text, null when it is null."""
    if kind == "text":
        return column
    if kind == "float":
        return f"cast(cast(round({column} * {10**FLOAT_DECIMALS}) as {dialect.integer}) as {dialect.string})"
    if kind == "timestamp":
        return f"cast({dialect.epoch_micros.format(column)} as {dialect.string})"
    return f"cast({column} as {dialect.string})"  # integer, boolean (true/false), date (YYYY-MM-DD)


def fingerprint_sql(dialect: Dialect, relation: str, columns: Sequence[tuple[str, str]], where: str = "") -> str:
    """The query of a table's fingerprint: (rows, four sums of 32-bit slices of the row MD5s).

    `columns` are (name, kind) pairs in a fixed order, `relation` a table (or a subquery in
    parentheses), `where` an optional filter clause written in SQL both engines read.

    A row's text joins its fields with '|'; a null field is 'n'. The text of a number, date,
    timestamp or boolean has no '|' and is never 'n'; a string is prefixed by its length and ':'
    (so a '|' inside it cannot be mistaken for a separator). One text, one row: no two different
    rows share a text. Wide rows are hashed in groups of columns, then the groups' hashes
    together: on a chain of about 20 concatenated columns the emulator fails ("Catalog
    test-project does not exist": it leaves the table name as written). The SQL is kept small
    (char_length, not length, which it expands for BYTES): the emulator's cost grows with the
    size of the query's syntax tree far more than with the rows."""
    fields = []
    for name, kind in columns:
        text = _as_text(dialect, name, kind)
        if kind == "text":
            text = f"cast(char_length({name}) as {dialect.string}) || ':' || {name}"
        fields.append(f"coalesce({text}, 'n')")
    groups = [
        dialect.md5_hex.format("concat(" + ", '|', ".join(fields[start : start + COLUMNS_PER_GROUP]) + ")")
        for start in range(0, len(fields), COLUMNS_PER_GROUP)
    ]
    row_hash = groups[0] if len(groups) == 1 else dialect.md5_hex.format("concat(" + ", ".join(groups) + ")")
    slices = ", ".join(f"cast('0x' || substr(row_hash, {1 + 8 * i}, 8) as {dialect.integer}) as s{i}" for i in range(4))
    return (
        f"select count(*), sum(s0), sum(s1), sum(s2), sum(s3) from ("
        f"select {slices} from (select {row_hash} as row_hash from {relation} {where}) as hashed"
        f") as sliced"
    )


def normalise(value):
    """A fetched value as both engines' rows compare in Python: floats and decimals rounded to
    6 decimals, timestamps in UTC without a zone, dates and times as ISO text."""
    if isinstance(value, float | decimal.Decimal):
        return round(float(value), FLOAT_DECIMALS)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class Side:
    """One engine's view of a table: its fingerprint, and how to fetch its rows if needed."""

    fingerprint: tuple
    fetch: Callable[[], list[tuple]]


def difference(table: str, columns: Sequence[str], duck: Side, bigquery: Side) -> str | None:
    """None when the table holds the same rows on both engines, else what differs, with up to
    three rows found only on each side. Rows are fetched only when the fingerprints differ."""
    if duck.fingerprint == bigquery.fingerprint:
        return None
    duck_rows = [tuple(map(normalise, row)) for row in duck.fetch()]
    bq_rows = [tuple(map(normalise, row)) for row in bigquery.fetch()]
    duck_counts, bq_counts = Counter(duck_rows), Counter(bq_rows)
    only_duck = list((duck_counts - bq_counts).elements())
    only_bq = list((bq_counts - duck_counts).elements())
    if not only_duck and not only_bq:
        # Equal rows, different fingerprints: a column whose text differs by engine (a type of
        # another kind there, a float on the edge of a rounding step). The check still holds, but
        # this table's rows are fetched on every run: worth a look.
        warnings.warn(f"{table}: fingerprints differ but rows are equal; see parity.py", stacklevel=2)
        return None
    if _pair_within_a_step(only_duck, only_bq):
        warnings.warn(
            f"{table}: {len(only_duck)} rows differ by one step of the {FLOAT_DECIMALS}th decimal "
            f"in a float, e.g. {only_duck[0]} and {only_bq[0]}; see parity.py",
            stacklevel=2,
        )
        return None
    return (
        f"{table} ({len(duck_rows)} rows on DuckDB, {len(bq_rows)} on BigQuery), columns {list(columns)}:\n"
        f"  only on DuckDB:   {only_duck[:3]}\n  only on BigQuery: {only_bq[:3]}"
    )


def _pair_within_a_step(duck_rows: list[tuple], bq_rows: list[tuple]) -> bool:
    """Whether the rows of both sides pair off one to one, each pair equal in every field but
    floats and its floats at most FLOAT_STEP_TOLERANCE apart. Rows are grouped on their other
    fields (a float's place kept, so a null is not taken for a float elsewhere in the row) and
    paired in order of their floats within a group."""

    def groups(rows: list[tuple]) -> dict[tuple, list[tuple]]:
        grouped: dict[tuple, list[tuple]] = {}
        for row in rows:
            others = tuple(_A_FLOAT if isinstance(value, float) else value for value in row)
            grouped.setdefault(others, []).append(tuple(value for value in row if isinstance(value, float)))
        return {others: sorted(floats) for others, floats in grouped.items()}

    duck_groups, bq_groups = groups(duck_rows), groups(bq_rows)
    if duck_groups.keys() != bq_groups.keys():
        return False
    for others, duck_floats in duck_groups.items():
        bq_floats = bq_groups[others]
        if len(duck_floats) != len(bq_floats):
            return False
        for duck_row, bq_row in zip(duck_floats, bq_floats, strict=True):
            if any(abs(x - y) > FLOAT_STEP_TOLERANCE for x, y in zip(duck_row, bq_row, strict=True)):
                return False
    return True


_A_FLOAT = object()  # the place of a float in a row's other fields (`_pair_within_a_step`)
