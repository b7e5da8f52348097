"""Static check of SQL compiled for BigQuery: it must parse, and call only BigQuery functions.

CI cannot reach BigQuery, so it compiles the dbt project for the BigQuery target and checks the
files dbt writes (`<target-path>/compiled/tunesday/**/*.sql`, `<target-path>/run/tunesday/**/*.sql`):

    python -m ci.bigquery_sql target/compiled target/run

Two kinds of problem:

* parse_error: sqlglot's BigQuery dialect cannot parse the file, or the file uses syntax that
  sqlglot's BigQuery dialect accepts but BigQuery does not (FOREIGN_SYNTAX: DuckDB's `::` casts,
  `{...}` literals, `->` lambdas, ILIKE, ...).
* unknown_function: a call to a function BigQuery does not have. sqlglot parses any `name(...)`
  without complaint (DuckDB's `epoch_ms(x)`, `list_value(1, 2)`, `strftime(ts, '%Y')` all parse
  as BigQuery), and it renames the functions it knows (BigQuery's dialect accepts `datediff(...)`
  and keeps only a canonical DateDiff), so the parse tree cannot say what was written. The
  names come from the token stream instead: every name immediately followed by `(`, as written,
  with its namespace (`net.host`, `hll_count.merge`) and without a `safe.` prefix. Names that are
  followed by `(` but are not calls (the table in `insert into t (a, b)`, `create table t (...)`,
  keywords such as `over (`, `in (`, `options(`, type parameters `numeric(10, 2)`, the date part
  `week(monday)`, `select * replace (...)`) are told apart by the parse tree where it knows the
  position (table and column-definition identifiers, function nodes) and by the surrounding
  tokens otherwise. Each remaining name must be in BIGQUERY_FUNCTIONS (bigquery_functions.txt)
  or be a function the same file creates (`create temp function f(...)`).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.dialects.bigquery import BigQuery
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

FUNCTIONS_FILE = Path(__file__).with_name("bigquery_functions.txt")


def load_function_names(path: Path = FUNCTIONS_FILE) -> frozenset[str]:
    """Names in a function list file: one a line, `#` comments, case-insensitive."""
    names = set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        name = raw.split("#", 1)[0].strip().lower()
        if name:
            names.add(name)
    return frozenset(names)


BIGQUERY_FUNCTIONS: frozenset[str] = load_function_names()

# Unquoted words that are followed by `(` in valid BigQuery without being a call: clause and
# operator keywords (`over (`, `in (`, `values (`, `using (`, `options(`, `insert (` in MERGE,
# `set (` in scripts, `system (10 percent)`, `rollup (`...). None of them is a BigQuery function
# (a test keeps the two sets apart).
NOT_CALL_WORDS = frozenset(
    {
        "all",
        "and",
        "any",
        "as",
        "assert",
        "at",
        "between",
        "by",
        "cluster",
        "cube",
        "data",
        "default",
        "define",
        "delete",
        "distinct",
        "do",
        "else",
        "elseif",
        "end",
        "except",
        "files",
        "for",
        "from",
        "group",
        "having",
        "ignore",
        "in",
        "insert",
        "intersect",
        "interval",
        "into",
        "is",
        "join",
        "key",
        "like",
        "limit",
        "match_recognize",
        "matched",
        "measures",
        "merge",
        "not",
        "of",
        "on",
        "options",
        "or",
        "order",
        "over",
        "partition",
        "pattern",
        "pivot",
        "qualify",
        "recursive",
        "respect",
        "return",
        "returns",
        "rollup",
        "row",
        "rows",
        "select",
        "set",
        "sets",
        "some",
        "system",
        "system_time",
        "table",
        "tablesample",
        "then",
        "union",
        "unpivot",
        "until",
        "update",
        "using",
        "values",
        "when",
        "where",
        "while",
        "window",
        "with",
    }
)

# After one of these words (with an optional `if not exists` between), `name (` defines or names
# a table, a view, a routine, or a column list: `insert into t (a, b)`, `create table t (...)`,
# `create temp function f(x int64)`, `call ds.proc(1)`, `references t (id)`.
DEFINITION_WORDS = frozenset(
    {
        "call",
        "function",
        "index",
        "insert",
        "into",
        "model",
        "procedure",
        "references",
        "table",
        "view",
    }
)
ROUTINE_WORDS = frozenset({"function"})

# BigQuery's parameterized types: `numeric(10, 2)`, `string(20)` in casts and column definitions.
PARAMETERIZED_TYPES = frozenset({"bignumeric", "bigdecimal", "bytes", "decimal", "numeric", "string"})
WEEKDAYS = frozenset({"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"})

# Syntax that sqlglot's BigQuery dialect accepts but BigQuery rejects: DuckDB and Postgres habits.
# Reported as parse errors (BigQuery would not parse it), first occurrence per file.
FOREIGN_SYNTAX: dict[TokenType, str] = {
    TokenType.DCOLON: "`::` casts (write cast(x as type))",
    TokenType.L_BRACE: "`{...}` struct or map literals (write struct(...))",
    TokenType.ARROW: "`->` (lambdas, JSON arrows)",
    TokenType.DARROW: "`->>` (write json_value(...))",
    TokenType.COLON_EQ: "`:=` named arguments",
    TokenType.ILIKE: "ILIKE (write lower(x) like ...)",
    TokenType.GLOB: "GLOB",
    TokenType.SIMILAR_TO: "SIMILAR TO",
    TokenType.ASOF: "ASOF joins",
    TokenType.NULLSAFE_EQ: "`<=>` (write `is not distinct from`)",
}

# Parse-tree parents whose identifiers name tables, aliases or columns, never functions.
_NAME_PARENTS = (exp.Table, exp.TableAlias, exp.Schema, exp.ColumnDef, exp.Reference)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class Problem:
    """One finding. `line` is 1-based when known; `name` is the function for unknown_function."""

    source: str
    kind: str  # "parse_error" | "unknown_function"
    detail: str
    line: int | None = None
    name: str | None = None

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.kind}: {self.detail}"


@dataclass
class Report:
    problems: list[Problem]
    statements: int = 0
    files: int = 0


def check_sql(sql: str, source: str = "<sql>", extra_functions: Iterable[str] = ()) -> list[Problem]:
    """Problems in one SQL text (one or more `;`-separated statements)."""
    return _check_text(sql, source, _allowed(extra_functions)).problems


def check_paths(paths: Sequence[Path], extra_functions: Iterable[str] = ()) -> list[Problem]:
    """Problems in the given .sql files and in every *.sql under the given directories."""
    return _check_paths(paths, _allowed(extra_functions)).problems


def sql_files(paths: Sequence[Path]) -> list[Path]:
    """The files to check: files as given, directories searched recursively for *.sql."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.sql") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")
    return files


