"""The surfaces' invariants on the built warehouse, and their quality on the next week's streams."""

import datetime as dt

import pytest
from conftest import EARLIER_RUN_DATE, RUN_DATE

from tunesday.warehouse import connect as connect_warehouse


def query(path, sql: str) -> list[tuple]:
    with connect_warehouse(str(path)) as con:
        return con.execute(sql).fetchall()


STREAMED_OR_PLAYED = f"""
    select distinct user_id, track_id, ms_played >= 30000 as is_stream
    from stg_raw__listening_events
    where cast(played_at as date) <= date '{RUN_DATE}'
"""


def test_discover_weekly_has_30_never_played_tracks_at_most_2_per_artist(warehouse):
    week = dt.date.fromisoformat(RUN_DATE) - dt.timedelta(days=dt.date.fromisoformat(RUN_DATE).weekday())
    [(listeners, short_lists, played, over_cap, positions_ok)] = query(
        warehouse.duckdb_path,
        f"""
        with lists as (select * from fct_discover_weekly where week_start = date '{week}'),
        sizes as (select user_id, count(*) as n, min(playlist_position) as lo, max(playlist_position) as hi
                  from lists group by user_id)
        select
            (select count(*) from sizes),
            (select count(*) from sizes where n <> 30),
            (select count(*) from lists l join ({STREAMED_OR_PLAYED}) p using (user_id, track_id)),
            (select count(*) from (select user_id, artist_id from lists group by all having count(*) > 2)),
            (select bool_and(lo = 1 and hi = 30) from sizes)
    """,
    )
    [(known,)] = query(warehouse.duckdb_path, "select count(*) from serving_users")
    assert listeners == known and listeners > 250
    assert short_lists == 0 and played == 0 and over_cap == 0 and positions_ok


def test_candidate_pools_never_hold_a_streamed_track(warehouse):
    [(pool_rows, streamed)] = query(
        warehouse.duckdb_path,
        f"""
        select (select count(*) from int_user_candidates),
               (select count(*) from int_user_candidates c
                join ({STREAMED_OR_PLAYED}) p using (user_id, track_id) where p.is_stream)
    """,
    )
    assert pool_rows > 0 and streamed == 0


def test_serving_tables_hold_the_day_surfaces(warehouse):
    rows = dict(
        query(
            warehouse.duckdb_path,
            """
        select surface, count(*) from serving_recommendations group by surface
    """,
        )
    )
    [(dw_rows, users)] = query(
        warehouse.duckdb_path,
        """
        select count(*), count(distinct user_id) from fct_discover_weekly
        where week_start = (select max(week_start) from serving_recommendations)
    """,
    )
    assert rows["discover_weekly"] == dw_rows == 30 * users
    assert rows["for_you"] <= 50 * users


def test_smart_shuffle_pools_fit_one_recommendation_per_three_tracks(warehouse):
    [(playlists, short_pools, own_tracks, missing)] = query(
        warehouse.duckdb_path,
        """
        with sizes as (select playlist_id, count(distinct track_id) as n from stg_raw__playlist_tracks group by 1),
        pools as (select playlist_id, count(*) as pooled from fct_smart_shuffle_pools group by 1)
        select
            (select count(*) from pools),
            (select count(*) from pools join sizes using (playlist_id) where pooled < ceil(n / 3.0)),
            (select count(*) from fct_smart_shuffle_pools p
             join stg_raw__playlist_tracks t on p.playlist_id = t.playlist_id and p.track_id = t.track_id),
            (select count(*) from sizes left join pools using (playlist_id) where n >= 15 and pools.playlist_id is null)
    """,
    )
    assert playlists > 0 and own_tracks == 0
    # Every playlist of 15+ tracks has a pool with at least one recommendation per three tracks.
    assert short_pools == 0 and missing == 0


def test_discover_weekly_beats_popularity_on_the_next_week(warehouse, tmp_path):
    """Lists made a week before the end, scored on that week's streams (eval_discover_weekly)."""
    env = warehouse.env_in(tmp_path, "eval.duckdb")
    build = warehouse.dbt_with(
        env,
        "build",
        "--select",
        "+eval_discover_weekly",
        "--exclude",
        "resource_type:test",
        "resource_type:unit_test",
        "--vars",
        f"{{run_date: '{EARLIER_RUN_DATE}'}}",
    )
    assert build.success, build.describe(3000)
    metrics = {
        row[0]: row
        for row in query(
            tmp_path / "eval.duckdb",
            """
        select list_name, evaluated_listener_count, hit_rate, recall_at_list, ndcg_at_list, catalog_coverage
        from eval_discover_weekly
    """,
        )
    }
    ours, baseline = metrics["discover_weekly"], metrics["popularity_baseline"]
    assert ours[1] > 100
    assert ours[2] > 2 * baseline[2] and ours[3] > 2 * baseline[3] and ours[4] > 2 * baseline[4], (ours, baseline)
    assert ours[5] > baseline[5]
    # Both rankings' lists, made from the same candidates in the same run: the published lists are
    # the reranker's (the default var listener_ranking), and the reranker (trained on other
    # generated listeners, make generate's) beats the hand-weighted blend on these ones too.
    assert set(metrics) == {
        "discover_weekly",
        "popularity_baseline",
        "discover_weekly_by_ranker",
        "discover_weekly_by_blend",
        "for_you_by_ranker",
        "for_you_by_blend",
    }
    # (the same lists; the averages may differ in the last bit, summed in another order)
    assert metrics["discover_weekly"][1:] == pytest.approx(metrics["discover_weekly_by_ranker"][1:], rel=1e-12)
    for surface in ("discover_weekly", "for_you"):
        ranker, blend = metrics[f"{surface}_by_ranker"], metrics[f"{surface}_by_blend"]
        assert ranker[3] > blend[3] and ranker[4] > blend[4], (surface, ranker, blend)
