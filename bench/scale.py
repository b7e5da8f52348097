"""Scale benchmark of the warehouse on DuckDB: what a full build and a daily run cost as the data
grows, as the share of listeners active on the day grows, and as the history gets longer.

    python bench/scale.py --scale S              # CI's smoke size (~0.1 M events, a few minutes)
    python bench/scale.py --scale M              # ~10 M events, 90 days
    python bench/scale.py --scale L --only full daily
    python bench/scale.py --users 100000 --days 30 --only full daily
    python bench/scale.py --scale M --only history --repeats 5 --settle-days 3
    python bench/scale.py --report               # Markdown and PNG plots from every result so far

Every run goes through the product's entry point, `tunesday daily`, in a process of its own, so its
peak RSS (the job's and its dbt child's) is its own; each stage's time comes from ops_run_log. Times
are wall clock on a shared machine: compare the ratios measured in the same run.

  full     `tunesday daily --full-refresh` at the day before the last: every model of the daily
           selection and its tests, from the raw files;
  daily    then `tunesday daily` at the last day, and how many listeners it recomputed;
  active   the same daily run from the same state with the last day's activity (plays, saves,
           follows) thinned to a share of the listeners (--shares): the daily cost should follow
           the share;
  history  the daily run of an early day (a third of the way in) from its own full build against
           the last day's, both days thinned to the same share of active listeners
           (--history-share), each run --repeats times from the same state, the two days
           alternated: the medians of the daily build should be the same with 30 days of
           history as with 90. --settle-days N: each state a full build N days earlier and N
           daily runs, as in production, where a full build is rare;
and the floor: one scan of the events (every column of every row, from the raw files), so each
cost also reads as a multiple of reading the events once. Also the most the DuckDB temp folder held
(spilled). Results: --out (default target/bench), a JSON file per scale.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from tunesday import settings
from tunesday.job.target import duckdb_job_env as job_env

PROJECT_DIR = Path(__file__).resolve().parents[1]
EVENTS_PER_USER_DAY = 10.9  # what the generator makes on average
END_DATE = dt.date(2026, 11, 1)


@dataclasses.dataclass(frozen=True)
class Scale:
    name: str
    users: int
    days: int
    tracks: int
    early_day: int | None = None  # the daily run of this day is compared with the last day's (history)


SCALES = {
    "S": Scale("S", users=300, days=31, tracks=3_000, early_day=10),  # ~0.1 M events: CI's smoke test
    "M": Scale("M", users=10_000, days=90, tracks=100_000, early_day=30),  # ~10 M events
    "L": Scale("L", users=1_000_000, days=14, tracks=200_000),  # ~150 M events
}


def generate(scale: Scale, out: Path, seed: int) -> dict:
    if not (out / "manifest.json").exists():
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tunesday.generate",
                "--users",
                str(scale.users),
                "--tracks",
                str(scale.tracks),
                "--days",
                str(scale.days),
                "--seed",
                str(seed),
                "--end-date",
                END_DATE.isoformat(),
                "--out",
                str(out),
                "--workers",
                "2",
                "--bad-share",
                "0.001",
            ],
            cwd=PROJECT_DIR,
            check=True,
            capture_output=True,
        )
        print(f"generated in {time.perf_counter() - started:.0f} s")
    return json.loads((out / "manifest.json").read_text())


class DiskWatch:
    """The most some files held at once while a block ran (polled twice a second): each path a
    file or a folder (everything under it); a path that does not exist holds nothing."""

    def __init__(self, *paths: Path) -> None:
        self.paths, self.peak, self._stop = paths, 0, threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            try:
                size = sum(
                    file.stat().st_size
                    for path in self.paths
                    for file in ([path] if path.is_file() else path.rglob("*"))
                    if file.is_file()
                )
            except OSError:
                continue
            self.peak = max(self.peak, size)

    def __enter__(self) -> DiskWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def events_scan_seconds(raw_dir: Path) -> float:
    """The floor: one pass over every column of every event, in a fresh DuckDB process."""
    code = (
        "import duckdb, sys, time; c = duckdb.connect(); c.execute('set enable_progress_bar = false'); "
        "started = time.perf_counter(); "
        'c.sql("select count(*), count(distinct user_id), sum(hash(columns(*)) % 1000) from read_parquet(\'" '
        '+ sys.argv[1] + "/listening_events/*.parquet\', union_by_name=true)").fetchall(); '
        "print(time.perf_counter() - started)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(raw_dir)], check=True, capture_output=True, text=True)
    return float(done.stdout.split()[-1])


# Every run of the benchmark frees the intermediates a build has read (macro release_consumed): at
# 1 M listeners they are 1.2 billion rows the disk needs for the rest of the build.
BENCH_VARS = {"release_consumed_intermediates": True}


def daily_job(env: dict, day: dt.date, *extra: str, dbt_vars: dict | None = None) -> dict:
    """`tunesday daily --run-date DAY EXTRA --vars BENCH_VARS+dbt_vars` in a wrapper process of its
    own, so that the peak RSS (the job's, its dbt child's) is this run's; wall time, peak RSS and
    each stage's time."""
    from tunesday.job.run_log import RunLog
    from tunesday.job.target import from_env

    wrapper = (
        "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)"
    )
    warehouse = Path(env[settings.DUCKDB_PATH])
    temp, store = Path(f"{warehouse}.tmp"), Path(env[settings.SERVING_STORE])
    started = time.perf_counter()
    # the disk the job needs: its warehouse (with the WAL) and spill, and the snapshots it exports
    with DiskWatch(temp) as spill, DiskWatch(warehouse, Path(f"{warehouse}.wal"), temp, store) as disk:
        job = subprocess.run(
            [
                sys.executable,
                "-c",
                wrapper,
                sys.executable,
                "-m",
                "tunesday.job.cli",
                "daily",
                "--run-date",
                day.isoformat(),
                *extra,
                "--vars",
                json.dumps(BENCH_VARS | (dbt_vars or {})),
            ],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
        )
    seconds = time.perf_counter() - started
    if job.returncode != 0:
        sys.exit(f"tunesday daily exited {job.returncode}: {job.stderr[-3000:]}")
    rows = [row for row in RunLog(from_env(env)).rows() if row["run_date"] == day]
    last_run = rows[-1]["run_id"]
    return {
        "run_date": day.isoformat(),
        "seconds": round(seconds, 1),
        "peak_rss_mib": round(int(job.stderr.strip().splitlines()[-1]) / 1024),
        "spill_peak_mib": round(spill.peak / 2**20),
        "disk_peak_mib": round(disk.peak / 2**20),
        "warehouse_mib": round(warehouse.stat().st_size / 2**20),
        "stages": {row["stage"]: round(row["seconds"], 1) for row in rows if row["run_id"] == last_run},
        "slowest_nodes": slowest_nodes(Path(env["DBT_TARGET_PATH"]) / "run_results.json"),
        "seconds_by_kind": seconds_by_kind(Path(env["DBT_TARGET_PATH"]) / "run_results.json"),
        "node_seconds": node_seconds(Path(env["DBT_TARGET_PATH"]) / "run_results.json"),
    }


