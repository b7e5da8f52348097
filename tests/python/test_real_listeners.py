"""The whole pipeline on real data, the way the README's "Your own listening history" says: its
commands run as written, on the four shared streaming histories with the shared MPD playlists and
audio features beside them (the unpacked export is ../shared/data; the test gives the workspace and
the port, to stay out of the way of a developer's own). Each listener's served Discover Weekly and
warehouse are checked and reported. Skips when ../shared/data is absent."""

import json
import os
import shlex
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import PROJECT_DIR, SHARED_DATA

from tunesday.report import listener_page
from tunesday.warehouse import connect as connect_warehouse

DISCOVER_WEEKLY_SIZE = 30
MAX_TRACKS_PER_ARTIST = 2
README_MARKER = "<!-- tests/python/test_real_listeners.py runs this block as written"
README_FOLDER, README_LISTENER = "~/spotify-export", "Spotify_Extended_Streaming_History"

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"real data not present at {SHARED_DATA}")


def readme_commands() -> list[str]:
    block = (PROJECT_DIR / "README.md").read_text().split(README_MARKER, 1)[1].split("```sh\n", 1)[1]
    return [line for line in block.split("```", 1)[0].splitlines() if line.strip()]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """`make real DATA=…` from the README, in the background until it serves; its warehouse,
    port and the README's curl line."""
    unzip, make_real, curl = readme_commands()
    assert unzip.startswith("unzip ") and README_FOLDER in make_real and README_LISTENER in curl
    work = tmp_path_factory.mktemp("real")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "TUNESDAY_SERVING_BIND": f"127.0.0.1:{port}", "TUNESDAY_SERVING_WORKERS": "1"}
    command = [*shlex.split(make_real.replace(README_FOLDER, str(SHARED_DATA))), f"REAL_DIR={work / 'real'}"]
    log = work / "make_real.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=PROJECT_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 1200
        while not _ready(port):
            assert process.poll() is None, f"make real ended (exit {process.returncode}):\n{log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"make real did not serve in time:\n{log.read_text()[-4000:]}"
            time.sleep(1)
        yield {"duckdb": work / "real" / "tunesday.duckdb", "port": port, "curl": curl, "log": log.read_text()}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def real_warehouse(real_run) -> Path:
    return real_run["duckdb"]


def test_the_readmes_commands_serve_each_listener_thirty_tracks(real_run):
    """The README's curl line, for each shared listener: 30 tracks; and `make real` said which run
    date it used (the last day of the plays) and where each listener is."""
    url = shlex.split(real_run["curl"])[-1].replace("127.0.0.1:8080", f"127.0.0.1:{real_run['port']}")
    listeners = sorted(path.name for path in (SHARED_DATA / "streaming_history").iterdir() if path.is_dir())
    for listener in listeners:
        with urllib.request.urlopen(url.replace(README_LISTENER, listener), timeout=10) as answer:
            assert len(json.loads(answer.read())["items"]) == DISCOVER_WEEKLY_SIZE, listener
        assert f"{listener}: http://127.0.0.1:{real_run['port']}/explore/users/{listener}" in real_run["log"]
    with connect_warehouse(str(real_run["duckdb"])) as con:
        [(last_day,)] = con.execute("select max(cast(played_at as date)) from stg_raw__listening_events").fetchall()
    assert f"run date {last_day} (the last day of your plays" in real_run["log"]


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
