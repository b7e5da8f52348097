"""The table fingerprint that the BigQuery parity test compares (parity.py), on DuckDB: the same
rows in any order give the same fingerprint; any one changed value, of any kind, a moved
separator or a doubled row changes it; a float changed below the tolerance of 6 decimals does not.
Rows whose floats round one step of the 6th decimal apart pair off; two steps are a difference.
(test_bigquery_path.py checks the BigQuery spelling on the emulator.)"""

import duckdb
import parity
import pytest

COLUMNS = [
    ("name", "text"),
    ("note", "text"),
    ("plays", "integer"),
    ("score", "float"),
    ("day", "date"),
    ("played_at", "timestamp"),
    ("is_saved", "boolean"),
]
ROWS = [
    "('a', 'x|y', 1, 0.5, date '2026-10-01', timestamp '2026-10-01 10:00:00', true)",
    "('b', null, 2, -1.25, date '2026-10-02', timestamp '2026-10-02 11:30:00.123456', false)",
    "('c', '', null, null, null, null, null)",
]


def fingerprint(*rows: str) -> tuple:
    con = duckdb.connect()
    con.execute(
        "create table t (name varchar, note varchar, plays bigint, score double, day date, "
        "played_at timestamp, is_saved boolean)"
    )
    con.execute(f"insert into t values {', '.join(rows)}")
    return con.execute(parity.fingerprint_sql(parity.DUCKDB, "t", COLUMNS)).fetchone()


def test_the_same_rows_in_any_order_have_one_fingerprint():
    assert fingerprint(*ROWS) == fingerprint(*reversed(ROWS))
    assert fingerprint(*ROWS)[0] == 3


@pytest.mark.parametrize(
    "changed",
    [
        "('a2', 'x|y', 1, 0.5, date '2026-10-01', timestamp '2026-10-01 10:00:00', true)",
        "('a', null, 1, 0.5, date '2026-10-01', timestamp '2026-10-01 10:00:00', true)",
        "('a', 'n', 1, 0.5, date '2026-10-01', timestamp '2026-10-01 10:00:00', true)",
        "('a', '', 1, 0.5, date '2026-10-01', timestamp '2026-10-01 10:00:00', true)",
        "('a', 'x|y', 0, 0.5, date '2026-10-01', timestamp '2026-10-01 10:00:00', true)",
        "('a', 'x|y', null, 0.5, date '2026-10-01', timestamp '2026-10-01 10:00:00', true)",
        "('a', 'x|y', 1, 0.500002, date '2026-10-01', timestamp '2026-10-01 10:00:00', true)",
        "('a', 'x|y', 1, -0.5, date '2026-10-01', timestamp '2026-10-01 10:00:00', true)",
        "('a', 'x|y', 1, 0.5, date '2026-10-02', timestamp '2026-10-01 10:00:00', true)",
        "('a', 'x|y', 1, 0.5, date '2026-10-01', timestamp '2026-10-01 10:00:00.000001', true)",
        "('a', 'x|y', 1, 0.5, date '2026-10-01', timestamp '2026-10-01 10:00:00', false)",
        "('a', 'x|y', 1, 0.5, date '2026-10-01', timestamp '2026-10-01 10:00:00', null)",
        # a separator moved from one string to the next: the length prefixes tell them apart
        "('a|x', 'y', 1, 0.5, date '2026-10-01', timestamp '2026-10-01 10:00:00', true)",
    ],
    ids=[
        "text",
        "text null",
        "text 'n'",
        "text empty",
        "integer",
        "integer null",
        "float",
        "float sign",
        "date",
        "timestamp",
        "boolean",
        "boolean null",
        "moved separator",
    ],
)
def test_one_changed_value_changes_the_fingerprint(changed):
    assert fingerprint(*ROWS) != fingerprint(changed, *ROWS[1:])


