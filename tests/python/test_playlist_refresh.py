"""A daily run recomputes the Smart Shuffle pools and the continuations of the playlists whose track
list changed, whose day of the week it is and the new ones (models/core/refresh/
int_playlist_refresh.sql, macros/refresh.sql); a recomputed pool or continuation equals a full
recompute's, every other playlist keeps the rows of its last refresh, and a playlist gone from the
feed loses them.

Three days run on one warehouse (a full build, then two daily runs), the playlists changing
between them as a feed changes them: playlists gain and lose tracks, are removed, appear, or are
only reordered; the last day is compared with a full build of it."""

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import RUN_DATE, on_day, raw_copy

from tunesday import dbt
from tunesday.warehouse import connect as connect_warehouse

SELECT = [
    "--select",
    "+fct_smart_shuffle_pools",
    "+fct_playlist_continuations",
    "--exclude",
    "resource_type:test",
    "resource_type:unit_test",
]
# Only the run's own day of plays is loaded: the signals the pools read are a full build's.
# Similarity is rebuilt every run: the runs edit playlists, which a weekly similarity would count
# from the next week on and a full build at once (README "Daily runs"; test_similarity_refresh.py).
VARS = ["--vars", "{incremental_lookback_days: 0, similarity_refresh: daily}"]
DAY = dt.date.fromisoformat(RUN_DATE)
DAYS = [DAY - dt.timedelta(days=2), DAY - dt.timedelta(days=1), DAY]
MIN_TRACKS = 15  # var smart_shuffle_min_playlist_tracks


def cycle_day(day: dt.date) -> int:
    """The day of the 7-day refresh cycle (macros/refresh.sql refresh_cycle_day)."""
    return (day - dt.date(1970, 1, 1)).days % 7


def bucket(playlist_id: str) -> int:
    """A playlist's day of the cycle (macros/refresh.sql refresh_bucket)."""
    return int(hashlib.md5(playlist_id.encode()).hexdigest()[:7], 16) % 7


def rewrite(raw: Path, table: str, sql: str) -> int:
    """Replace the raw table's files (links to the shared dataset) by one file: `sql` over
    `raw_rows`; returns how many rows it gained."""
    folder = raw / table
    raw_rows = pq.read_table(sorted(folder.glob("*.parquet")))
    rows = duckdb.sql(sql).to_arrow_table()
    for part in folder.glob("*.parquet"):
        part.unlink()
    pq.write_table(rows, folder / "part-00000.parquet")
    return rows.num_rows - raw_rows.num_rows


def clean_playlists(warehouse_path: Path) -> list[str]:
    """The playlists fit for a pool whose every raw row was accepted (so that a change to their raw
    rows is a change to their trusted tracks), with at least 3 tracks to spare."""
    with connect_warehouse(str(warehouse_path)) as con:
        return [
            row[0]
            for row in con.execute(f"""
            select tracks.playlist_id
            from base_raw__playlist_tracks as tracks
            inner join base_raw__playlists as playlists on tracks.playlist_id = playlists.playlist_id
            group by tracks.playlist_id
            having bool_and(tracks.row_status = 'accepted' and playlists.row_status = 'accepted')
                and count(distinct tracks.track_id) = count(*) and count(*) >= {MIN_TRACKS + 3}
            order by tracks.playlist_id
        """).fetchall()
        ]


POOLS, CONTINUATIONS = "fct_smart_shuffle_pools", "fct_playlist_continuations"


def pools(path: Path, playlist_ids: set[str], which: str, table: str = POOLS) -> set[tuple]:
    """The rows of `table` (a per-playlist model: the pools or the continuations) of the playlists
    in (which='in') or not in `playlist_ids`, floats to 9 places."""
    with connect_warehouse(str(path)) as con:
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_catalog = 'warehouse' and table_name = ? "
            "order by ordinal_position",
            [table],
        ).fetchall()
        selected = [f"round({name}, 9)" if kind == "DOUBLE" else name for name, kind in columns]
        found = con.execute(f"select playlist_id, {', '.join(selected)} from {table}").fetchall()
    return {row[1:] for row in found if (row[0] in playlist_ids) == (which == "in")}


def pooled(path: Path, table: str = POOLS) -> set[str]:
    """The playlists with a pool (or with rows of `table`)."""
    with connect_warehouse(str(path)) as con:
        return {row[0] for row in con.execute(f"select distinct playlist_id from {table}").fetchall()}