def node_seconds(run_results: Path, digits: int = 2) -> dict[str, float]:
    """Every model's and test's time in the build, {name: seconds}, in the order of dbt's
    run_results.json (the build's: the job's later dbt commands write theirs elsewhere or not at all)."""
    if not run_results.exists():
        return {}
    return {
        r["unique_id"].split(".", 2)[-1]: round(r.get("execution_time") or 0, digits)
        for r in json.loads(run_results.read_text()).get("results", [])
    }


def history_order(repeats: int) -> list[str]:
    """The order of the history stage's daily runs: early, late, then late, early, and so on (ABBA),
    so that drift in the machine's speed during the stage falls on both days alike."""
    pairs = [("early", "late") if repeat % 2 == 0 else ("late", "early") for repeat in range(repeats)]
    return [label for pair in pairs for label in pair]


def history_state_days(day: dt.date, settle_days: int) -> list[dt.date]:
    """How the history stage makes the state a daily run of `day` starts from: a full build of the
    first date, then a daily run of each date after it. With settle_days 0, a full build of the
    day before; else a full build settle_days earlier and settle_days daily runs, as a state is
    in production, where a full build is rare: the days a daily run rewrites (its lookback) are
    then stored as daily runs append them, not spread through a full build's rows."""
    return [day - dt.timedelta(days=back) for back in range(settle_days + 1, 0, -1)]


