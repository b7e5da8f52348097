"""Benchmark of the synthetic data generator.

    python bench/generator_bench.py [--events 10000000] [--workers 1] [--days 28] [--tracks 200000]

Picks the number of listeners that yields about --events plays over --days, generates the dataset
into a temporary folder and prints events written, wall time, events per second, peak RSS (this
process, which runs the generator, and its worker processes) and the size of the output on disk.
The bar: 10 million events in under 60 seconds on two cores.
"""

import argparse
import math
import resource
import tempfile
import time
from pathlib import Path

from tunesday.generate import GeneratorConfig, generate

# Plays per listener per day of the window, averaged over listeners (measured on 28-day windows;
# the average includes listeners who joined during the window or stayed silent).
EVENTS_PER_USER_DAY = 10.9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000, help="about how many events to generate")
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--tracks", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    users = math.ceil(args.events / (args.days * EVENTS_PER_USER_DAY))

    with tempfile.TemporaryDirectory(prefix="tunesday-bench-") as tmp:
        config = GeneratorConfig(users=users, tracks=args.tracks, days=args.days, seed=args.seed,
                                 out=Path(tmp), workers=args.workers)
        started = time.perf_counter()
        manifest = generate(config)
        wall = time.perf_counter() - started
        size = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file())

    events = manifest["rows"]["listening_events"]
    own_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024        # KiB on Linux
    workers_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"users x days x tracks  {users:,} x {args.days} x {args.tracks:,} (workers: {args.workers})")
    print(f"events written         {events:,}")
    print(f"wall time              {wall:.1f} s")
    print(f"events per second      {events / wall:,.0f}")
    workers_note = f", {workers_rss:,.0f} MiB (largest worker)" if args.workers > 1 else ""
    print(f"peak RSS               {own_rss:,.0f} MiB (generator process){workers_note}")
    print(f"output on disk         {size / 2**20:,.0f} MiB")
    print(f"all tables             {sum(manifest['rows'].values()):,} rows")


if __name__ == "__main__":
    main()
