"""Daily incremental runs give the same warehouse as one full build, late plays included."""

import datetime as dt
import shutil

import duckdb
import pyarrow.parquet as pq
from conftest import RUN_DATE, arriving_now, hold_back_late_plays, on_day, raw_copy

from tunesday import dbt
from tunesday.warehouse import connect as connect_warehouse

INCREMENTAL_MODELS = [
    "base_raw__listening_events",
    "int_plays_sessionized",
    "int_sessions",
    "fct_user_track_days",
    "int_user_track_affinity_settled",
    "int_user_track_affinity_state",
    "fct_user_artist_days",
    "int_user_artist_familiarity_settled",
    "int_user_artist_familiarity_state",
]
# The signals after the states are per listener, as of each listener's last refresh:
# tests/python/test_listener_refresh.py compares them with a full build.
ROW_COUNTS = (
    "select source_table, raw_rows, accepted_rows, rejected_rows, duplicate_rows, too_late_rows "
    "from audit_raw__row_counts"
)
AUDITS = [
    "audit_raw__row_counts",
    "audit_raw__late_events",
    "audit_raw__rejections",
    "audit_raw__defaults",
    "audit_raw__listener_oddities",
]
# What the audits keep to read only the days a run can change: rebuilt from every day in the reference.
AUDIT_STATE = ["int_audit_event_days", "int_audit_raw_event_days", "int_audit_listener_settled"]


def rows(path, table: str) -> set[tuple]:
    """The table's rows, floats rounded to 9 places (without the time an audit ran, nor when a
    play arrived: the late plays arrive after the reference build read them)."""
    with connect_warehouse(str(path)) as con:
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_catalog = 'warehouse' and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
        assert columns, table
        selected = [
            f"round({name}, 9)" if kind == "DOUBLE" else name
            for name, kind in columns
            if name not in ("audited_at", "loaded_at")
        ]
        # A raw row without a usable played_at is filed under the run that first saw it: not comparable.
        selected = [
            "case when partition_date = cast(played_at as date) then partition_date end"
            if name == "partition_date"
            else name
            for name in selected
        ]
        return set(con.execute(f"select {', '.join(selected)} from {table}").fetchall())


def assert_same_rows(full_path, daily_path, tables) -> None:
    for table in tables:
        full, daily = rows(full_path, table), rows(daily_path, table)
        assert full, table
        assert full == daily, (
            f"{table}: {len(full - daily)} rows only in the full build, e.g. {sorted(full - daily)[:2]}; "
            f"{len(daily - full)} only in the daily runs, e.g. {sorted(daily - full)[:2]}"
        )


# The tables a daily run reads by day, and their day column. Not base_raw__listening_events: its
# daily lookups read whole columns (every day's event ids and rejected rows) whatever the order,
# and sorting its wide rows in a full build cost more than it saved; nor int_plays_sessionized,
# whose sort cost the full build 10-20 s at 100k and helped only the daily runs right after a full
# build: the daily runs append their days in order anyway (README, "against history").
DATED_TABLES = {
    "int_sessions": "last_listened_date",
    "fct_user_track_days": "listened_date",
    "fct_user_artist_days": "listened_date",
}


def days_out_of_order(path, table: str, column: str) -> tuple[int, int]:
    """How many of the table's rows are stored after a row of a later day, and its rows (rowid is
    where DuckDB stores a row: the order of its row groups, whose min and max it skips by)."""
    with connect_warehouse(str(path)) as con:
        [(schema,)] = con.execute(
            "select table_schema from information_schema.tables where table_catalog = 'warehouse' and table_name = ?",
            [table],
        ).fetchall()
        [counts] = con.execute(
            f"select count(*) filter (where {column} < previous_day), count(*) "
            f"from (select {column}, max({column}) over (order by rowid rows between unbounded preceding "
            f"and 1 preceding) as previous_day from warehouse.{schema}.{table})"
        ).fetchall()
    return counts