def test_a_null_is_neither_the_text_n_nor_an_empty_text():
    null_note = ROWS[1]
    assert fingerprint(null_note) != fingerprint(null_note.replace("null", "'n'", 1))
    assert fingerprint(null_note) != fingerprint(null_note.replace("null", "''", 1))


def test_two_copies_of_a_row_do_not_cancel_out():
    # Three rows each: a row twice and another, against the other three times (an XOR would
    # cancel the pair and see the same fingerprint).
    assert fingerprint(ROWS[0], ROWS[0], ROWS[1]) != fingerprint(ROWS[1], ROWS[1], ROWS[1])
    assert fingerprint(ROWS[0], ROWS[0], ROWS[1]) != fingerprint(ROWS[0], ROWS[1], ROWS[1])


def test_floats_compare_to_six_decimals_like_the_row_comparison():
    below = "('a', 'x|y', 1, 0.5000000001, date '2026-10-01', timestamp '2026-10-01 10:00:00', true)"
    assert fingerprint(*ROWS) == fingerprint(below, *ROWS[1:])
    assert parity.normalise(0.5000000001) == parity.normalise(0.5)


def test_a_difference_is_shown_row_by_row_and_only_fetched_when_fingerprints_differ():
    fetched = []

    def side(fingerprint: tuple, rows: list[tuple]) -> parity.Side:
        return parity.Side(fingerprint=fingerprint, fetch=lambda: fetched.append(rows) or rows)

    assert parity.difference("t", ["k", "v"], side((1, 2), [("a", 1.0)]), side((1, 2), [("a", 2.0)])) is None
    assert fetched == []
    message = parity.difference(
        "t", ["k", "v"], side((2, 1), [("a", 1.0), ("b", 2.0)]), side((2, 3), [("a", 1.0), ("b", 2.5)])
    )
    assert message == (
        "t (2 rows on DuckDB, 2 on BigQuery), columns ['k', 'v']:\n"
        "  only on DuckDB:   [('b', 2.0)]\n  only on BigQuery: [('b', 2.5)]"
    )
    with pytest.warns(UserWarning, match="fingerprints differ but rows are equal"):
        assert parity.difference("t", ["k"], side((1, 1), [("a",)]), side((1, 2), [("a",)])) is None


def test_a_column_type_without_a_canonical_text_is_an_error():
    with pytest.raises(ValueError, match="no canonical text for a column of type INTEGER\\[\\]"):
        parity.kind_of(parity.DUCKDB, "INTEGER[]")


def test_floats_one_rounding_step_apart_pair_off_and_two_steps_do_not():
    # A weighted mean summed in another order on each engine: 0.6847725 +- a few ulps rounds to
    # 0.684773 on one and 0.684772 on the other (seen in fct_user_audio_profile).
    def side(rows: list[tuple]) -> parity.Side:
        return parity.Side(fingerprint=(len(rows), hash(tuple(rows))), fetch=lambda: rows)

    duck = [("u1", 0.6847725000000001, 3), ("u2", 0.25, 1), ("u3", None, 2)]
    within = [("u1", 0.6847724999999999, 3), ("u2", 0.25, 1), ("u3", None, 2)]
    with pytest.warns(UserWarning, match="1 rows differ by one step of the 6th decimal"):
        assert parity.difference("t", ["k", "v", "n"], side(duck), side(within)) is None
    two_steps = [("u1", 0.684770, 3), ("u2", 0.25, 1), ("u3", None, 2)]
    assert "only on BigQuery: [('u1', 0.68477, 3)]" in parity.difference(
        "t", ["k", "v", "n"], side(duck), side(two_steps)
    )
    other_field = [("u1", 0.6847724999999999, 4), ("u2", 0.25, 1), ("u3", None, 2)]
    assert parity.difference("t", ["k", "v", "n"], side(duck), side(other_field)) is not None
    null_moved = [("u1", 0.6847724999999999, 3), ("u2", None, 1), ("u3", 0.25, 2)]
    assert parity.difference("t", ["k", "v", "n"], side(duck), side(null_moved)) is not None
