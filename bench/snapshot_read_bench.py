"""What a request's SQLite lookups cost with plain reads (what the server does) and with mmap, in
process: no HTTP, no client on the same cores, so differences of microseconds show.

    python bench/snapshot_read_bench.py [--store target/serving] [--lookups 20000] [--rounds 5]

Per random listener: Discover Weekly's row; Smart Shuffle's listener and playlist rows. Plain
reads with the server's 64 MiB page cache, with SQLite's default 2 MiB (on a 100 MB snapshot that
holds about as much of it, 2 %, as 64 MiB holds of the 3.3 GB one of 100,000 listeners), and
mmap. serving/store_reader.py says why the server does not use mmap.
"""

import argparse
import random
import sqlite3
import statistics
import time
from pathlib import Path

from serving.store import Store

CONFIGURATIONS = {
    "plain reads, 64 MiB cache (server)": ["pragma cache_size = -65536"],
    "plain reads, 2 MiB cache": [],
    "mmap": ["pragma mmap_size = 68719476736"],
}
DISCOVER_WEEKLY = "select body, item_ends from surfaces where user_id = ? and surface = 'discover_weekly'"
LISTENER = "select bloom_bit_count, bloom_hash_count, bloom_bits from listeners where user_id = ?"
PLAYLIST = "select track_ids, pool_track_ids, pool_items, pool_hashes from playlists where playlist_id = ?"


def _microseconds_per_lookup(con: sqlite3.Connection, lookups: list, queries: list[str]) -> float:
    started = time.perf_counter()
    for keys in lookups:
        for query, key in zip(queries, keys):
            con.execute(query, [key]).fetchone()
    return (time.perf_counter() - started) / len(lookups) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default="target/serving")
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    store = Store(Path(args.store))
    manifest = store.current()
    path = store.snapshot_path(manifest["snapshot_id"])
    with sqlite3.connect(path) as con:
        users = [row[0] for row in con.execute("select user_id from listeners")]
        playlists = con.execute(
            "select owner_user_id, playlist_id from playlists where pool_track_ids <> ''"
        ).fetchall()
    rng = random.Random(1)
    listeners = [(rng.choice(users),) for _ in range(args.lookups)]
    shuffles = [rng.choice(playlists) for _ in range(args.lookups)]
    results: dict[str, dict[str, list[float]]] = {name: {"dw": [], "ss": []} for name in CONFIGURATIONS}
    for _ in range(args.rounds):
        for name, pragmas in CONFIGURATIONS.items():
            con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
            for pragma in pragmas:
                con.execute(pragma)
            _microseconds_per_lookup(con, listeners[:2000], [DISCOVER_WEEKLY])  # warm the cache
            results[name]["dw"].append(_microseconds_per_lookup(con, listeners, [DISCOVER_WEEKLY]))
            results[name]["ss"].append(_microseconds_per_lookup(con, shuffles, [LISTENER, PLAYLIST]))
            con.close()
    print(
        f"snapshot {manifest['snapshot_id']}: {path.stat().st_size / 1e6:,.0f} MB, {len(users):,} listeners; "
        f"medians of {args.rounds} rounds of {args.lookups:,} random lookups"
    )
    for name, result in results.items():
        print(
            f"  {name:36} discover-weekly {statistics.median(result['dw']):6.1f} µs   "
            f"smart-shuffle {statistics.median(result['ss']):6.1f} µs"
        )


if __name__ == "__main__":
    main()