def refreshed(path: Path, day: dt.date) -> dict[str, str]:
    with connect_warehouse(str(path)) as con:
        return dict(
            con.execute(
                "select playlist_id, refresh_reason from int_playlist_refresh where run_date = ?", [day]
            ).fetchall()
        )


@pytest.fixture(scope="module")
def three_days(warehouse, tmp_path_factory):
    work = tmp_path_factory.mktemp("playlist_refresh")
    raw = raw_copy(warehouse.data_dir / "raw", work / "raw")
    env = dbt.duckdb_env(work / "daily", raw, work / "daily" / "daily.duckdb")

    def build(env: dict, day: dt.date, *extra: str) -> None:
        result = dbt.run(["build", *SELECT, *extra, *VARS], on_day(env, day), timeout=1200)
        assert result.success, result.describe(3000)

    # Playlists fit for a pool that are not due on their day of the week on the daily runs' days,
    # so that what a run does to them is the changes' doing.
    due = {cycle_day(d) for d in DAYS[1:]}
    quiet = [playlist_id for playlist_id in clean_playlists(warehouse.duckdb_path) if bucket(playlist_id) not in due]
    assert len(quiet) >= 7, quiet
    changed, removed, reordered, changed_later, removed_later, donor, forgotten = quiet[:7]
    # New playlists (copies of the donor's tracks), not due either: they are new, nothing else.
    appeared, appeared_later = [name for name in (f"pl_new_{n}" for n in range(100)) if bucket(name) not in due][:2]
    build(env, DAYS[0])

    # Before day 2: a playlist loses two tracks and gains two, one is removed, one appears (a copy
    # of another's tracks, under a new id), one is reordered only.
    rewrite(
        raw,
        "playlist_tracks",
        f"""
        with kept as (
            select * from raw_rows
            where playlist_id is distinct from '{removed}'
                and not coalesce(playlist_id = '{changed}' and position >= (
                    select max(position) - 1 from raw_rows where playlist_id = '{changed}'), false)
        ),
        gained as (
            select * replace ('{changed}' as playlist_id, 1000 + position as position) from raw_rows
            where playlist_id = '{donor}'
                and track_id not in (select track_id from raw_rows where playlist_id = '{changed}')
                and track_id is not null
            order by position limit 2
        ),
        appeared as (
            select * replace ('{appeared}' as playlist_id) from raw_rows where playlist_id = '{donor}'
        )
        select * replace (
            case when playlist_id = '{reordered}' then 1000 - position else position end as position
        ) from kept
        union all by name select * from gained
        union all by name select * from appeared
    """,
    )
    assert (
        rewrite(
            raw,
            "playlists",
            f"""
        with appeared as (
            select * replace ('{appeared}' as playlist_id) from raw_rows where playlist_id = '{donor}' limit 1
        )
        select * from raw_rows where playlist_id is distinct from '{removed}'
        union all by name
        select * from appeared
    """,
        )
        == 0
    )  # one gone, one new
    build(env, DAYS[1])
    second = refreshed(work / "daily" / "daily.duckdb", DAYS[1])

    # Before day 3: another playlist changes (its first track goes), another is removed, another
    # appears; and one is removed whose refreshes the history no longer holds (as after a pause of
    # the runs longer than the two cycles it keeps).
    with duckdb.connect(str(work / "daily" / "daily.duckdb")) as con:
        con.execute("delete from tunesday_intermediate.int_playlist_refresh where playlist_id = ?", [forgotten])
    rewrite(
        raw,
        "playlist_tracks",
        f"""
        select * from raw_rows
        where playlist_id is distinct from '{removed_later}' and playlist_id is distinct from '{forgotten}'
            and not coalesce(playlist_id = '{changed_later}' and position = (
                select min(position) from raw_rows where playlist_id = '{changed_later}'), false)
        union all by name
        select * replace ('{appeared_later}' as playlist_id) from raw_rows where playlist_id = '{donor}'
    """,
    )
    assert (
        rewrite(
            raw,
            "playlists",
            f"""
        with appeared as (
            select * replace ('{appeared_later}' as playlist_id) from raw_rows where playlist_id = '{donor}' limit 1
        )
        select * from raw_rows
        where playlist_id is distinct from '{removed_later}' and playlist_id is distinct from '{forgotten}'
        union all by name
        select * from appeared
    """,
        )
        == -1
    )
    daily_path = work / "daily" / "daily.duckdb"
    shutil.copy(daily_path, work / "previous.duckdb")
    (work / "full").mkdir()
    shutil.copy(daily_path, work / "full" / "full.duckdb")
    build(env, DAYS[2])
    # The reference: every model recomputed from scratch for the same day, on the same raw data.
    build(dbt.duckdb_env(work / "full", raw, work / "full" / "full.duckdb"), DAYS[2], "--full-refresh")
    return {
        "work": work,
        "env": env,
        "build": build,
        "daily": daily_path,
        "previous": work / "previous.duckdb",
        "full": work / "full" / "full.duckdb",
        "second": second,
        "third": refreshed(daily_path, DAYS[2]),
        "changed": changed,
        "removed": removed,
        "reordered": reordered,
        "changed_later": changed_later,
        "removed_later": removed_later,
        "appeared": appeared,
        "appeared_later": appeared_later,
        "forgotten": forgotten,
    }


