"""Daily incremental runs give the same warehouse as one full build."""

import datetime as dt


from conftest import RUN_DATE
from tunesday.warehouse import connect as connect_warehouse

INCREMENTAL_MODELS = [
    "base_raw__listening_events",
    "int_plays_sessionized",
    "int_sessions",
    "fct_user_track_days",
    "int_user_track_affinity_state",
    "fct_user_track_affinity",
    "fct_user_artist_affinity",
    "fct_user_artist_days",
    "int_user_artist_familiarity_state",
    "fct_user_artist_familiarity",
    "fct_user_exploration",
]


def rows(path, table: str) -> set[tuple]:
    """The table's rows, floats rounded to 9 places."""
    with connect_warehouse(str(path)) as con:
        columns = con.execute(
            "select column_name, data_type from information_schema.columns where table_name = ? "
            "order by ordinal_position", [table]).fetchall()
        assert columns, table
        selected = [f"round({name}, 9)" if kind == "DOUBLE" else name for name, kind in columns]
        # A raw row without a usable played_at is filed under the run that first saw it: not comparable.
        selected = ["case when partition_date = cast(played_at as date) then partition_date end"
                    if name == "partition_date"
                    else name for name in selected]
        return set(con.execute(f"select {', '.join(selected)} from {table}").fetchall())


def test_daily_runs_and_catch_up_equal_a_full_build(warehouse, tmp_path):
    env = warehouse.env_in(tmp_path, "daily.duckdb")
    select = ["--select", "+fct_user_artist_affinity", "+fct_user_exploration", "int_sessions",
              "+audit_raw__row_counts"]
    last = dt.date.fromisoformat(RUN_DATE)
    # A full build, a jump of three days (a missed run catches up), then day by day.
    days = [last - dt.timedelta(days=n) for n in (5, 2, 1, 0)]
    # `dbt run` makes no seeds: a fresh warehouse gets them first (staging reads play_reason_codes).
    assert warehouse.dbt_with(env, "seed").success
    first = warehouse.dbt_with(env, "run", *select, "--vars", f"{{run_date: '{days[0]}'}}")
    assert first.success, first.describe(3000)
    # Day by day, then the last day once more: a rerun must change nothing.
    for day in [*days[1:], days[-1]]:
        daily = warehouse.dbt_with(env, "run", *select, "--vars", f"{{run_date: '{day}'}}")
        assert daily.success, daily.describe(3000)
        assert any(node.materialized == "incremental" for node in daily.nodes)

    for table in INCREMENTAL_MODELS:
        full, backfilled = rows(warehouse.duckdb_path, table), rows(tmp_path / "daily.duckdb", table)
        assert full, table
        assert full == backfilled, (
            f"{table}: {len(full - backfilled)} rows only in the full build, e.g. {sorted(full - backfilled)[:2]}; "
            f"{len(backfilled - full)} only in the backfill, e.g. {sorted(backfilled - full)[:2]}")

    # Every raw row is counted exactly once after the daily runs, as after the full build.
    counts = "select source_table, raw_rows, accepted_rows, rejected_rows, duplicate_rows from audit_raw__row_counts"
    with connect_warehouse(str(tmp_path / "daily.duckdb")) as con:
        daily_counts = set(con.execute(counts).fetchall())
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        assert daily_counts == set(con.execute(counts).fetchall())
    for _table, raw, accepted, rejected, duplicate in daily_counts:
        assert raw == accepted + rejected + duplicate


def test_full_refresh_mid_week_keeps_the_published_discover_weekly(warehouse, tmp_path):
    """The week's first run publishes Discover Weekly; a --full-refresh later that week keeps it,
    and only var rebuild_published_weeks remakes it (from that run's data)."""
    env = warehouse.env_in(tmp_path, "midweek.duckdb")
    last = dt.date.fromisoformat(RUN_DATE)
    week_start = last - dt.timedelta(days=last.weekday())
    assert last > week_start + dt.timedelta(days=1), "RUN_DATE must leave room for a mid-week run"
    select = ["--select", "+fct_discover_weekly", "--exclude", "resource_type:test"]
    week_list = f"select user_id, playlist_position, track_id from fct_discover_weekly where week_start = '{week_start}'"

    def published() -> set[tuple]:
        with connect_warehouse(str(tmp_path / "midweek.duckdb")) as con:
            return set(con.execute(week_list).fetchall())

    first = warehouse.dbt_with(env, "build", *select, "--vars", f"{{run_date: '{week_start + dt.timedelta(days=1)}'}}")
    assert first.success, first.describe(3000)
    monday_list = published()
    assert monday_list

    refresh = warehouse.dbt_with(env, "build", *select, "--full-refresh", "--vars", f"{{run_date: '{last}'}}")
    assert refresh.success, refresh.describe(3000)
    assert published() == monday_list

    # The explicit rebuild remakes the week from the later data: the list of a fresh build that day.
    rebuild = warehouse.dbt_with(env, "build", "--select", "fct_discover_weekly", "--exclude", "resource_type:test",
                                 "--full-refresh", "--vars", f"{{run_date: '{last}', rebuild_published_weeks: true}}")
    assert rebuild.success, rebuild.describe(3000)
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        fresh_build_list = set(con.execute(week_list).fetchall())
    assert published() == fresh_build_list != monday_list