def test_a_full_build_stores_the_dated_tables_by_day(warehouse):
    """A daily run reads its days of these tables; DuckDB skips the row groups whose min and max
    day lie outside them, so only if the rows are stored by day (macro in_date_order) does it
    read only those days' rows, and its cost not grow with the history."""
    for table, column in DATED_TABLES.items():
        out_of_order, stored = days_out_of_order(warehouse.duckdb_path, table, column)
        assert stored > 5_000 and out_of_order == 0, (table, out_of_order, stored)


def test_daily_runs_and_catch_up_equal_a_full_build(warehouse, tmp_path):
    """A full build, a missed run caught up, then day by day, then the last day again. A tenth of
    the first daily day's plays arrive two days late (a file of their own, before that run): they
    count exactly as if on time (the lookback window, var incremental_lookback_days). Plays older
    than the window, loaded before the rerun, change nothing: the audit counts them as too late."""
    raw = raw_copy(warehouse.data_dir / "raw", tmp_path / "raw")
    env = dbt.duckdb_env(tmp_path, raw, tmp_path / "daily.duckdb")
    daily_path = tmp_path / "daily.duckdb"
    select = [
        "--select",
        "+fct_user_artist_affinity",
        "+fct_user_exploration",
        "int_sessions",
        *[f"+{audit}" for audit in AUDITS],
    ]
    last = dt.date.fromisoformat(RUN_DATE)
    # A full build, a jump of three days (a missed run catches up), then day by day.
    days = [last - dt.timedelta(days=n) for n in (5, 2, 1, 0)]
    late_day, too_late_day = days[1], days[0] - dt.timedelta(days=1)
    late = hold_back_late_plays(raw / "listening_events", late_day.isoformat())
    assert late.num_rows > 100
    # Too late: plays of a day long settled (copies of accepted ones, as new plays), in a file
    # from before the contract had loaded_at (read as null).
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        event_ids = [
            event_id
            for (event_id,) in con.execute(
                "select event_id from stg_raw__listening_events where cast(played_at as date) = ? "
                "order by event_id limit 20",
                [too_late_day],
            ).fetchall()
        ]
    too_late = duckdb.sql(
        f"select * exclude (loaded_at) replace (event_id || '-resent' as event_id) "
        f"from read_parquet('{raw}/listening_events/*.parquet') where event_id in (select unnest($ids))",
        params={"ids": event_ids},
    ).to_arrow_table()
    assert too_late.num_rows == 20 and "loaded_at" not in too_late.schema.names
    # `dbt run` makes no seeds: a fresh warehouse gets them first (staging reads play_reason_codes).
    assert warehouse.dbt_with(env, "seed").success
    first = warehouse.dbt_with(on_day(env, days[0]), "run", *select)
    assert first.success, first.describe(3000)
    # Day by day, then the last day once more: a rerun must change nothing.
    recounted = []
    for run, day in enumerate([*days[1:], days[-1]]):
        if day == late_day + dt.timedelta(days=2):
            pq.write_table(arriving_now(late), raw / "listening_events" / "late.parquet")
        if run == len(days) - 1:
            pq.write_table(too_late, raw / "listening_events" / "too-late-old-format.parquet")
        daily = warehouse.dbt_with(on_day(env, day), "run", *select)
        assert daily.success, daily.describe(3000)
        assert any(node.materialized == "incremental" for node in daily.nodes)
        # The audits count the raw plays of earlier days again only when some came too late.
        if "raw plays before" in daily.output:
            recounted.append(run)
    assert recounted == [len(days) - 1]

    assert_same_rows(warehouse.duckdb_path, daily_path, INCREMENTAL_MODELS)
    # Each run replaced its days after the others: still stored by day.
    for table, column in DATED_TABLES.items():
        assert days_out_of_order(daily_path, table, column)[0] == 0, table
    # Every raw row is counted exactly once, as after the full build; the too-late ones as such.
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        full_counts = {row[0]: row[1:] for row in con.execute(ROW_COUNTS).fetchall()}
    with connect_warehouse(str(daily_path)) as con:
        daily_counts = {row[0]: row[1:] for row in con.execute(ROW_COUNTS).fetchall()}
        late_days = con.execute(
            "select listened_date, too_late_rows, last_loaded_at is not null from audit_raw__late_events"
        ).fetchall()
        [(unstamped,)] = con.execute(
            "select count(*) from warehouse.tunesday_raw.listening_events where loaded_at is null"
        ).fetchall()
    raw_rows, *counted = full_counts["listening_events"]
    assert daily_counts.pop("listening_events") == (raw_rows + 20, *counted[:-1], 20)
    assert daily_counts == {table: counts for table, counts in full_counts.items() if table != "listening_events"}
    for table, (raw_rows, accepted, rejected, duplicate, too_late_rows) in full_counts.items():
        assert raw_rows == accepted + rejected + duplicate and too_late_rows == 0, table
    assert late_days == [(too_late_day, 20, True)] and unstamped == 20

    # The audits after those runs are what the audits of every day give on the same warehouse (a
    # copy where they alone are rebuilt from every day of the staged and raw plays).
    rebuilt_path = tmp_path / "audits-rebuilt.duckdb"
    shutil.copy(daily_path, rebuilt_path)
    rebuilt = warehouse.dbt_with(
        on_day(dbt.duckdb_env(tmp_path / "rebuilt", raw, rebuilt_path), days[-1]),
        "run",
        "--full-refresh",
        "--select",
        *AUDIT_STATE,
        *AUDITS,
    )
    assert rebuilt.success, rebuilt.describe(3000)
    assert_same_rows(rebuilt_path, daily_path, [table for table in AUDITS if table != "audit_raw__defaults"])
    assert rows(rebuilt_path, "audit_raw__defaults") == rows(daily_path, "audit_raw__defaults")

    # Fresh data passes `dbt source freshness` (loaded_at is when the fixture was generated).
    freshness = warehouse.dbt_with(env, "source", "freshness")
    assert freshness.success, freshness.describe(3000)
    assert [(node.name, node.status) for node in freshness.nodes if node.resource_type == "source"] == [
        ("listening_events", "pass")
    ]


