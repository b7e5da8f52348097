"""The daily job end to end (`tunesday daily`, `tunesday backfill`) on a tiny generated dataset.

A week of days run the way a scheduler runs them: the first two as a backfill (over a Monday: the
week's first run), then one `tunesday daily` a day, with half of the first day's events arriving
two days late, one run killed in the middle of dbt and run again, one day skipped (the next run
catches it up) and a second run started while one holds the warehouse (refused). Afterwards every
model and serving table equals what a full rebuild on the last day makes (`--full-refresh` of a
copy: every model recomputed from the raw files;
what a full refresh keeps by design, the published Discover Weekly weeks and the audit history,
is kept on both sides), and ops_run_log shows every stage of every run.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import PROJECT_DIR, arriving_now, generate
from test_report import report as run_report

from tunesday import settings
from tunesday.job import stages
from tunesday.job.run_log import RunLog
from tunesday.job.target import duckdb_job_env as job_env
from tunesday.job.target import from_env

DAYS = 7  # each run of the week costs ~45 s of CI
LAST = dt.date(2026, 10, 31)  # a Saturday
FIRST = LAST - dt.timedelta(days=DAYS - 1)
BACKFILLED = [FIRST, FIRST + dt.timedelta(days=1)]
LATE_DAY = FIRST  # half of its events arrive two days late
LATE_ARRIVAL = LATE_DAY + dt.timedelta(days=2)
KILLED = FIRST + dt.timedelta(days=3)  # its first run is killed in the middle of dbt
SKIPPED = FIRST + dt.timedelta(days=4)  # no run: the next day's run catches it up
CONTENDED = FIRST + dt.timedelta(days=5)  # a second run is started while this one runs
WEEK = [FIRST + dt.timedelta(days=n) for n in range(DAYS)]


def job(env: dict, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tunesday.job.cli", *args],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def reason(completed: subprocess.CompletedProcess) -> str:
    """The one-line reason of a failed run: stderr's last line (every line before it is JSON)."""
    lines = completed.stderr.strip().splitlines()
    for line in lines[:-1]:
        json.loads(line)
    assert "Traceback" not in completed.stderr
    return lines[-1]


