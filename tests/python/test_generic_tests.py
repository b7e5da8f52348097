"""The project's generic data tests (tests/generic/), run by dbt on DuckDB over inline rows."""

import json
import re

import pytest

from tunesday import dbt

KEYED = (
    "(select * from (values ('u1', 't1', 1), ('u1', 't1', 2), ('u1', 't2', 1), ('u2', 't1', 1),"
    " (null, 't3', 1), (null, 't3', 2), ('u3', null, 1), ('u3', null, 2), ('u3', 't1', 1))"
    " as v(user_id, track_id, n)) as keyed"
)


def failing_rows(env: dict, implementation: str, relation: str, columns: list[str]) -> list[dict]:
    sql = f'{{{{ {implementation}test_unique_combination_of_columns("{relation}", {columns}) }}}}'
    result = dbt.run(["show", "--inline", sql, "--output", "json", "--limit", "-1"], env)
    assert result.success, result.describe()
    shown = json.loads(re.search(r"^\{\s*\"show\".*^\}", result.output, re.M | re.S).group(0))["show"]
    return shown


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    work = tmp_path_factory.mktemp("generic_tests")
    return dbt.duckdb_env(work, work / "raw")


@pytest.mark.parametrize("implementation", ["duckdb__", "default__"])
def test_unique_combination_of_columns_returns_each_repeated_key_once(env, implementation):
    """DuckDB's two-pass version (repeated hashes, then the exact key) finds the same rows as the
    plain GROUP BY: a repeated key, with nulls in it too (a GROUP BY puts nulls together), each
    once with its count; keys seen once are not reported."""
    repeated = failing_rows(env, implementation, KEYED, ["user_id", "track_id"])
    assert {(row["user_id"], row["track_id"], row["row_count"]) for row in repeated} == {
        ("u1", "t1", 2),
        (None, "t3", 2),
        ("u3", None, 2),
    }
    assert len(repeated) == 3
    assert failing_rows(env, implementation, KEYED, ["user_id", "track_id", "n"]) == []
