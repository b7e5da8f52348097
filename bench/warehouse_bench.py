"""Benchmark of the warehouse on DuckDB: a full build, and daily incremental runs early and late
in the history.

    python bench/warehouse_bench.py [--events 10000000] [--days 90] [--early-day 30]

Generates about --events plays over --days days into a temporary folder, then, each dbt call in
a fresh process so that its peak RSS is its own:
  1. full build (`dbt build --full-refresh`, every model and test) at the last day;
  2. the daily run at --early-day: a full build at the day before (not timed), then
     `dbt build` for that day, timed;
  3. the same at the last day.
Prints wall time and peak RSS of each, the ratio late/early of the daily runs (1.0 = the daily
cost does not grow with history), and the slowest models of each daily run.
"""

import argparse
import datetime as dt
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
EVENTS_PER_USER_DAY = 10.9

# Runs a command and prints its peak RSS (KiB) on the last line of stderr.
MEASURE = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)")


def dbt(env: dict, *args: str) -> tuple[float, float, dict]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", MEASURE, str(Path(sys.executable).with_name("dbt")), *args],
                            cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}")
    rss_mib = int(result.stderr.strip().splitlines()[-1]) / 1024
    run_results = json.loads((Path(env["DBT_TARGET_PATH"]) / "run_results.json").read_text())
    return wall, rss_mib, run_results


def slowest(run_results: dict, n: int = 5) -> str:
    timings = sorted(((r["execution_time"], r["unique_id"].split(".")[-1]) for r in run_results["results"]
                      if r["unique_id"].startswith(("model.", "snapshot."))), reverse=True)[:n]
    return ", ".join(f"{name} {seconds:.1f}s" for seconds, name in timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--early-day", type=int, default=30)
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    users = math.ceil(args.events / (args.days * EVENTS_PER_USER_DAY))
    end_date = dt.date(2026, 11, 1)
    start = end_date - dt.timedelta(days=args.days)
    last_day = end_date - dt.timedelta(days=1)
    early_day = start + dt.timedelta(days=args.early_day - 1)

    with tempfile.TemporaryDirectory(prefix="tunesday-warehouse-bench-") as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tunesday.generate", "--users", str(users), "--tracks", str(args.tracks),
                        "--days", str(args.days), "--seed", str(args.seed), "--end-date", end_date.isoformat(),
                        "--out", str(tmp / "data"), "--workers", "2"], cwd=PROJECT_DIR, check=True,
                       capture_output=True)
        manifest = json.loads((tmp / "data" / "manifest.json").read_text())
        print(f"data                   {manifest['rows']['listening_events']:,} events, {users:,} listeners, "
              f"{args.tracks:,} tracks, {args.days} days (generated in {time.perf_counter() - started:.0f} s)")

        def env_for(name: str) -> dict:
            return {**os.environ, "DBT_PROFILES_DIR": str(PROJECT_DIR), "TUNESDAY_TARGET": "dev",
                    "TUNESDAY_RAW_DIR": str(tmp / "data" / "raw"),
                    "TUNESDAY_DUCKDB_PATH": str(tmp / f"{name}.duckdb"),
                    "DBT_TARGET_PATH": str(tmp / f"target-{name}"), "DBT_LOG_PATH": str(tmp / "logs")}

        def run_date(day: dt.date) -> str:
            return f"{{run_date: '{day.isoformat()}'}}"

        full = env_for("full")
        wall, rss, results = dbt(full, "build", "--full-refresh", "--vars", run_date(last_day))
        print(f"full build (day {args.days})    {wall:6.1f} s, peak RSS {rss:,.0f} MiB; slowest: {slowest(results)}")

        daily = {}
        for label, day in (("early", early_day), ("late", last_day)):
            env = env_for(label)
            dbt(env, "build", "--full-refresh", "--vars", run_date(day - dt.timedelta(days=1)))
            wall, rss, results = dbt(env, "build", "--vars", run_date(day))
            day_number = (day - start).days + 1
            daily[label] = wall
            print(f"daily run, day {day_number:<3}     {wall:6.1f} s, peak RSS {rss:,.0f} MiB;"
                  f" slowest: {slowest(results)}")
        print(f"daily run late / early {daily['late'] / daily['early']:.2f}")


if __name__ == "__main__":
    main()
