"""The whole pipeline on real data: the four shared streaming histories, the shared audio features
and the shared MPD playlists (for similarity), loaded with tunesday-load, built with dbt; each
listener's Discover Weekly checked and reported. Skips when ../shared/data is absent."""

from pathlib import Path

import pytest
from conftest import SHARED_DATA, run_dbt

from tunesday import dbt
from tunesday.load.cli import main as load
from tunesday.report import listener_page
from tunesday.warehouse import connect as connect_warehouse

RUN_DATE = "2026-11-26"
DISCOVER_WEEKLY_SIZE = 30
MAX_TRACKS_PER_ARTIST = 2

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"real data not present at {SHARED_DATA}")


@pytest.fixture(scope="module")
def real_warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("real")
    raw = root / "raw"
    listeners = sorted(path for path in (SHARED_DATA / "streaming_history").iterdir() if path.is_dir())
    assert len(listeners) == 4
    for folder in listeners:
        assert load(["spotify-history", str(folder), "--raw-dir", str(raw)]) == 0
    assert load(["mpd", str(SHARED_DATA / "mpd"), "--raw-dir", str(raw)]) == 0
    assert load(["audio-features", str(SHARED_DATA / "audio_features"), "--raw-dir", str(raw)]) == 0
    build = run_dbt(["build", "--full-refresh", "--vars", f"{{run_date: '{RUN_DATE}'}}"], dbt.duckdb_env(root, raw))
    assert build.success, build.describe(6000)
    return root / "warehouse.duckdb"


def test_every_real_listener_gets_thirty_never_played_tracks_within_the_artist_cap(real_warehouse):
    with connect_warehouse(str(real_warehouse)) as con:
        listeners = [
            row[0]
            for row in con.execute(
                "select distinct user_id from stg_raw__users where user_id like 'listener_%' order by 1"
            ).fetchall()
        ]
        assert len(listeners) == 4
        sizes = dict(con.execute("select user_id, count(*) from fct_discover_weekly group by user_id").fetchall())
        assert {listener: sizes.get(listener) for listener in listeners} == dict.fromkeys(
            listeners, DISCOVER_WEEKLY_SIZE
        )
        # Never played: against every raw play of the listener, accepted or not.
        [(played,)] = con.execute("""
            select count(*) from fct_discover_weekly as weekly
            inner join base_raw__listening_events as plays
                on weekly.user_id = plays.user_id and weekly.track_id = plays.track_id
        """).fetchall()
        assert played == 0
        [(over_cap,)] = con.execute(f"""
            select count(*) from (
                select user_id, artist_id from fct_discover_weekly group by user_id, artist_id
                having count(*) > {MAX_TRACKS_PER_ARTIST}
            )
        """).fetchall()
        assert over_cap == 0
        assert (
            con.execute(
                "select count(*) from fct_discover_weekly where reason_codes is null or reason_codes = ''"
            ).fetchone()[0]
            == 0
        )
        pages = {listener: listener_page(con, listener) for listener in listeners}
    for page in pages.values():
        assert "<h2>Top artists</h2>" in page and "Tempo around" in page
        weekly = page.split("<h2>Discover Weekly", 1)[1]
        assert weekly.count("<tr>") - 1 == DISCOVER_WEEKLY_SIZE


def test_the_skip_flag_staging_derives_agrees_with_the_one_real_clients_report(real_warehouse):
    """When an export has no skip flag, staging derives one (seed play_reason_codes.ends_as_skip,
    else the time played). Measured on real plays that do carry the flag: how often the derived
    flag equals the reported one."""
    with connect_warehouse(str(real_warehouse)) as con:
        agreement = con.execute("""
            select
                count(*) as plays,
                avg(case when coalesce(codes.ends_as_skip, plays.ms_played < 30000) = plays.is_skipped
                    then 1.0 else 0.0 end) as agreement
            from base_raw__listening_events as plays
            left join play_reason_codes as codes
                on codes.reason_field = 'end' and codes.reason_code = plays.end_reason
            where plays.row_status = 'accepted' and plays.skip_flag_rule = 'as_reported'
        """).fetchone()
        per_listener = con.execute("""
            select user_id, accepted_plays, defaulted_plays, rejected_share
            from audit_raw__listener_oddities where user_id like 'listener_%' order by user_id
        """).fetchall()
    print(f"\nderived skip flag vs reported, {agreement[0]} real plays: {agreement[1]:.3f} agree")
    print("per listener (accepted, defaulted, rejected share):", per_listener)
    assert agreement[0] > 20000 and agreement[1] >= 0.9
    assert len(per_listener) == 4
