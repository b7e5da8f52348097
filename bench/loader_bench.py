"""Benchmark of the real-format loaders (tunesday-load) on the shared real data.

    python bench/loader_bench.py [--repeat 3] [--emulator]

Loads ../shared/data (SOURCES.md) into a fresh temporary DuckDB raw folder, in the order a user
would (streaming histories, then MPD slices, then audio features: the features enrich the tracks
the first two wrote), --repeat times, and prints per format the median wall time, input records
per second (plays, playlists + playlist tracks, feature rows) and contract rows written per second.
Then, on the loaded raw folder, the join rate of tracks to audio features: the share of
streaming-history plays (and of their distinct tracks) and of MPD playlist-track rows (and of
their distinct tracks) whose track has audio features in the raw contract; and how many tracks
staging's current one-row-per-track rule would keep without their features (see
tunesday.load.catalog on merging). With --emulator, the same loads once into the local BigQuery
emulator (.venv-bqemu) through load jobs: a check of the path, not a BigQuery speed.
Prints a message and exits 0 when the real data is absent.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from tunesday.load.audio_features import AudioFeatures  # noqa: E402
from tunesday.load.mpd import MillionPlaylistDataset  # noqa: E402
from tunesday.load.runner import run  # noqa: E402
from tunesday.load.spotify_history import SpotifyHistory  # noqa: E402
from tunesday.load.stores import BigQueryStore, ParquetStore  # noqa: E402

SHARED_DATA = PROJECT_DIR.parent / "shared" / "data"
FORMATS = [
    ("spotify-history", SpotifyHistory, "streaming_history"),
    ("mpd", MillionPlaylistDataset, "mpd"),
    ("audio-features", AudioFeatures, "audio_features"),
]


def load_once(store) -> dict[str, dict]:
    figures = {}
    for name, source, folder in FORMATS:
        started = time.perf_counter()
        report = run(source(), [SHARED_DATA / folder], store, echo=lambda line: None)
        wall = time.perf_counter() - started
        totals = report.totals()
        assert totals["failed"] == 0 and totals["loaded"] == totals["files"], report.summary()
        figures[name] = {
            "wall": wall,
            "records": totals["records"],
            "written": sum(totals["written"].values()),
            "set_aside": sum(totals["set_aside"].values()),
        }
    return figures


def print_speeds(title: str, runs: list[dict]) -> None:
    print(title)
    print(
        f"  {'format':<16} {'records':>9} {'rows written':>13} {'set aside':>10} {'wall s':>8} "
        f"{'records/s':>10} {'rows/s':>10}"
    )
    for name, _, _ in FORMATS:
        wall = statistics.median(r[name]["wall"] for r in runs)
        f = runs[0][name]
        print(
            f"  {name:<16} {f['records']:>9,} {f['written']:>13,} {f['set_aside']:>10,} {wall:>8.2f} "
            f"{f['records'] / wall:>10,.0f} {f['written'] / wall:>10,.0f}"
        )


def join_rates(raw_dir: Path) -> None:
    con = duckdb.connect()
    for table in ("listening_events", "playlist_tracks", "tracks"):
        con.execute(f"create view {table} as select * from read_parquet('{raw_dir}/{table}/*.parquet')")
    con.execute("create table featured as select distinct track_id from tracks where tempo is not null")

    def rate(sql: str) -> tuple[float, int]:
        return con.execute(f"""
            select avg(case when track_id in (select track_id from featured) then 1.0 else 0.0 end), count(*)
            from ({sql})
        """).fetchall()[0]

    print("join rate of tracks to audio features (a raw tracks row with a tempo):")
    for label, sql in [
        ("streaming-history plays", "select track_id from listening_events"),
        ("  their distinct tracks", "select distinct track_id from listening_events"),
        ("MPD playlist-track rows", "select track_id from playlist_tracks where track_id is not null"),
        ("  their distinct tracks", "select distinct track_id from playlist_tracks where track_id is not null"),
    ]:
        share, n = rate(sql)
        print(f"  {label:<26} {share:6.1%} of {n:,}")
    [(lost, featured)] = con.execute("""
        with ranked as (
            select
                track_id,
                tempo,
                row_number() over (
                    partition by track_id order by release_date asc, popularity desc, track_name asc
                ) as rank_in_track
            from tracks
        )
        select count(*) filter (where tempo is null), count(*)
        from ranked
        where rank_in_track = 1 and track_id in (select track_id from featured)
    """).fetchall()
    print(
        f"  staging's current rule (release_date, popularity, track_name) keeps {lost:,} of {featured:,} "
        f"featured tracks without their features (ties are broken arbitrarily)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--emulator", action="store_true", help="also load once into the BigQuery emulator")
    args = parser.parse_args()
    if not SHARED_DATA.is_dir():
        print(f"real data not present at {SHARED_DATA}: nothing to measure")
        return
    runs = []
    with tempfile.TemporaryDirectory(prefix="tunesday-loader-bench-") as tmp:
        for i in range(args.repeat):
            runs.append(load_once(ParquetStore(Path(tmp) / f"raw{i}")))
        print_speeds(f"DuckDB raw folder (median of {args.repeat} runs, each into a fresh folder):", runs)
        join_rates(Path(tmp) / "raw0")
        again = time.perf_counter()
        load_once_again = [
            run(source(), [SHARED_DATA / folder], ParquetStore(Path(tmp) / "raw0"), echo=lambda line: None).totals()
            for _, source, folder in FORMATS
        ]
        assert all(t["already_loaded"] == t["files"] for t in load_once_again)
        print(f"loading everything again: {time.perf_counter() - again:.2f} s, nothing new written")
    if args.emulator:
        from ci.emulator import EMULATOR_PROJECT, running_emulator
        from tunesday.load.bigquery import make_client

        with (
            tempfile.TemporaryDirectory(prefix="tunesday-loader-bench-bq-") as tmp,
            running_emulator(Path(tmp)) as endpoint,
        ):
            store = BigQueryStore(make_client(EMULATOR_PROJECT, endpoint), "bench_raw")
            print_speeds("BigQuery emulator (load jobs, one run):", [load_once(store)])


if __name__ == "__main__":
    main()
