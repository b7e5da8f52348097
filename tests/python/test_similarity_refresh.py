"""Item similarity is rebuilt on every run by default (var similarity_refresh 'daily'), or once a
week (var similarity_refresh 'weekly', macros/cooccurrence.sql): then the other runs of the week
keep its six tables as they are, the week's first run rebuilds them, and what it builds equals a
full build on any day of that week (the window ends on days no late play changes any more,
whatever the run's lookback)."""

import datetime as dt

import duckdb
from conftest import on_day

from tunesday.warehouse import connect as connect_warehouse

SIMILARITY = [
    "int_track_baskets",
    "int_track_pair_counts",
    "fct_track_similarity",
    "int_artist_baskets",
    "int_artist_pair_counts",
    "fct_artist_similarity",
]
SELECT = [
    "--select",
    "+fct_track_similarity",
    "+fct_artist_similarity",
    "--exclude",
    "resource_type:test",
    "resource_type:unit_test",
]
THURSDAY, FRIDAY = dt.date(2026, 10, 22), dt.date(2026, 10, 23)
SUNDAY_BEFORE_LAST = dt.date(2026, 10, 18)  # similarity_settle_days (7) before Monday the 26th
MONDAY, SATURDAY = dt.date(2026, 10, 26), dt.date(2026, 10, 31)


def rows(path, table: str) -> set[tuple]:
    with connect_warehouse(str(path)) as con:
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_catalog = 'warehouse' and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
        selected = [f"round({name}, 9)" if kind == "DOUBLE" else name for name, kind in columns]
        return set(con.execute(f"select {', '.join(selected)} from {table}").fetchall())


def window_end(path) -> set:
    with connect_warehouse(str(path)) as con:
        return {
            day
            for (day,) in con.execute(
                "select window_end_date from fct_track_similarity "
                "union select window_end_date from fct_artist_similarity"
            ).fetchall()
        }


def test_similarity_is_rebuilt_on_a_weeks_first_run_and_equals_a_full_build_of_that_week(warehouse, tmp_path):
    daily_path, full_path = tmp_path / "daily" / "daily.duckdb", tmp_path / "full" / "full.duckdb"
    daily_env = warehouse.env_in(tmp_path / "daily", "daily.duckdb")

    def run(env, day, *extra, lookback=3):
        done = warehouse.dbt_with(
            on_day(env, day),
            "build",
            *SELECT,
            *extra,
            "--vars",
            f"{{incremental_lookback_days: {lookback}, similarity_refresh: weekly}}",
        )
        assert done.success, done.describe(3000)

    run(daily_env, THURSDAY, "--full-refresh")
    # The week of Monday 19 October: sessions up to Sunday the 11th (7 settle days before it).
    assert window_end(daily_path) == {dt.date(2026, 10, 11)}
    built = {table: rows(daily_path, table) for table in SIMILARITY}
    assert all(built.values())
    # A mark that only a rebuild removes.
    with duckdb.connect(str(daily_path)) as con:
        con.execute(
            "update tunesday_intermediate.int_track_pair_counts set pair_count = -1 where track_id = "
            "(select min(track_id) from tunesday_intermediate.int_track_pair_counts)"
        )
    marked = rows(daily_path, "int_track_pair_counts")

    # Friday: the same week, nothing is rebuilt (the mark stays), with a longer lookback too.
    run(daily_env, FRIDAY, lookback=7)
    assert rows(daily_path, "int_track_pair_counts") == marked
    assert {table: rows(daily_path, table) for table in SIMILARITY if table != "int_track_pair_counts"} == {
        table: built[table] for table in SIMILARITY if table != "int_track_pair_counts"
    }

    # Monday: a new week, everything is rebuilt, up to Sunday the 18th; a full build on the
    # Saturday of that week gives the same tables.
    run(daily_env, MONDAY)
    assert window_end(daily_path) == {SUNDAY_BEFORE_LAST}
    run(warehouse.env_in(tmp_path / "full", "full.duckdb"), SATURDAY, "--full-refresh")
    for table in SIMILARITY:
        rebuilt = rows(daily_path, table)
        assert rebuilt and rebuilt == rows(full_path, table), table
    assert rows(daily_path, "int_track_pair_counts") != marked


def test_by_default_every_run_rebuilds_the_similarity_up_to_its_day(warehouse, tmp_path):
    env = warehouse.env_in(tmp_path / "default", "default.duckdb")
    for day, extra in [(THURSDAY, ["--full-refresh"]), (FRIDAY, [])]:
        done = warehouse.dbt_with(on_day(env, day), "build", *SELECT, *extra)
        assert done.success, done.describe(3000)
        assert window_end(tmp_path / "default" / "default.duckdb") == {day}
