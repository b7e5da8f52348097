"""What checking a snapshot costs, for each way the server checks one (serving/store_reader.py):
its stat against the one sealed at publish (every swap), its sha256 in full (a file whose stat
changed, a rollback) and SQLite's quick_check (after a read error).

    python bench/store_verify_bench.py [--store target/serving] [--gb 3.3] [--repeat 3]

The published snapshot of --store is measured as it is, warm (in the page cache). --gb then
hashes a scratch file of that size (random bytes: the cost of hashing does not depend on them),
warm and cold (dropped from the page cache with posix_fadvise first), for the scale of issue 6:
about 33 KB of snapshot per listener (measured at 3,000 listeners), so 3.3 GB for 100,000.
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from serving.store import Store, sha256_of, verify
from serving.store_reader import _check_opens


def _seconds(work, repeat: int) -> float:
    """Median wall time of `work()` over `repeat` runs."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _drop_from_page_cache(path: Path) -> None:
    with path.open("rb") as file:
        os.posix_fadvise(file.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default="target/serving")
    parser.add_argument("--gb", type=float, default=3.3, help="size of the scratch file hashed (0: none)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    store = Store(Path(args.store))
    manifest = store.current()
    path = store.snapshot_path(manifest["snapshot_id"])
    size = path.stat().st_size / 1e9
    sha256_of(path)  # into the page cache
    print(f"snapshot {manifest['snapshot_id']}: {size:.3f} GB, warm; median of {args.repeat} runs")
    seal = _seconds(lambda: verify(store, manifest, trust_seal=True), 1000)
    print(f"  stat against the seal (every swap):   {seal * 1e6:8.1f} µs")
    hashed = _seconds(lambda: verify(store, manifest), args.repeat)
    print(f"  sha256 in full:                       {hashed:8.3f} s  ({size / hashed:.2f} GB/s)")
    checked = _seconds(lambda: _check_opens(str(path), manifest["snapshot_id"], in_full=True), args.repeat)
    print(f"  quick_check (after a read error):     {checked:8.3f} s  ({size / checked:.2f} GB/s)")

    if args.gb:
        with tempfile.TemporaryDirectory(prefix="verify-bench-", dir=store.root) as scratch:
            scratch_file = Path(scratch) / "scratch"
            with scratch_file.open("wb") as file:
                block = os.urandom(1 << 20)
                for _ in range(int(args.gb * 1e9) >> 20):
                    file.write(block)
                file.flush()
                os.fsync(file.fileno())
            gb = scratch_file.stat().st_size / 1e9
            warm = _seconds(lambda: sha256_of(scratch_file), args.repeat)

            def cold() -> None:
                _drop_from_page_cache(scratch_file)
                sha256_of(scratch_file)

            print(
                f"scratch file of {gb:.2f} GB: sha256 warm {warm:.2f} s ({gb / warm:.2f} GB/s), "
                f"cold {_seconds(cold, args.repeat):.2f} s"
            )


if __name__ == "__main__":
    main()