def _allowed(extra: Iterable[str]) -> frozenset[str]:
    return BIGQUERY_FUNCTIONS | {name.strip().lower() for name in extra if name.strip()}


def _check_paths(paths: Sequence[Path], allowed: frozenset[str]) -> Report:
    report = Report(problems=[])
    for path in sql_files(paths):
        one = _check_text(path.read_text(encoding="utf-8"), str(path), allowed)
        report.problems.extend(one.problems)
        report.statements += one.statements
        report.files += 1
    return report


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """sqlglot logs a warning for each statement it keeps as a raw Command; keep CI output clean."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _check_text(sql: str, source: str, allowed: frozenset[str]) -> Report:
    problems: list[Problem] = []
    try:
        tokens = BigQuery().tokenize(sql)
    except TokenError as error:
        return Report([Problem(source, "parse_error", _message(error))], statements=1, files=1)

    trees: list[exp.Expression] = []
    try:
        with _quiet_sqlglot():
            trees = [tree for tree in sqlglot.parse(sql, read="bigquery") if tree is not None]
        statements = len(trees)
    except (ParseError, TokenError) as error:
        line = None
        if isinstance(error, ParseError) and error.errors:
            line = error.errors[0].get("line")
        problems.append(Problem(source, "parse_error", _message(error), line=line))
        statements = _count_statements(tokens)

    problems.extend(_foreign_syntax(sql, tokens, source))
    for name, line in _function_calls(sql, tokens, trees):
        if name not in allowed:
            problems.append(
                Problem(
                    source,
                    "unknown_function",
                    f"{name}() is not a BigQuery function",
                    line=line,
                    name=name,
                )
            )
    return Report(problems, statements=statements, files=1)


def _foreign_syntax(sql: str, tokens: Sequence[Token], source: str) -> list[Problem]:
    found: dict[str, int] = {}
    for token in tokens:
        what = FOREIGN_SYNTAX.get(token.token_type)
        if what is None and token.token_type == TokenType.EQ and token.text == "==":
            what = "`==` (write =)"
        if what is None and token.token_type == TokenType.VAR and token.text.startswith("$"):
            what = "`$n` positional parameters (write @name)"
        if what is not None and what not in found:
            found[what] = token.line
    return [
        Problem(source, "parse_error", f"BigQuery has no {what}; sqlglot accepts it", line=line)
        for what, line in found.items()
    ]


def _message(error: Exception) -> str:
    return " ".join(_ANSI.sub("", str(error)).split())


def _count_statements(tokens: Sequence[Token]) -> int:
    count, open_statement = 0, False
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            count, open_statement = count + open_statement, False
        else:
            open_statement = True
    return count + open_statement


def function_calls(sql: str) -> list[tuple[str, int | None]]:
    """(lower-case name, line) of every function call in `sql`, in order; for debugging the check."""
    tokens = BigQuery().tokenize(sql)
    try:
        with _quiet_sqlglot():
            trees = [tree for tree in sqlglot.parse(sql, read="bigquery") if tree is not None]
    except (ParseError, TokenError):
        trees = []
    return _function_calls(sql, tokens, trees)


def _function_calls(sql: str, tokens: Sequence[Token], trees: Sequence[exp.Expression]) -> list[tuple[str, int | None]]:
    """Calls of functions not defined in this text: (lower-case name as written, line)."""
    tree_calls: set[int] = set()  # start offsets of function names sqlglot parsed as calls
    anonymous: dict[int, tuple[str, int | None]] = {}  # start -> (name, line) of unknown calls
    not_calls: set[int] = set()  # start offsets of table / alias / column identifiers
    defined: set[str] = set()  # routines created in this text
    for tree in trees:
        for node in tree.walk():
            start = node.meta.get("start") if node.meta else None
            if isinstance(node, exp.Func) and start is not None:
                tree_calls.add(start)
                if isinstance(node, exp.Anonymous) and isinstance(node.this, str):
                    anonymous[start] = (node.this.lower(), node.meta.get("line"))
            elif isinstance(node, exp.Identifier) and isinstance(node.parent, _NAME_PARENTS):
                if start is not None:
                    not_calls.add(start)
            if isinstance(node, exp.UserDefinedFunction) and isinstance(node.this, exp.Table):
                defined.add(".".join(part.name for part in node.this.parts).lower())

    calls: list[tuple[str, int | None]] = []
    seen_starts: set[int] = set()
    for i in range(len(tokens) - 1):
        token = tokens[i]
        if tokens[i + 1].token_type != TokenType.L_PAREN or not _is_name(sql, token):
            continue
        seen_starts.add(token.start)
        parts, first = _dotted_name(sql, tokens, i)
        name = ".".join(parts).lower()
        verdict = _classify(sql, tokens, i, first, parts, tree_calls, not_calls)
        if verdict == "definition":
            if _definition_word(sql, tokens, first) in ROUTINE_WORDS:
                defined.add(name)
            continue
        if verdict != "call":
            continue
        if len(parts) > 1 and parts[0].lower() == "safe":
            name = ".".join(parts[1:]).lower()
        calls.append((name, token.line))

    # Unknown calls the parse tree found but the token scan did not (it should find them all).
    for start, (name, line) in sorted(anonymous.items()):
        if start not in seen_starts:
            calls.append((name, line))

    return [(name, line) for name, line in calls if name not in defined]


def _is_name(sql: str, token: Token) -> bool:
    """An unquoted word or a backquoted identifier, not a string or number literal."""
    text = sql[token.start : token.end + 1]
    if token.token_type == TokenType.IDENTIFIER:
        return text.startswith("`")
    return bool(_WORD.match(text))


def _is_quoted(sql: str, token: Token) -> bool:
    return sql[token.start] == "`"


def _dotted_name(sql: str, tokens: Sequence[Token], i: int) -> tuple[list[str], int]:
    """The parts of `a.b.c` ending at token i, and the index of its first token."""
    first = i
    while first >= 2 and tokens[first - 1].token_type == TokenType.DOT and _is_name(sql, tokens[first - 2]):
        first -= 2
    parts: list[str] = []
    for token in tokens[first : i + 1 : 2]:
        parts.extend(token.text.split(".") if _is_quoted(sql, token) else [token.text])
    return parts, first


def _classify(
    sql: str,
    tokens: Sequence[Token],
    i: int,
    first: int,
    parts: list[str],
    tree_calls: set[int],
    not_calls: set[int],
) -> str:
    """'call', 'definition' (a routine, table or column list being named) or 'other'."""
    token = tokens[i]
    word = token.text.lower() if not _is_quoted(sql, token) and len(parts) == 1 else None

    if token.start in not_calls:
        return "definition" if _definition_word(sql, tokens, first) else "other"
    if word == "week" and _is_weekday_argument(tokens, i):  # date part WEEK(MONDAY)
        return "other"
    if word in PARAMETERIZED_TYPES and _only_integer_arguments(tokens, i):  # numeric(10, 2)
        return "other"
    if token.start in tree_calls:
        return "call"
    if word in NOT_CALL_WORDS:
        return "other"
    if word == "replace" and i > 0 and tokens[i - 1].token_type in (TokenType.STAR, TokenType.R_PAREN):
        return "other"  # select * replace (expr as column)
    if _definition_word(sql, tokens, first):
        return "definition"
    return "call"


def _definition_word(sql: str, tokens: Sequence[Token], first: int) -> str | None:
    """The word before a name starting at token `first` if it introduces a definition or table."""
    k = first
    # Unquoted project names may hold dashes and digits (my-project-123.ds.t): step back over
    # tokens glued to the name.
    while (
        k > 0
        and tokens[k - 1].end + 1 == tokens[k].start
        and tokens[k - 1].token_type
        in (
            TokenType.DASH,
            TokenType.NUMBER,
            TokenType.DOT,
            TokenType.VAR,
        )
    ):
        k -= 1
    words = [t.text.lower() for t in tokens[max(0, k - 4) : k]]
    if words[-3:] == ["if", "not", "exists"]:
        words = words[:-3]
    if words and words[-1] in DEFINITION_WORDS:
        return words[-1]
    return None


def _is_weekday_argument(tokens: Sequence[Token], i: int) -> bool:
    return (
        i + 3 < len(tokens) and tokens[i + 2].text.lower() in WEEKDAYS and tokens[i + 3].token_type == TokenType.R_PAREN
    )


def _only_integer_arguments(tokens: Sequence[Token], i: int) -> bool:
    j = i + 2
    saw_number = False
    while j < len(tokens) and tokens[j].token_type in (TokenType.NUMBER, TokenType.COMMA):
        saw_number |= tokens[j].token_type == TokenType.NUMBER
        j += 1
    return saw_number and j < len(tokens) and tokens[j].token_type == TokenType.R_PAREN


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ci.bigquery_sql",
        description="Check SQL compiled for BigQuery: it must parse (sqlglot, BigQuery dialect) "
        "and call only functions BigQuery has.",
    )
    parser.add_argument("paths", nargs="+", type=Path, help=".sql files, or directories searched for *.sql")
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="NAME",
        help="also accept this function name (e.g. a persistent UDF `dataset.fn`); repeatable",
    )
    args = parser.parse_args(argv)

    try:
        report = _check_paths(args.paths, _allowed(args.allow))
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if report.files == 0:
        print("error: no .sql file found in " + ", ".join(map(str, args.paths)), file=sys.stderr)
        return 2
    for problem in report.problems:
        print(problem)
    print(f"checked {report.statements} statements in {report.files} files: {len(report.problems)} problems")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
