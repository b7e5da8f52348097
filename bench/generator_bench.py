"""Benchmark of the synthetic data generator.

    python bench/generator_bench.py [--events 10000000] [--repeat 3] [--workers 1] [--days 28] [--tracks 200000]

Picks the number of listeners that yields about --events plays over --days and generates the
dataset into a temporary folder, --repeat times, each run in a fresh process so that its peak RSS
is its own. Prints the median wall time, events per second, peak RSS and output size. To show
that memory is bounded (chunked, not all in RAM), it also runs a fifth of the events in the same
session and prints the ratio of peak RSS between the two scales: near 1 means bounded.
The bar: 10 million events in under 60 seconds on two cores.
"""

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Plays per listener per day of the window, averaged over listeners (measured on 28-day windows;
# the average includes listeners who joined during the window or stayed silent).
EVENTS_PER_USER_DAY = 10.9


def run_once(users: int, days: int, tracks: int, workers: int, seed: int) -> dict:
    """Generate once in this process and return the figures (the child side)."""
    from tunesday.generate import GeneratorConfig, generate

    with tempfile.TemporaryDirectory(prefix="tunesday-bench-") as tmp:
        config = GeneratorConfig(users=users, tracks=tracks, days=days, seed=seed, out=Path(tmp), workers=workers)
        started = time.perf_counter()
        manifest = generate(config)
        wall = time.perf_counter() - started
        size = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file())
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "events": manifest["rows"]["listening_events"],
        "rows": sum(manifest["rows"].values()),
        "wall": wall,
        "rss_mib": max(own, children),
        "size_mib": size / 2**20,
    }


def measure(users: int, args, repeat: int) -> list[dict]:
    runs = []
    for _ in range(repeat):
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                str(users),
                "--days",
                str(args.days),
                "--tracks",
                str(args.tracks),
                "--workers",
                str(args.workers),
                "--seed",
                str(args.seed),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(child.stdout))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000, help="about how many events to generate")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--tracks", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_once(args.child, args.days, args.tracks, args.workers, args.seed)))
        return

    users = math.ceil(args.events / (args.days * EVENTS_PER_USER_DAY))
    full = measure(users, args, args.repeat)
    small = measure(math.ceil(users / 5), args, args.repeat)
    wall = statistics.median(r["wall"] for r in full)
    rss = statistics.median(r["rss_mib"] for r in full)
    rss_small = statistics.median(r["rss_mib"] for r in small)
    events = full[0]["events"]
    print(f"users x days x tracks  {users:,} x {args.days} x {args.tracks:,} (workers: {args.workers})")
    print(f"events written         {events:,} ({full[0]['rows']:,} rows in all tables)")
    runs = ", ".join(f"{r['wall']:.1f}" for r in full)
    print(f"wall time, median      {wall:.1f} s  (runs: {runs})")
    print(f"events per second      {events / wall:,.0f}")
    print(f"peak RSS, median       {rss:,.0f} MiB (largest process)")
    print(f"output on disk         {full[0]['size_mib']:,.0f} MiB")
    print(
        f"memory bound           peak RSS at {small[0]['events']:,} events: {rss_small:,.0f} MiB;"
        f" ratio for 5x the events: {rss / rss_small:.2f}"
    )


if __name__ == "__main__":
    main()