def start_job(env: dict, *args: str) -> subprocess.Popen:
    """A run in the background. Its progress (dbt's line per node) is not kept: unread, it would
    fill the pipe and stop the run; its stderr (JSON lines, a few per stage) is."""
    return subprocess.Popen(
        [sys.executable, "-m", "tunesday.job.cli", *args],
        env=env,
        cwd=PROJECT_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, what: str, timeout: float = 900, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            pytest.fail(f"the run ended (exit {process.returncode}) before {what}: {process.stderr.read()[-3000:]}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def lock_state(env: dict) -> dict:
    try:
        return json.loads(from_env(env).lock_path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def hold_back_late_events(raw_dir: Path, aside: Path) -> int:
    """Move half of LATE_DAY's events (the listeners in the first half by id) out of the raw folder
    into `aside`; returns how many."""
    folder = raw_dir / "listening_events"
    [path] = sorted(folder.glob("*.parquet"))
    table = pq.read_table(path)
    users = sorted(set(table.column("user_id").to_pylist()))
    late = pc.and_(
        pc.equal(pc.cast(table.column("played_at"), pa.date32()), pa.scalar(LATE_DAY, pa.date32())),
        pc.is_in(table.column("user_id"), value_set=pa.array(users[: len(users) // 2])),
    )
    aside.mkdir(parents=True)
    pq.write_table(table.filter(late), aside / "part-late.parquet")
    pq.write_table(table.filter(pc.invert(late)), path)
    return table.filter(late).num_rows


def comparable(path: Path) -> dict[str, set[tuple]]:
    """Every model's rows (floats rounded to 9 places); snapshots' current rows without dbt's
    columns; the audit tables without their timestamps; the listeners and playlists recomputed on
    the last day (without the time that run started)."""
    tables: dict[str, set[tuple]] = {}
    with duckdb.connect(str(path), read_only=True) as con:
        listed = con.execute("""
            select table_schema, table_name from information_schema.tables
            where starts_with(table_schema, 'tunesday_') and table_schema not in ('tunesday_raw', 'tunesday_ops')
        """).fetchall()
        for schema, table in listed:
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table],
            ).fetchall()
            names = {name for name, _ in columns}
            selected = [
                f"round({name}, 9)" if kind == "DOUBLE" else name
                for name, kind in columns
                if not name.startswith("dbt_") and name not in {"audited_at", "run_started_at"}
            ]
            where = "where dbt_valid_to is null" if "dbt_valid_to" in names else ""
            if table in {"int_user_refresh", "int_playlist_refresh"}:  # kept for two weeks of runs: the last day's
                where = f"where run_date = '{LAST}'"
            tables[f"{schema}.{table}"] = set(
                con.execute(f'select {", ".join(selected)} from {schema}."{table}" {where}').fetchall()
            )
    return tables


@pytest.fixture(scope="module")
def a_week(tmp_path_factory):
    work = tmp_path_factory.mktemp("daily_job")
    data = work / "data"
    generate(
        data,
        "--users",
        "30",
        "--tracks",
        "500",
        "--days",
        "12",
        "--seed",
        "11",
        "--bad-share",
        "0",
        "--end-date",
        (LAST + dt.timedelta(days=1)).isoformat(),
    )
    raw_dir = data / "raw"
    held_back = hold_back_late_events(raw_dir, work / "late")
    assert held_back > 0
    env = job_env(work, raw_dir, "daily")
    outputs: dict[str, subprocess.CompletedProcess] = {}

    # Days 1-2: a backfill, oldest first.
    outputs["backfill"] = job(env, "backfill", "--from", BACKFILLED[0].isoformat(), "--to", BACKFILLED[-1].isoformat())
    assert outputs["backfill"].returncode == 0, outputs["backfill"].stderr

    day = BACKFILLED[-1] + dt.timedelta(days=1)
    while day <= LAST:
        if day == LATE_ARRIVAL:  # the held-back events arrive, two days late
            pq.write_table(
                arriving_now(pq.read_table(work / "late" / "part-late.parquet")),
                raw_dir / "listening_events" / "part-late.parquet",
            )
        if day == SKIPPED:
            day += dt.timedelta(days=1)
            continue
        if day == KILLED:
            outputs["killed"] = kill_in_the_middle_of_dbt(env, day)
        if day == CONTENDED:
            first = start_job(env, "daily", "--run-date", day.isoformat())
            wait_for(lambda: lock_state(env).get("stage") == "build", "the first run to start its build", process=first)
            outputs["refused"] = job(env, "daily", "--run-date", day.isoformat(), timeout=120)
            out, err = first.communicate(timeout=1200)
            outputs[str(day)] = subprocess.CompletedProcess(first.args, first.returncode, out or "", err)
        elif day == LAST:
            # The last day recomputes every listener and playlist (a daily run recomputes only the ones
            # whose inputs changed, and keeps the others' lists and pools from their last refresh:
            # tests/python/test_listener_refresh.py, test_playlist_refresh.py), so that every table
            # can equal the full build.
            outputs[str(day)] = job(
                env,
                "daily",
                "--run-date",
                day.isoformat(),
                "--vars",
                "{refresh_all_listeners: true, refresh_all_playlists: true}",
            )
        else:
            outputs[str(day)] = job(env, "daily", "--run-date", day.isoformat())
        assert outputs[str(day)].returncode == 0, f"{day}: {outputs[str(day)].stderr}"
        day += dt.timedelta(days=1)

    # The reference: the same warehouse rebuilt in full on the last day, every model from the raw files.
    shutil.copy(work / "daily.duckdb", work / "full.duckdb")
    full_env = job_env(work, raw_dir, "full")
    outputs["full"] = job(full_env, "daily", "--run-date", LAST.isoformat(), "--full-refresh")
    assert outputs["full"].returncode == 0, outputs["full"].stderr
    return {"work": work, "env": env, "full_env": full_env, "outputs": outputs}


def kill_in_the_middle_of_dbt(env: dict, day: dt.date) -> dict:
    """Start the day's run, SIGKILL it once dbt has written its first incremental model."""
    log = Path(env["DBT_LOG_PATH"]) / "dbt.log"
    offset = log.stat().st_size if log.exists() else 0

    def dbt_wrote_a_model() -> bool:
        if not log.exists():
            return False
        with log.open() as file:
            file.seek(offset)
            return "OK created sql incremental model" in file.read()

    run = start_job(env, "daily", "--run-date", day.isoformat())
    wait_for(dbt_wrote_a_model, "dbt to write an incremental model", process=run)
    dbt_children = children(run.pid)
    assert dbt_children, "dbt runs in a child process"
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)
    # The dbt child dies with the job (PR_SET_PDEATHSIG): nothing is left writing to the warehouse.
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in dbt_children), "dbt to die", timeout=60)
    return lock_state(env)


def test_a_week_of_runs_equals_a_full_build_on_its_last_day(a_week):
    daily, full = comparable(a_week["work"] / "daily.duckdb"), comparable(a_week["work"] / "full.duckdb")
    assert daily.keys() == full.keys()
    assert len(daily) >= 60, sorted(daily)
    differences = []
    for table in sorted(daily):
        if daily[table] != full[table]:
            only_daily, only_full = daily[table] - full[table], full[table] - daily[table]
            differences.append(
                f"{table}: {len(only_daily)} rows only after the daily runs "
                f"(e.g. {sorted(only_daily, key=str)[:1]}), {len(only_full)} only in the full build "
                f"(e.g. {sorted(only_full, key=str)[:1]})"
            )
    assert not differences, "\n".join(differences)
    for table in (
        "tunesday_core.fct_user_track_days",
        "tunesday_serving.serving_recommendations",
        "tunesday_serving.serving_bloom_filters",
        "tunesday_intermediate.int_user_track_affinity_state",
    ):
        assert daily[table], f"{table} is empty: the comparison proves nothing"


def test_the_report_plots_the_weeks_lists_over_the_days_since_they_were_made(a_week, tmp_path):
    """Discover Weekly's list of the week of Monday 2026-10-26 is made by that day's run; each run
    after adds a day to its outcome, and `tunesday report` plots them: a line of a point a day
    (the week before was made by the backfill's first run, so has days too)."""
    with duckdb.connect(str(a_week["work"] / "daily.duckdb"), read_only=True) as con:
        days = con.execute(
            "select week_start, count(*), max(as_of_date) from tunesday_evaluation.eval_discover_weekly_outcomes "
            "group by week_start order by week_start"
        ).fetchall()
    assert days[-1] == (dt.date(2026, 10, 26), 5, LAST), days
    done = run_report("--duckdb", str(a_week["work"] / "daily.duckdb"), "--out", str(tmp_path / "report.html"))
    assert done.returncode == 0, done.stderr
    quality = (tmp_path / "report.html").read_text().split("<h2>Recommendation quality over days</h2>")[1]
    quality = quality.split("<h2>")[0]
    first_chart = quality.split("</svg>")[0]
    assert "week of 2026-10-26" in first_chart and first_chart.count("<circle") == sum(n for _, n, _ in days)


def test_the_late_events_are_in_the_warehouse(a_week):
    late = pq.read_table(a_week["work"] / "data" / "raw" / "listening_events" / "part-late.parquet")
    ids = late.column("event_id").to_pylist()
    with duckdb.connect(str(a_week["work"] / "daily.duckdb"), read_only=True) as con:
        found = con.execute(
            "select count(*) from tunesday_staging.base_raw__listening_events where event_id in (select unnest(?))",
            [ids],
        ).fetchone()[0]
    assert found == len(ids) > 0


def test_the_run_log_shows_every_stage_of_every_run(a_week):
    rows = RunLog(from_env(a_week["env"])).rows()
    runs: dict[str, list[dict]] = {}
    for row in rows:
        runs.setdefault(row["run_id"], []).append(row)
    ran = sorted({row["run_date"] for row in rows})
    assert ran == [day for day in WEEK if day != SKIPPED]
    complete = [run for run in runs.values() if [r["stage"] for r in run] == ["lock", *stages.STAGES]]
    assert len(complete) == DAYS - 1  # every day but the skipped one ran to the end (the killed day's second run)
    for run in complete:
        assert {r["status"] for r in run} <= {"success", "warn"}, run
        assert len({r["run_date"] for r in run}) == 1 and all(r["finished_at"] for r in run)
        build, export, publish = (next(r for r in run if r["stage"] == name) for name in ("build", "export", "publish"))
        assert build["rows"] > 0 and build["dbt_invocation_id"]
        assert export["snapshot_id"] == publish["snapshot_id"] and export["rows"] == publish["rows"] > 0
    assert {run[0]["command"] for run in complete} == {"backfill", "daily"}
    # The killed run: its lock row, and its build appended as killed by the run after it.
    [killed] = [run for run in runs.values() if run not in complete]
    assert [(r["stage"], r["status"]) for r in killed] == [("lock", "success"), ("build", "killed")]
    assert killed[1]["run_date"] == KILLED and killed[1]["finished_at"] is None
    assert a_week["outputs"]["killed"]["stage"] == "build"
    # The refused run wrote nothing: the complete runs and the killed one are all there is.
    assert len(runs) == DAYS


def test_the_job_logs_a_json_line_per_stage(a_week):
    events = [json.loads(line) for line in a_week["outputs"][str(LAST)].stderr.splitlines()]
    stage_events = [event for event in events if event["event"] == "stage"]
    assert [event["stage"] for event in stage_events] == ["lock", *stages.STAGES]
    for event in stage_events:
        assert event["status"] == "success" and event["run_date"] == LAST.isoformat() and event["duration_ms"] >= 0
    assert stage_events[-1]["snapshot_id"] and len({event["run_id"] for event in stage_events}) == 1


def test_the_job_shows_dbts_line_per_node_and_the_exports_per_stage(a_week):
    """A run's progress as it goes: under each stage's line, dbt's own line per node (a result for
    every node it ran) and the export's line per stage."""
    out = a_week["outputs"][str(LAST)].stdout
    results: dict[int, set[int]] = {}
    result_line = r"^    \d\d:\d\d:\d\d +(\d+) of (\d+) (?:OK|PASS|WARN|SKIP|NO-OP)"
    for index, total in re.findall(result_line, out, re.MULTILINE):
        results.setdefault(int(total), set()).add(int(index))
    nodes = max(results)
    assert nodes > 400 and results[nodes] == set(range(1, nodes + 1))
    build_line = next(line for line in out.splitlines() if re.match(rf"{LAST}  build +success", line))
    assert out.index(f"1 of {nodes} START") < out.index(build_line)
    export = out[out.index(build_line) :]
    for step in ("exporting run_date", "discover_weekly: rendered", "validated in", "checksummed and synced"):
        assert f"\n    {step}" in export, step


def test_every_statement_is_labelled_with_the_day_its_run_computes(a_week):
    """The comment on each statement (dbt_project.yml query-comment: BigQuery's job labels) names
    the run's day, which the job passes in TUNESDAY_RUN_DATE, not the day the tests run."""
    logs = sorted(Path(a_week["env"]["DBT_LOG_PATH"]).glob("dbt.log*"))
    labelled = Counter(
        json.loads(comment)["run_date"]
        for log in logs
        for comment in re.findall(r'/\* (\{"model": .*?\}) \*/', log.read_text(errors="replace"))
    )
    assert labelled and set(labelled) <= {day.isoformat() for day in WEEK}, labelled
    assert labelled[LAST.isoformat()] > 100


def test_a_second_run_is_refused_at_once(a_week):
    refused = a_week["outputs"]["refused"]
    assert refused.returncode == stages.EXIT_CODES["lock"]
    line = reason(refused)
    assert "another run holds" in line and f"run_date {CONTENDED}" in line and "stage build" in line


def test_every_day_was_published_and_the_metrics_say_so(a_week):
    target = from_env(a_week["env"])
    assert RunLog(target).published_run_dates() == set(WEEK) - {SKIPPED}
    current = json.loads((target.store / "CURRENT").read_text())
    assert current["run_date"] == LAST.isoformat()
    metrics = Path(a_week["env"][settings.JOB_METRICS_FILE]).read_text()
    midnight = dt.datetime.combine(LAST, dt.time(), tzinfo=dt.UTC).timestamp()
    assert f"tunesday_job_published_run_date_timestamp_seconds {midnight:.3f}" in metrics
    for stage in stages.STAGES:
        assert f'tunesday_job_last_run_success{{stage="{stage}"}} 1.000' in metrics


def test_backfill_skips_published_days_and_days_a_later_run_caught_up(a_week):
    before = len(RunLog(from_env(a_week["env"])).rows())
    result = job(a_week["env"], "backfill", "--from", FIRST.isoformat(), "--to", LAST.isoformat(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("skipped") == DAYS
    assert len(RunLog(from_env(a_week["env"])).rows()) == before


def test_a_stage_that_fails_stops_the_run_with_its_exit_code(a_week, tmp_path):
    env = dict(a_week["env"])
    env[settings.SERVING_STORE] = str(tmp_path / "a-file")
    (tmp_path / "a-file").write_text("not a folder")
    export = job(env, "daily", "--run-date", LAST.isoformat(), "--stage", "export", timeout=300)
    assert export.returncode == stages.EXIT_CODES["export"], export.stderr
    line = reason(export)
    assert line.startswith("tunesday daily: export failed for run_date 2026-10-31")
    publish = job(
        a_week["env"],
        "daily",
        "--run-date",
        LAST.isoformat(),
        "--stage",
        "publish",
        "--snapshot-id",
        "2026-10-31_nothing",
        timeout=300,
    )
    assert publish.returncode == stages.EXIT_CODES["publish"], publish.stderr
    failed = RunLog(from_env(a_week["env"])).rows("status = 'failed'")
    assert [(r["stage"], r["command"]) for r in failed][-2:] == [("export", "stage"), ("publish", "stage")]
    assert "no snapshot 2026-10-31_nothing" in failed[-1]["error"]


def test_a_run_log_that_cannot_be_written_fails_the_stage_in_one_line(a_week):
    exported = job(a_week["env"], "daily", "--run-date", LAST.isoformat(), "--stage", "export", timeout=300)
    assert exported.returncode == 0, exported.stderr
    snapshot_id = RunLog(from_env(a_week["env"])).rows("stage = 'export' and status = 'success' and command = 'stage'")[
        -1
    ]["snapshot_id"]
    # Another process holding the DuckDB file (an analyst's write connection) blocks the run log.
    with duckdb.connect(str(a_week["work"] / "daily.duckdb")):
        publish = job(
            a_week["env"],
            "daily",
            "--run-date",
            LAST.isoformat(),
            "--stage",
            "publish",
            "--snapshot-id",
            snapshot_id,
            timeout=300,
        )
    assert publish.returncode == stages.EXIT_CODES["publish"], publish.stderr
    assert "it ran, but ops_run_log could not be written" in reason(publish)


@pytest.mark.parametrize(
    "hours_ago, status, exit_code", [(30, "warn", 0), (50, "failed", stages.EXIT_CODES["freshness"])]
)
def test_stale_events_warn_after_26_hours_and_stop_the_run_after_48(a_week, tmp_path, hours_ago, status, exit_code):
    """The freshness stage alone, on events whose newest load is `hours_ago` old."""
    loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=hours_ago)
    generate(
        tmp_path / "data",
        "--users",
        "5",
        "--tracks",
        "50",
        "--days",
        "2",
        "--seed",
        "3",
        "--bad-share",
        "0",
        "--end-date",
        (LAST + dt.timedelta(days=1)).isoformat(),
        "--loaded-at",
        loaded_at.isoformat(timespec="seconds"),
    )
    shutil.copy(a_week["work"] / "daily.duckdb", tmp_path / "stale.duckdb")
    env = job_env(tmp_path, tmp_path / "data" / "raw", "stale")
    result = job(env, "daily", "--run-date", LAST.isoformat(), "--stage", "freshness", timeout=300)
    assert result.returncode == exit_code, result.stderr
    [row] = RunLog(from_env(env)).rows("command = 'stage' and stage = 'freshness'")
    assert (row["stage"], row["status"]) == ("freshness", status)
    assert "listening_events" in row["error"]
    if exit_code:
        assert reason(result).startswith("tunesday daily: freshness failed for run_date 2026-10-31")
