"""Benchmark of `tunesday-serving export`: wall time, CPU time and peak memory of whole exports of a
warehouse into a scratch store, repeated; prints each run and the medians.

    python bench/export_bench.py [--duckdb target/tunesday.duckdb] [--run-date YYYY-MM-DD] [--repeat 3]

Each run is a fresh process (as the daily job runs it) writing a new snapshot into a temporary
store, which is deleted afterwards. CPU time over wall time shows how much of the two cores the
export keeps busy; on a shared VM the wall time moves with the neighbours, the CPU time less.
At the scale of issue 6 (100,000 listeners), see bench/serving_bench.py for the build recipe.
"""

import argparse
import datetime as dt
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tunesday import settings

PROJECT_DIR = Path(__file__).resolve().parents[1]


def _run(duckdb_path: str, run_date: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="export-bench-") as store:
        env = {**os.environ, settings.DUCKDB_PATH: duckdb_path, settings.SERVING_STORE: store}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "serving.cli", "export", "--run-date", run_date, "--keep", "1"],
                              cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            sys.exit(f"export failed:\n{done.stderr}")
        size = sum(path.stat().st_size for path in Path(store, "snapshots").glob("*.sqlite"))
    return {"wall_s": wall, "user_s": after.ru_utime - before.ru_utime, "sys_s": after.ru_stime - before.ru_stime,
            # ru_maxrss of children is the largest child so far: exact for the first run, a bound after
            "peak_rss_gb": after.ru_maxrss / 1e6, "snapshot_gb": size / 1e9,
            "stages": [line.strip() for line in done.stderr.splitlines() if " in " in line and "/s)" not in line]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duckdb", default=settings.value(settings.DUCKDB_PATH))
    parser.add_argument("--run-date", default=dt.datetime.now(dt.timezone.utc).date().isoformat())
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for number in range(1, args.repeat + 1):
        run = _run(str(Path(args.duckdb).resolve()), args.run_date)
        runs.append(run)
        print(f"run {number}: wall {run['wall_s']:.1f} s, CPU {run['user_s']:.1f} s user + {run['sys_s']:.1f} s system "
              f"({(run['user_s'] + run['sys_s']) / run['wall_s']:.2f} cores), peak RSS ≤ {run['peak_rss_gb']:.1f} GB, "
              f"snapshot {run['snapshot_gb']:.2f} GB", flush=True)
        for stage in run["stages"]:
            print(f"    {stage}")
    print(f"median of {len(runs)}: wall {statistics.median(r['wall_s'] for r in runs):.1f} s, "
          f"CPU {statistics.median(r['user_s'] + r['sys_s'] for r in runs):.1f} s")


if __name__ == "__main__":
    main()
