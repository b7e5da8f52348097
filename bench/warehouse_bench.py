"""Benchmark of the warehouse on DuckDB: a full build, and daily incremental runs early and late
in the history.

    python bench/warehouse_bench.py [--events 10000000] [--days 90] [--early-day 30]
    python bench/warehouse_bench.py --daily-job [--events 1300000 --days 60 --tracks 20000]

Generates about --events plays over --days days into a temporary folder, then, each dbt call in
a fresh process so that its peak RSS is its own:
  1. full build (`dbt build --full-refresh`, every model and test) at the last day;
  2. the daily run at --early-day: a full build at the day before (not timed), then
     `dbt build` for that day, timed;
  3. the same at the last day.
Prints wall time and peak RSS of each, the ratio late/early of the daily runs (1.0 = the daily
cost does not grow with history), and the slowest models of each daily run.

With --daily-job it measures the product's entry point instead, the way `make run` uses it:
`tunesday daily --full-refresh` at the day before the last, then `tunesday daily` at the last day,
and prints each stage's time from ops_run_log (and the job's peak RSS, its dbt child included).
"""

import argparse
import datetime as dt
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tunesday import dbt

PROJECT_DIR = Path(__file__).resolve().parents[1]
EVENTS_PER_USER_DAY = 10.9


def build(env: dict, *args: str) -> dbt.DbtResult:
    """`dbt build ARGS` in a fresh process (tunesday.dbt), so its peak RSS is its own; exits on failure."""
    result = dbt.run(["build", *args], env)
    if not result.success:
        sys.exit(result.describe())
    return result


def slowest(result: dbt.DbtResult, n: int = 5) -> str:
    timings = sorted(
        ((node.seconds, node.name) for node in result.nodes if node.resource_type in {"model", "snapshot"}),
        reverse=True,
    )[:n]
    return ", ".join(f"{name} {seconds:.1f}s" for seconds, name in timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--early-day", type=int, default=30)
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--daily-job", action="store_true", help="time the stages of `tunesday daily` instead")
    args = parser.parse_args()
    users = math.ceil(args.events / (args.days * EVENTS_PER_USER_DAY))
    end_date = dt.date(2026, 11, 1)
    start = end_date - dt.timedelta(days=args.days)
    last_day = end_date - dt.timedelta(days=1)
    early_day = start + dt.timedelta(days=args.early_day - 1)

    with tempfile.TemporaryDirectory(prefix="tunesday-warehouse-bench-") as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tunesday.generate",
                "--users",
                str(users),
                "--tracks",
                str(args.tracks),
                "--days",
                str(args.days),
                "--seed",
                str(args.seed),
                "--end-date",
                end_date.isoformat(),
                "--out",
                str(tmp / "data"),
                "--workers",
                "2",
            ],
            cwd=PROJECT_DIR,
            check=True,
            capture_output=True,
        )
        manifest = json.loads((tmp / "data" / "manifest.json").read_text())
        print(
            f"data                   {manifest['rows']['listening_events']:,} events, {users:,} listeners, "
            f"{args.tracks:,} tracks, {args.days} days (generated in {time.perf_counter() - started:.0f} s)"
        )

        def env_for(name: str) -> dict:
            return dbt.duckdb_env(tmp / name, tmp / "data" / "raw")

        def run_date(day: dt.date) -> str:
            return f"{{run_date: '{day.isoformat()}'}}"

        if args.daily_job:
            daily_job(
                env_for("job")
                | {"TUNESDAY_SERVING_STORE": str(tmp / "store"), "TUNESDAY_JOB_METRICS_FILE": str(tmp / "job.prom")},
                last_day,
            )
            return

        full = env_for("full")
        result = build(full, "--full-refresh", "--vars", run_date(last_day))
        print(
            f"full build (day {args.days})    {result.seconds:6.1f} s, peak RSS {result.peak_rss_mib:,.0f} MiB;"
            f" slowest: {slowest(result)}"
        )

        daily = {}
        for label, day in (("early", early_day), ("late", last_day)):
            env = env_for(label)
            build(env, "--full-refresh", "--vars", run_date(day - dt.timedelta(days=1)))
            result = build(env, "--vars", run_date(day))
            day_number = (day - start).days + 1
            daily[label] = result.seconds
            print(
                f"daily run, day {day_number:<3}     {result.seconds:6.1f} s, peak RSS {result.peak_rss_mib:,.0f} MiB;"
                f" slowest: {slowest(result)}"
            )
        print(f"daily run late / early {daily['late'] / daily['early']:.2f}")


def daily_job(env: dict, last_day: dt.date) -> None:
    """`tunesday daily --full-refresh` at the day before `last_day`, then `tunesday daily` at it."""
    from tunesday.job.run_log import RunLog
    from tunesday.job.target import from_env

    for label, day, extra in (
        (
            "first run (full refresh)",
            last_day - dt.timedelta(days=1),
            ["--full-refresh", "--vars", "{rebuild_published_weeks: true}"],
        ),
        ("daily run", last_day, []),
    ):
        # In a wrapper process of its own, so that the peak RSS (the job's, its dbt child's) is this run's.
        wrapper = (
            "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)"
        )
        started = time.perf_counter()
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
            ],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        if job.returncode != 0:
            sys.exit(f"tunesday daily exited {job.returncode}: {job.stderr}")
        peak = int(job.stderr.strip().splitlines()[-1]) / 1024
        rows = [row for row in RunLog(from_env(env)).rows() if row["run_date"] == day]
        stages = ", ".join(f"{row['stage']} {row['seconds']:.1f} s" for row in rows)
        print(f"{label:<26} {seconds:6.1f} s, peak RSS {peak:,.0f} MiB; {stages}")


if __name__ == "__main__":
    main()