def paired_ratios(early: list[dict], late: list[dict]) -> list[float]:
    """Each repeat's late build time over the early one run next to it (history_order), in order."""
    return [round(after["stages"]["build"] / before["stages"]["build"], 2) for before, after in zip(early, late)]


def grew_most(early: list[dict], late: list[dict], count: int = 10) -> list[list]:
    """The nodes whose median time grew most from the early runs to the late ones,
    [name, early median, late median], from each run's node_seconds."""

    def medians(runs: list[dict]) -> dict[str, float]:
        names = {name for run in runs for name in run.get("node_seconds", {})}
        return {name: statistics.median(run.get("node_seconds", {}).get(name, 0.0) for run in runs) for name in names}

    before, after = medians(early), medians(late)
    growth = sorted(
        ((name, before.get(name, 0.0), seconds) for name, seconds in after.items()), key=lambda node: node[1] - node[2]
    )
    return [[name, round(was, 2), round(now, 2)] for name, was, now in growth[:count]]


def slowest_nodes(run_results: Path, count: int = 12) -> list[list]:
    """The build's slowest models and tests, [name, seconds] (node_seconds to a tenth)."""
    timed = sorted(node_seconds(run_results, digits=1).items(), key=lambda node: -node[1])
    return [list(node) for node in timed[:count]]


def seconds_by_kind(run_results: Path) -> dict[str, float]:
    """The build's node time summed by kind (model, test, unit_test, seed, snapshot, operation):
    how much of a run is models and how much its data tests."""
    if not run_results.exists():
        return {}
    totals: dict[str, float] = {}
    for result in json.loads(run_results.read_text()).get("results", []):
        kind = result["unique_id"].split(".", 1)[0]
        totals[kind] = totals.get(kind, 0.0) + (result.get("execution_time") or 0)
    return {kind: round(seconds, 1) for kind, seconds in sorted(totals.items())}


def refreshed(env: dict, day: dt.date) -> dict:
    """How many listeners the day's run recomputed, by reason, and how many played that day."""
    import duckdb

    with duckdb.connect(env[settings.DUCKDB_PATH], read_only=True) as con:
        reasons = dict(
            con.execute(
                "select refresh_reason, count(*) from tunesday_intermediate.int_user_refresh "
                "where run_date = ? group by 1",
                [day],
            ).fetchall()
        )
        [(listeners, active)] = con.execute(
            "select (select count(*) from tunesday_staging.stg_raw__users), "
            "(select count(distinct user_id) from tunesday_core.fct_user_track_days where listened_date = ?)",
            [day],
        ).fetchall()
    return {
        "listeners": listeners,
        "active": active,
        "active_share": round(active / listeners, 3),
        "refreshed": sum(reasons.values()),
        "reasons": reasons,
    }


def played_share(raw_dir: Path, day: dt.date) -> float:
    """The share of the listeners with a play of `day` in the raw files."""
    import duckdb

    con = duckdb.connect()
    [(played, listeners)] = con.execute(
        f"select (select count(distinct user_id) from read_parquet('{raw_dir}/listening_events/*.parquet', "
        f"union_by_name=true) where cast(played_at as date) = date '{day}'), "
        f"(select count(*) from read_parquet('{raw_dir}/users/*.parquet'))"
    ).fetchall()
    return played / listeners