def test_the_runs_recompute_the_playlists_that_changed_appeared_or_are_due(three_days):
    second, third = three_days["second"], three_days["third"]
    assert second[three_days["changed"]] == "changed"
    assert second[three_days["removed"]] == "changed"  # gone: its pool goes
    assert second[three_days["appeared"]] == "stale"  # new: never refreshed
    assert three_days["reordered"] not in second  # the same tracks in another order
    assert {"weekly"} <= set(second.values())
    assert third[three_days["changed_later"]] == "changed"
    assert third[three_days["removed_later"]] == "changed"
    assert third[three_days["appeared_later"]] == "stale"
    assert three_days["changed"] not in third and three_days["appeared"] not in third
    assert three_days["removed"] not in third  # gone before, not gone again
    with connect_warehouse(str(three_days["daily"])) as con:
        [(playlists,)] = con.execute("select count(*) from stg_raw__playlists").fetchall()
    assert 0 < len(third) < playlists / 3


def test_a_daily_run_recomputes_the_refreshed_pools_exactly_as_a_full_build(three_days):
    third = set(three_days["third"])
    recomputed = pools(three_days["daily"], third, "in")
    assert recomputed and recomputed == pools(three_days["full"], third, "in")
    # The new playlist has a pool, computed on its first day.
    assert three_days["appeared_later"] in {row[0] for row in recomputed}


def test_every_other_playlist_keeps_the_pool_of_its_last_refresh(three_days):
    third = set(three_days["third"])
    kept = pools(three_days["daily"], third, "not in")
    # (The pool of the playlist gone unseen goes: test_a_gone_playlist_loses_its_pool.)
    previous = pools(three_days["previous"], third | {three_days["forgotten"]}, "not in")
    assert kept and kept == previous
    # ... computed by earlier runs, which as_of_date says; some on day 2 (the playlists refreshed then).
    as_of = {row[-1] for row in kept}
    assert as_of == {DAYS[0], DAYS[1]}, as_of
    # The full build has the same playlists: none is missing, no gone one is left.
    assert pooled(three_days["daily"]) == pooled(three_days["full"])


def test_the_continuations_are_recomputed_and_kept_like_the_pools(three_days):
    third = set(three_days["third"])
    recomputed = pools(three_days["daily"], third, "in", CONTINUATIONS)
    assert recomputed and recomputed == pools(three_days["full"], third, "in", CONTINUATIONS)
    kept = pools(three_days["daily"], third, "not in", CONTINUATIONS)
    previous = pools(three_days["previous"], third | {three_days["forgotten"]}, "not in", CONTINUATIONS)
    assert kept and kept == previous
    assert {row[-1] for row in kept} == {DAYS[0], DAYS[1]}
    # The same playlists as a full build's: the short ones, none gone.
    assert pooled(three_days["daily"], CONTINUATIONS) == pooled(three_days["full"], CONTINUATIONS)
    assert three_days["removed_later"] not in pooled(three_days["daily"], CONTINUATIONS)


def test_a_gone_playlist_loses_its_pool(three_days):
    before, after = pooled(three_days["previous"]), pooled(three_days["daily"])
    assert three_days["removed_later"] in before and three_days["removed_later"] not in after
    assert three_days["removed"] not in before | after
    # Gone while the refresh history does not name it: its pool goes all the same.
    assert three_days["forgotten"] not in three_days["third"]
    assert three_days["forgotten"] in before and three_days["forgotten"] not in after


def test_a_rerun_of_the_day_recomputes_the_same_playlists_and_changes_nothing(three_days):
    before = pools(three_days["daily"], set(), "not in")
    three_days["build"](three_days["env"], DAYS[2])
    assert refreshed(three_days["daily"], DAYS[2]) == three_days["third"]
    assert pools(three_days["daily"], set(), "not in") == before
