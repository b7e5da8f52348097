"""Scale benchmark of the warehouse on DuckDB: how a full build and a daily run grow with the data.

    python bench/scale.py --scale S                      # CI's smoke size
    python bench/scale.py --scale M --only full daily    # about 10 M events
    python bench/scale.py --users 100000 --days 30 --only full

Each measurement runs in fresh processes (dbt in the child tunesday.dbt starts), so its peak RSS
is its own: whole-process peak RSS of dbt (or of `tunesday daily` and its dbt child). Times are wall
clock on a shared machine: compare the ratios measured in the same run.

  full     `dbt build --full-refresh` of every model and test at the last day: time, peak RSS,
           spill (the most the temp folder held), the slowest models; and the floor: one scan of
           the events (a query over the raw files that reads every column of every row), so each
           cost reads as a multiple of reading the events once.

Results go to --out (default target/bench) as JSON per scale.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from tunesday import dbt, settings

PROJECT_DIR = Path(__file__).resolve().parents[1]
EVENTS_PER_USER_DAY = 10.9   # what the generator makes on average
END_DATE = dt.date(2026, 11, 1)


@dataclasses.dataclass(frozen=True)
class Scale:
    name: str
    users: int
    days: int
    tracks: int


SCALES = {
    "S": Scale("S", users=2_000, days=30, tracks=20_000),        # ~0.65 M events: CI's smoke test
    "M": Scale("M", users=30_000, days=30, tracks=100_000),      # ~10 M events
    "L": Scale("L", users=1_000_000, days=14, tracks=200_000),   # ~150 M events
}


def generate(scale: Scale, out: Path, seed: int) -> dict:
    if not (out / "manifest.json").exists():
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tunesday.generate", "--users", str(scale.users),
                        "--tracks", str(scale.tracks), "--days", str(scale.days), "--seed", str(seed),
                        "--end-date", END_DATE.isoformat(), "--out", str(out), "--workers", "2",
                        "--bad-share", "0.001"], cwd=PROJECT_DIR, check=True, capture_output=True)
        print(f"generated in {time.perf_counter() - started:.0f} s")
    return json.loads((out / "manifest.json").read_text())


class SpillWatch:
    """The most a DuckDB temp folder held while a block ran (polled twice a second)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.peak, self._stop = folder, 0, threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            try:
                size = sum(path.stat().st_size for path in self.folder.rglob("*") if path.is_file())
            except OSError:
                continue
            self.peak = max(self.peak, size)

    def __enter__(self) -> SpillWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def events_scan_seconds(raw_dir: Path) -> float:
    """The floor: one pass over every column of every event, in a fresh DuckDB process."""
    code = ("import duckdb, sys, time; c = duckdb.connect(); c.execute('set enable_progress_bar = false'); started = time.perf_counter(); "
            "c.sql(\"select count(*), count(distinct user_id), sum(hash(columns(*)) % 1000) from read_parquet('\" "
            "+ sys.argv[1] + \"/listening_events/*.parquet', union_by_name=true)\").fetchall(); "
            "print(time.perf_counter() - started)")
    done = subprocess.run([sys.executable, "-c", code, str(raw_dir)], check=True, capture_output=True, text=True)
    return float(done.stdout.split()[-1])


def slowest(result: dbt.DbtResult, n: int = 8) -> list[tuple[str, float]]:
    return sorted(((node.name, round(node.seconds, 1)) for node in result.nodes
                   if node.resource_type in {"model", "snapshot"}), key=lambda pair: -pair[1])[:n]


def measure_full(work: Path, raw_dir: Path, last_day: dt.date) -> dict:
    env = dbt.duckdb_env(work / "full", raw_dir, work / "full.duckdb")
    env[settings.RUN_DATE] = last_day.isoformat()
    temp = Path(settings.value(settings.DUCKDB_TEMP_DIR, env) or f"{work / 'full.duckdb'}.tmp")
    with SpillWatch(temp) as spill:
        result = dbt.run(["build", "--full-refresh"], env)
    if not result.success:
        sys.exit(result.describe())
    return {"seconds": round(result.seconds, 1), "peak_rss_mib": round(result.peak_rss_mib or 0),
            "spill_peak_mib": round(spill.peak / 2**20), "slowest": slowest(result)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(SCALES), help="a named scale (else --users and --days)")
    parser.add_argument("--users", type=int)
    parser.add_argument("--days", type=int)
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="+", choices=["full"], default=["full"])
    parser.add_argument("--work", type=Path, default=None, help="keep data and warehouses here (default: target/bench/work-<scale>)")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "target" / "bench")
    args = parser.parse_args()
    if args.scale:
        scale = SCALES[args.scale]
    elif args.users and args.days:
        scale = Scale(f"{args.users}x{args.days}", args.users, args.days, args.tracks)
    else:
        parser.error("give --scale, or --users and --days")
    work = args.work or args.out / f"work-{scale.name}"
    work.mkdir(parents=True, exist_ok=True)
    manifest = generate(scale, work / "data", args.seed)
    raw_dir = work / "data" / "raw"
    last_day = END_DATE - dt.timedelta(days=1)
    results = {"scale": dataclasses.asdict(scale), "events": manifest["rows"]["listening_events"],
               "memory_limit": settings.value(settings.DUCKDB_MEMORY_LIMIT), "cores": os.cpu_count()}
    print(f"{scale.name}: {results['events']:,} events, {scale.users:,} listeners, {scale.days} days")
    results["events_scan_seconds"] = round(events_scan_seconds(raw_dir), 2)
    print(f"one scan of the events      {results['events_scan_seconds']:.2f} s")
    if "full" in args.only:
        results["full"] = full = measure_full(work, raw_dir, last_day)
        print(f"full build                  {full['seconds']:.1f} s "
              f"({full['seconds'] / results['events_scan_seconds']:.0f} scans), peak RSS {full['peak_rss_mib']:,} MiB, "
              f"spilled at most {full['spill_peak_mib']:,} MiB; slowest: "
              + ", ".join(f"{name} {seconds} s" for name, seconds in full["slowest"]))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{scale.name}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