def listener_history(raw_dir: Path, day: dt.date) -> dict:
    """How much history the listeners active on `day` carry: their number, and the distinct
    (listener, track) pairs they played up to that day, the rows of their lifetime state that a
    run recomputes for them (read from the raw files: rejected rows included, a sliver)."""
    import duckdb

    events = f"read_parquet('{raw_dir}/listening_events/*.parquet', union_by_name=true)"
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    [(active, pairs)] = con.execute(
        f"with active as (select distinct user_id from {events} where cast(played_at as date) = date '{day}') "
        f"select (select count(*) from active), count(*) from (select distinct user_id, track_id from {events} "
        f"where cast(played_at as date) <= date '{day}' and user_id in (select user_id from active))"
    ).fetchall()
    return {"active_listeners": active, "listener_track_pairs": pairs}


def thin_day(raw_dir: Path, copy: Path, day: dt.date, keep_share: float) -> None:
    """A raw folder like `raw_dir` (links) whose activity of `day` (plays, saves, follows) is kept
    only for the listeners in the first `keep_share` of a hash of their id: fewer listeners active
    that day. A save or a follow is activity too: thinning the plays alone left a quarter of the
    listeners with a save of the day at 5 % active, and they are recomputed for it."""
    import duckdb

    day_column = {"listening_events": "played_at", "saved_tracks": "saved_at", "follows": "followed_at"}
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    for table in raw_dir.iterdir():
        (copy / table.name).mkdir(parents=True)
        for part in sorted(table.glob("*.parquet")):
            if table.name not in day_column:
                (copy / table.name / part.name).symlink_to(part)
                continue
            con.execute(f"""copy (select * from read_parquet('{part}')
                            where coalesce(cast({day_column[table.name]} as date) <> date '{day}', true)
                               or hash(user_id) % 1000 < {round(keep_share * 1000)})
                            to '{copy / table.name / part.name}' (format parquet)""")