def test_full_refresh_mid_week_keeps_the_published_discover_weekly(warehouse, tmp_path):
    """The week's first run publishes Discover Weekly; a --full-refresh later that week keeps it,
    and only var rebuild_published_weeks remakes it (from that run's data)."""
    env = warehouse.env_in(tmp_path, "midweek.duckdb")
    last = dt.date.fromisoformat(RUN_DATE)
    week_start = last - dt.timedelta(days=last.weekday())
    assert last > week_start + dt.timedelta(days=1), "RUN_DATE must leave room for a mid-week run"
    select = ["--select", "+fct_discover_weekly", "--exclude", "resource_type:test"]
    week_list = (
        f"select user_id, playlist_position, track_id from fct_discover_weekly where week_start = '{week_start}'"
    )

    def published() -> set[tuple]:
        with connect_warehouse(str(tmp_path / "midweek.duckdb")) as con:
            return set(con.execute(week_list).fetchall())

    first = warehouse.dbt_with(on_day(env, week_start + dt.timedelta(days=1)), "build", *select)
    assert first.success, first.describe(3000)
    monday_list = published()
    assert monday_list

    refresh = warehouse.dbt_with(on_day(env, last), "build", *select, "--full-refresh")
    assert refresh.success, refresh.describe(3000)
    assert published() == monday_list

    # The explicit rebuild remakes the week from the later data: the list of a fresh build that day.
    rebuild = warehouse.dbt_with(
        on_day(env, last),
        "build",
        "--select",
        "fct_discover_weekly",
        "--exclude",
        "resource_type:test",
        "--full-refresh",
        "--vars",
        "{rebuild_published_weeks: true}",
    )
    assert rebuild.success, rebuild.describe(3000)
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        fresh_build_list = set(con.execute(week_list).fetchall())
    assert published() == fresh_build_list != monday_list
