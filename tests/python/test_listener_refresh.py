"""A daily run recomputes signals, candidates, ranking and Bloom filters only for the listeners whose
inputs changed (models/core/refresh/int_user_refresh.sql, macros/refresh.sql); what it recomputes equals a
full recompute, and everyone else keeps the rows of their last refresh."""

import datetime as dt
import shutil

from conftest import RUN_DATE, on_day

from tunesday.warehouse import connect as connect_warehouse

# The per-listener tables a daily run keeps for everyone (the models between them hold only the
# listeners of the run): the signals, the ranking and the filters.
PER_LISTENER = (
    "fct_user_track_affinity",
    "fct_user_artist_affinity",
    "fct_user_artist_familiarity",
    "fct_user_exploration",
    "fct_user_audio_profile",
    "fct_user_camelot_keys",
    "dim_user_taste_profiles",
    "fct_user_recommendations",
    "serving_bloom_filters",
    "serving_bloom_filter_words",
)
SELECT = [
    "--select",
    "+fct_user_recommendations",
    "+serving_bloom_filter_words",
    "--exclude",
    "resource_type:test",
    "resource_type:unit_test",
]
# Only the run's own day is loaded: more listeners are left alone than with the 3-day lookback.
VARS = ["--vars", "{incremental_lookback_days: 0}"]


def rows(path, table: str, listeners: str, user_ids: set[str]) -> set[tuple]:
    """The table's rows of the listeners in (listeners='in') or not in `user_ids`, floats to 9 places."""
    with connect_warehouse(str(path)) as con:
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_catalog = 'warehouse' and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
        selected = [f"round({name}, 9)" if kind == "DOUBLE" else name for name, kind in columns]
        found = con.execute(f"select user_id, {', '.join(selected)} from {table}").fetchall()
    return {row[1:] for row in found if (row[0] in user_ids) == (listeners == "in")}


def test_a_daily_run_recomputes_the_listeners_that_changed_exactly_as_a_full_build(warehouse, tmp_path):
    day = dt.date.fromisoformat(RUN_DATE)
    env = warehouse.env_in(tmp_path / "daily", "daily.duckdb")
    first = warehouse.dbt_with(on_day(env, day - dt.timedelta(days=1)), "build", *SELECT, *VARS)
    assert first.success, first.describe(3000)
    daily_path = tmp_path / "daily" / "daily.duckdb"
    shutil.copy(daily_path, tmp_path / "previous.duckdb")
    (tmp_path / "full").mkdir()
    shutil.copy(daily_path, tmp_path / "full" / "full.duckdb")

    daily = warehouse.dbt_with(on_day(env, day), "build", *SELECT, *VARS)
    assert daily.success, daily.describe(3000)
    # The reference: every model recomputed from scratch for the same day (on a copy of the day
    # before, so the week's published Discover Weekly, which the filters read, is the same).
    full = warehouse.dbt_with(
        on_day(warehouse.env_in(tmp_path / "full", "full.duckdb"), day), "build", *SELECT, "--full-refresh", *VARS
    )
    assert full.success, full.describe(3000)

    with connect_warehouse(str(daily_path)) as con:
        reasons = dict(
            con.execute("select user_id, refresh_reason from int_user_refresh where run_date = ?", [day]).fetchall()
        )
        [(listeners,)] = con.execute("select count(distinct user_id) from fct_user_recommendations").fetchall()
    refreshed = set(reasons)
    # Some listeners played that day, some were due on their day of the week, and some were left alone.
    assert {"new_plays", "weekly"} <= set(reasons.values())
    assert 0 < len(refreshed) < listeners
    for table in PER_LISTENER:
        recomputed = rows(daily_path, table, "in", refreshed)
        assert recomputed and recomputed == rows(tmp_path / "full" / "full.duckdb", table, "in", refreshed), table
        kept = rows(daily_path, table, "not in", refreshed)
        assert kept and kept == rows(tmp_path / "previous.duckdb", table, "not in", refreshed), table

    # A rerun of the day recomputes the same listeners and changes nothing.
    before = {table: rows(daily_path, table, "not in", set()) for table in PER_LISTENER}
    rerun = warehouse.dbt_with(on_day(env, day), "build", *SELECT, *VARS)
    assert rerun.success, rerun.describe(3000)
    with connect_warehouse(str(daily_path)) as con:
        assert (
            dict(
                con.execute("select user_id, refresh_reason from int_user_refresh where run_date = ?", [day]).fetchall()
            )
            == reasons
        )
    assert {table: rows(daily_path, table, "not in", set()) for table in PER_LISTENER} == before