def measure(
    scale: Scale,
    work: Path,
    raw_dir: Path,
    only: list[str],
    shares: list[float],
    history_share: float = 0.4,
    repeats: int = 3,
    build_only: bool = False,
    settle_days: int = 0,
) -> dict:
    last_day = END_DATE - dt.timedelta(days=1)
    results: dict = {}
    if "full" in only or "daily" in only or "active" in only:
        env = job_env(work, raw_dir, "late")
        stage = ("--stage", "build") if build_only else ()
        results["full"] = daily_job(
            env, last_day - dt.timedelta(days=1), "--full-refresh", *stage, dbt_vars={"rebuild_published_weeks": True}
        )
        print(f"full build (day {scale.days - 1})        " + describe(results["full"]))
    if "daily" in only or "active" in only:
        shutil.copy(env[settings.DUCKDB_PATH], work / "before-last-day.duckdb")
        results["daily"] = daily_job(env, last_day) | {"refresh": refreshed(env, last_day)}
        print(f"daily run (day {scale.days})         " + describe(results["daily"]))
    if "active" in only:
        results["active"] = []
        natural = results["daily"]["refresh"]["active_share"]
        for share in shares:
            name = f"active-{round(share * 100)}"
            shutil.rmtree(work / f"raw-{name}", ignore_errors=True)
            thin_day(raw_dir, work / f"raw-{name}", last_day, min(1.0, share / natural))
            env = job_env(work, work / f"raw-{name}", name)
            shutil.copy(work / "before-last-day.duckdb", env[settings.DUCKDB_PATH])
            run = daily_job(env, last_day) | {"refresh": refreshed(env, last_day)}
            results["active"].append(run)
            print(f"daily run, {run['refresh']['active_share']:4.0%} active     " + describe(run))
            Path(env[settings.DUCKDB_PATH]).unlink()
    if "history" in only and scale.early_day:
        # The same share of listeners active on both days (the generated days differ: 49 % and
        # 56 % at M), each daily run repeated from the same state, the days alternated (history_order)
        # so that a machine that slows down or speeds up during the stage weighs on both alike.
        days = {"early": END_DATE - dt.timedelta(days=scale.days - scale.early_day + 1), "late": last_day}
        states, envs, histories = {}, {}, {}
        for label, day in days.items():
            states[label] = work / (
                f"before-{label}-day-settled-{settle_days}.duckdb"
                if settle_days
                else "before-last-day.duckdb"
                if label == "late"
                else "before-early-day.duckdb"
            )
            if label == "early" or settle_days or not states[label].exists():
                build_env = job_env(work, raw_dir, f"{label}-build")
                full_day, *daily_days = history_state_days(day, settle_days)
                daily_job(build_env, full_day, "--full-refresh", dbt_vars={"rebuild_published_weeks": True})
                for settle_day in daily_days:
                    daily_job(build_env, settle_day)
                shutil.copy(build_env[settings.DUCKDB_PATH], states[label])
                Path(build_env[settings.DUCKDB_PATH]).unlink()
            thinned = work / f"raw-history-{label}"
            shutil.rmtree(thinned, ignore_errors=True)
            thin_day(raw_dir, thinned, day, min(1.0, history_share / played_share(raw_dir, day)))
            envs[label] = job_env(work, thinned, f"history-{label}")
            histories[label] = listener_history(thinned, day)
        runs: dict = {"early": [], "late": []}
        order = history_order(repeats)
        for label in order:
            env, day = envs[label], days[label]
            shutil.copy(states[label], env[settings.DUCKDB_PATH])
            run = daily_job(env, day) | {"refresh": refreshed(env, day)}
            runs[label].append(run)
            Path(env[settings.DUCKDB_PATH]).unlink()
            print(
                f"daily run (day {scale.early_day if label == 'early' else scale.days}), "
                f"{run['refresh']['active_share']:.0%} active, build {run['stages']['build']} s, "
                f"models and tests {sum(run['node_seconds'].values()):.1f} s"
            )
        median = {
            label: statistics.median(run["stages"]["build"] for run in day_runs) for label, day_runs in runs.items()
        }
        node_sums = {
            label: statistics.median(sum(run["node_seconds"].values()) for run in day_runs)
            for label, day_runs in runs.items()
        }
        results["history"] = {
            "early_day": scale.early_day,
            "late_day": scale.days,
            "share": history_share,
            "repeats": repeats,
            "settle_days": settle_days,
            "order": order,
            "early": runs["early"],
            "late": runs["late"],
            "median_build": median,
            "late_over_early_build": round(median["late"] / median["early"], 2),
            "median_node_seconds": {label: round(seconds, 1) for label, seconds in node_sums.items()},
            "late_over_early_node_seconds": round(node_sums["late"] / node_sums["early"], 2),
            "paired_late_over_early_build": paired_ratios(runs["early"], runs["late"]),
            "grew_most": grew_most(runs["early"], runs["late"]),
            "listener_history": histories,
            "late_over_early_pairs": round(
                histories["late"]["listener_track_pairs"] / histories["early"]["listener_track_pairs"], 2
            ),
        }
        print(
            f"daily build, day {scale.days} / day {scale.early_day} (medians)   "
            f"{results['history']['late_over_early_build']:.2f}; models and tests "
            f"{results['history']['late_over_early_node_seconds']:.2f}; run by run "
            f"{results['history']['paired_late_over_early_build']}"
        )
    return results


def commit() -> str:
    """The checkout measured: its commit, marked when files differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT_DIR, capture_output=True, text=True).stdout.strip()

    changed = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + (" with changes" if changed else "")


def describe(run: dict) -> str:
    stages = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in run["stages"].items() if name != "lock")
    refresh = run.get("refresh")
    listeners = f"; recomputed {refresh['refreshed']:,} of {refresh['listeners']:,} listeners" if refresh else ""
    return (
        f"{run['seconds']:7.1f} s, peak RSS {run['peak_rss_mib']:,} MiB, spilled {run['spill_peak_mib']:,} MiB, "
        f"disk {run.get('disk_peak_mib', 0):,} MiB at most; "
        f"{stages}{listeners}"
    )


def report(out: Path) -> Path:
    """out/report.md and its PNG plots, from every out/<scale>.json written so far."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = sorted((json.loads(path.read_text()) for path in out.glob("*.json")), key=lambda r: r["events"])
    if not results:
        sys.exit(f"no results in {out}: run bench/scale.py first")
    names = [r["scale"]["name"] for r in results]
    lines = [
        "# Scale benchmark",
        "",
        f"`python bench/scale.py` on {results[0]['cores']} cores, DuckDB memory limit "
        f"{results[0]['memory_limit']}, dbt threads {results[0].get('dbt_threads', 2)}. Wall times of one run "
        "each on a shared machine; peak RSS of the "
        "whole job (dbt included); disk: the most the job's warehouse, spill and snapshots held at once.",
        "",
        "| scale | listeners | days | events | events scan | full build | its peak RSS | its disk at most "
        "| daily run | its peak RSS | recomputed listeners | full / scan | daily / scan |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        full, daily, scan = r.get("full"), r.get("daily"), r["events_scan_seconds"]
        lines.append(
            " | ".join(
                [
                    f"| {r['scale']['name']}",
                    f"{r['scale']['users']:,}",
                    str(r["scale"]["days"]),
                    f"{r['events']:,}",
                    f"{scan:.1f} s",
                    f"{full['seconds']:.0f} s" if full else "",
                    f"{full['peak_rss_mib']:,} MiB" if full else "",
                    f"{full['disk_peak_mib']:,} MiB" if full and "disk_peak_mib" in full else "",
                    f"{daily['seconds']:.0f} s" if daily else "",
                    f"{daily['peak_rss_mib']:,} MiB" if daily else "",
                    f"{daily['refresh']['refreshed']:,} of {daily['refresh']['listeners']:,}" if daily else "",
                    f"{full['seconds'] / scan:.0f}" if full else "",
                    f"{daily['seconds'] / scan:.0f} |" if daily else " |",
                ]
            )
        )

    # Which checkout each result measured (a result may keep runs of an earlier one: its notes say).
    lines += [""] + [
        f"- {r['scale']['name']}: " + (f"at {r['commit']}. " if r.get("commit") else "") + r.get("notes", "")
        for r in results
        if r.get("commit") or r.get("notes")
    ]

    # The models and tests that dominate each full build and daily run.
    for kind in ("full", "daily"):
        runs = [(r["scale"]["name"], r[kind]) for r in results if r.get(kind) and r[kind].get("slowest_nodes")]
        if runs:
            lines += [
                "",
                f"## The slowest steps of the {'full build' if kind == 'full' else 'daily run'}",
                "",
                "| scale | model or test | seconds | share of the build |",
                "|---|---|---|---|",
            ]
            for name, run in runs:
                lines += [
                    f"| {name} | `{node}` | {seconds:.1f} | {seconds / run['stages']['build']:.0%} |"
                    for node, seconds in run["slowest_nodes"]
                ]

    # 1. Time and memory per stage against events.
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    events = [r["events"] / 1e6 for r in results]
    for kind, marker in (("full", "o"), ("daily", "s")):
        runs = [r.get(kind) for r in results]
        for stage in ("build", "freshness", "export", "publish"):
            points = [(e, run["stages"].get(stage, 0)) for e, run in zip(events, runs) if run]
            if points:
                left.plot(*zip(*points), marker=marker, label=f"{kind}: {stage}")
        points = [(e, run["peak_rss_mib"] / 1024) for e, run in zip(events, runs) if run]
        if points:
            right.plot(*zip(*points), marker=marker, label=kind)
    left.set(xlabel="events (millions)", ylabel="seconds", title="Time per stage", xscale="log", yscale="log")
    right.set(xlabel="events (millions)", ylabel="GiB", title="Peak RSS of the job", xscale="log")
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out / "stages_by_events.png", dpi=110)
    lines += ["", "![time and memory per stage against events](stages_by_events.png)"]

    # 2. Daily run against the share of listeners active that day.
    with_active = [r for r in results if r.get("active")]
    if with_active:
        figure, axis = plt.subplots(figsize=(6, 4))
        lines += [
            "",
            "## The daily run against the share of listeners active that day",
            "",
            "| scale | active | recomputed | daily run | build | export |",
            "|---|---|---|---|---|---|",
        ]
        for r in with_active:
            runs = sorted([*r["active"], r["daily"]], key=lambda run: run["refresh"]["active_share"])
            axis.plot(
                [run["refresh"]["active_share"] * 100 for run in runs],
                [run["stages"]["build"] for run in runs],
                marker="o",
                label=f"{r['scale']['name']}: build",
            )
            for run in runs:
                lines.append(
                    f"| {r['scale']['name']} | {run['refresh']['active_share']:.0%} | "
                    f"{run['refresh']['refreshed'] / run['refresh']['listeners']:.0%} | {run['seconds']:.0f} s | "
                    f"{run['stages']['build']:.0f} s | {run['stages']['export']:.1f} s |"
                )
        axis.set(
            xlabel="listeners active that day (%)",
            ylabel="seconds",
            title="Daily build against active share",
            ylim=(0, None),
        )
        axis.legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(out / "daily_by_active_share.png", dpi=110)
        lines += ["", "![daily run against the active share](daily_by_active_share.png)"]

    # 3. Daily run against days of history.
    with_history = [r for r in results if r.get("history", {}).get("median_build")]
    if with_history:
        figure, axis = plt.subplots(figsize=(6, 4))
        lines += [
            "",
            "## The daily run against days of history",
            "",
            "Both days thinned to the same share of active listeners; each run repeated from the same "
            "state, the days alternated (early, late, late, early, ...), medians. *Run by run*: each "
            "late build over the early one run next to it; *models and tests*: the medians of the dbt "
            "nodes' summed time, without dbt's start.",
            "",
            "The lifetime state a daily run recomputes for its active listeners grows with their "
            "history: the last column is how much more (listener, track) pairs the last day's active "
            "listeners had played than the early day's.",
            "",
            "| scale | active | early day | its build | last day | its build | last / early "
            "| run by run | models and tests | their (listener, track) pairs, last / early |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in with_history:
            h = r["history"]
            axis.plot(
                [h["early_day"], h["late_day"]],
                [h["median_build"]["early"], h["median_build"]["late"]],
                marker="o",
                label=r["scale"]["name"],
            )
            settled = f" (states: full build, then {h['settle_days']} daily runs)" if h.get("settle_days") else ""
            lines.append(
                f"| {r['scale']['name']}{settled} | {h['share']:.0%} | {h['early_day']} | "
                f"{h['median_build']['early']:.1f} s | {h['late_day']} | {h['median_build']['late']:.1f} s | "
                f"{h['late_over_early_build']:.2f} | "
                + " ".join(str(ratio) for ratio in h.get("paired_late_over_early_build", []))
                + " | "
                + (f"{h['late_over_early_node_seconds']:.2f} | " if "late_over_early_node_seconds" in h else " | ")
                + (f"{h['late_over_early_pairs']:.2f} |" if "late_over_early_pairs" in h else " |")
            )
        axis.set(
            xlabel="days of history", ylabel="seconds (median)", title="Daily build against history", ylim=(0, None)
        )
        axis.legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(out / "daily_by_history.png", dpi=110)
        lines += ["", "![daily run against days of history](daily_by_history.png)"]
        for r in (r for r in with_history if r["history"].get("grew_most")):
            h = r["history"]
            lines += [
                "",
                f"What grew most from day {h['early_day']} to day {h['late_day']} ({r['scale']['name']}, "
                "medians of each model's or test's time):",
                "",
                "| model or test | early day | last day | grew by |",
                "|---|---|---|---|",
            ]
            lines += [
                f"| `{name}` | {was:.2f} s | {now:.2f} s | {now - was:+.2f} s |" for name, was, now in h["grew_most"]
            ]

    # 4. Each stage as a multiple of one scan of the events.
    figure, axis = plt.subplots(figsize=(7, 4))
    width = 0.8 / max(1, len(results))
    for index, r in enumerate(results):
        bars = {
            f"{kind} {stage}": seconds / r["events_scan_seconds"]
            for kind in ("full", "daily")
            if r.get(kind)
            for stage, seconds in r[kind]["stages"].items()
            if stage != "lock"
        }
        axis.bar([i + index * width for i in range(len(bars))], list(bars.values()), width, label=r["scale"]["name"])
        axis.set_xticks(
            [i + width * (len(results) - 1) / 2 for i in range(len(bars))],
            list(bars),
            rotation=30,
            ha="right",
            fontsize=7,
        )
    axis.set(ylabel="× one scan of the events", yscale="log", title="How far from the floor")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out / "cost_in_scans.png", dpi=110)
    lines += [
        "",
        "## How far from the floor",
        "",
        "Each stage's time divided by the time of one scan of the events (every column of every row) "
        "measured in the same run.",
        "",
        "![each stage as a multiple of one scan of the events](cost_in_scans.png)",
    ]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'report.md'} ({', '.join(names)})")
    return out / "report.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(SCALES), help="a named scale (else --users and --days)")
    parser.add_argument("--users", type=int)
    parser.add_argument("--days", type=int)
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["full", "daily", "active", "history"],
        default=["full", "daily", "active", "history"],
    )
    parser.add_argument(
        "--shares",
        nargs="+",
        type=float,
        default=[0.05, 0.2, 0.5],
        help="shares of listeners active on the measured day (default 0.05 0.2 0.5)",
    )
    parser.add_argument(
        "--history-share",
        type=float,
        default=0.4,
        help="share of listeners active on both days the history stage compares (default 0.4)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="daily runs per day in the history stage (medians)")
    parser.add_argument(
        "--settle-days",
        type=int,
        default=0,
        help="history stage: each day's state is a full build this many days before it and a daily "
        "run of each day after (history_state_days; default 0: the full build of the day before)",
    )
    parser.add_argument(
        "--work", type=Path, default=None, help="keep data and warehouses here (default: target/bench/work-<scale>)"
    )
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "target" / "bench")
    parser.add_argument(
        "--build-only",
        action="store_true",
        help="the full build's job runs its build stage alone (models and tests), without the "
        "export; bench/export_bench.py measures the export of a large snapshot",
    )
    parser.add_argument("--report", action="store_true", help="write the report from the results in --out")
    args = parser.parse_args()
    if args.report and not (args.scale or args.users):
        report(args.out)
        return
    if args.scale:
        scale = SCALES[args.scale]
    elif args.users and args.days:
        scale = Scale(
            f"{args.users}x{args.days}",
            args.users,
            args.days,
            args.tracks,
            early_day=args.days // 3 if args.days >= 9 else None,
        )
    else:
        parser.error("give --scale, or --users and --days")
    work = args.work or args.out / f"work-{scale.name}"
    work.mkdir(parents=True, exist_ok=True)
    manifest = generate(scale, work / "data", args.seed)
    raw_dir = work / "data" / "raw"
    results = {
        "scale": dataclasses.asdict(scale),
        "commit": commit(),
        "events": manifest["rows"]["listening_events"],
        "memory_limit": settings.value(settings.DUCKDB_MEMORY_LIMIT),
        "cores": os.cpu_count(),
        "dbt_threads": int(settings.value(settings.DBT_THREADS)),
    }
    print(f"{scale.name}: {results['events']:,} events, {scale.users:,} listeners, {scale.days} days")
    results["events_scan_seconds"] = round(events_scan_seconds(raw_dir), 2)
    print(f"one scan of the events      {results['events_scan_seconds']:.2f} s")
    results |= measure(
        scale,
        work,
        raw_dir,
        args.only,
        args.shares,
        args.history_share,
        args.repeats,
        args.build_only,
        args.settle_days,
    )
    for name, run in (("full build", results.get("full")), ("daily run", results.get("daily"))):
        if run:
            print(f"{name} / one scan of the events: {run['seconds'] / results['events_scan_seconds']:.0f}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{scale.name}.json").write_text(json.dumps(results, indent=2))
    if args.report:
        report(args.out)


if __name__ == "__main__":
    main()
