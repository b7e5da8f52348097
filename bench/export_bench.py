"""Benchmark of `tunesday-serving export`, and of publishing to a remote and pulling from it: wall
time, CPU time and peak memory of each, and the snapshot's size; prints each run and the medians.

    python bench/export_bench.py --listeners 1000000 [--slice-rows N ...] [--remote] [--repeat 1] [--work DIR]
    python bench/export_bench.py --duckdb target/tunesday.duckdb --run-date YYYY-MM-DD [--repeat 3]

`--listeners N` fabricates the serving tables of N listeners (`fabricate`: no dbt build, a few
minutes at a million) in a DuckDB file under --work (kept there for the next run); `--duckdb`
exports a warehouse dbt built. Each export is a fresh process (as the daily job runs it) writing
a new snapshot into a temporary store; `--slice-rows 25000 2000000` exports once with each slice
size in turn (serving.snapshot.SLICE_ROWS; a size above the listeners renders each stage whole,
as the export did before slices), for before/after figures taken back to back. With `--remote`
the snapshot is then published to a folder remote (`serving.remote.Remote.upload`, as the
publish stage does) and pulled from there into another empty store (`tunesday-serving pull`),
each in a process of its own; everything is deleted afterwards. Each process's peak RSS is its
own (os.wait4). CPU time over wall time shows how much of the two cores a step keeps busy; on a
shared VM the wall time moves with the neighbours, the CPU time less. Disk: the store, the remote
and the pulled copy each hold the snapshot (about 28 KB a listener).
"""

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from serving.contract import SERVING_TABLES
from serving.snapshot import SLICE_ROWS
from tunesday import settings
from tunesday.warehouse import DUCKDB_TARGET_SCHEMA, stage_schema

PROJECT_DIR = Path(__file__).resolve().parents[1]
RUN_DATE = "2026-10-31"

#: The serving tables of `listeners` listeners and `tracks` tracks, shaped like the models':
#: Discover Weekly 30 and For You 50 items a listener (vars discover_weekly_size, for_you_size),
#: a playlist a listener on average (5 to 44 tracks), a Smart Shuffle pool for each playlist of
#: 15 tracks or more (3 x ceil(tracks / 3): vars smart_shuffle_pool_factor and
#: smart_shuffle_tracks_per_recommendation), a Bloom filter of 50 to 549 heard tracks (1 %: 9.6
#: bits a track, 7 hashes) with every word set. Values come from hash(): fabricated, not stored.
FABRICATE = """
set variable listeners = (select listeners from knobs);
set variable tracks = (select tracks from knobs);
set variable run_date = (select run_date from knobs);
-- hash() as a non-negative BIGINT (hash() is UBIGINT, which list indexes and arithmetic refuse).
create temp macro h2(a, b) as (hash(a, b) >> 1)::bigint;
create temp macro h3(a, b, c) as (hash(a, b, c) >> 1)::bigint;

insert into serving_settings by name
select
    3 as smart_shuffle_tracks_per_recommendation,
    getvariable('run_date') as run_date;

insert into serving_users by name
select
    printf('usr_%010d', listener) as user_id,
    ['SE', 'US', 'DE', 'BR', 'IN', 'JP', 'GB', 'FR'][1 + listener % 8] as country_code,
    if(listener % 3 = 0, 'premium', 'free') as product_tier,
    getvariable('run_date') - 4 as week_start,
    getvariable('run_date') as run_date
from range(getvariable('listeners')) as listeners (listener);

insert into serving_tracks by name
select
    printf('trk_%010d', track) as track_id,
    ['Midnight', 'Young', 'Blue', 'Slow', 'Holy', 'Golden', 'Paper', 'Electric'][1 + h2(track, 1) % 8]
    || ' ' || ['River', 'Ghost', 'Signal', 'Dream', 'Satellite', 'Wave', 'Heart', 'Fire'][1 + h2(track, 2) % 8]
        as track_name,
    printf('art_%010d', track // 10) as artist_id,
    'The ' || ['Shining', 'Quiet', 'Velvet', 'Northern'][1 + (track // 10) % 4] || ' ' || (track // 10) as artist_name,
    'Album ' || (track // 12) as album_name,
    120000 + h2(track, 3) % 240000 as duration_ms,
    round(70 + (h2(track, 4) % 11000) / 100, 3) as tempo_bpm,
    (1 + h2(track, 5) % 12) || ['A', 'B'][1 + h2(track, 6) % 2] as camelot_code,
    getvariable('run_date') as run_date
from range(getvariable('tracks')) as tracks (track);

insert into serving_recommendations by name
with positions as (
    select
        listener,
        surface,
        unnest(range(1, size + 1)) as position
    from range(getvariable('listeners')) as listeners (listener)
    cross join (values ('discover_weekly', 30), ('for_you', 50)) as surfaces (surface, size)
)
select
    printf('usr_%010d', listener) as user_id,
    surface,
    position as surface_position,
    printf('trk_%010d', h3(listener, surface, position) % getvariable('tracks')) as track_id,
    0.9 - position / 100 + (h2(listener, position) % 1000) / 100000 as score,
    h3(listener, position, 1) % 3 = 0 as is_new_artist,
    concat_ws(
        ',',
        printf('similar_artists:art_%010d', h2(listener, 2) % (getvariable('tracks') // 10)),
        if(h3(listener, position, 3) % 2 = 0, 'tempo_match', null),
        if(h3(listener, position, 4) % 2 = 0, 'key_match', null),
        if(h3(listener, position, 1) % 3 = 0, 'new_artist', null)
    ) as reason_codes,
    'artist' as seed_type,
    printf('art_%010d', h2(listener, 2) % (getvariable('tracks') // 10)) as seed_id,
    -- Half the listeners in a For You experiment (bench/serving_bench.py compares the two halves).
    if(surface = 'for_you' and listener % 2 = 0, 'bench_for_you_experiment', null) as experiment_id,
    if(surface = 'for_you' and listener % 2 = 0, ['control', 'treatment'][1 + h2(listener, 9) % 2], null) as variant,
    getvariable('run_date') - 4 as week_start,
    getvariable('run_date') as run_date
from positions;

create temp table playlists as
select
    playlist,
    h2(playlist, 7) % getvariable('listeners') as owner,
    5 + h2(playlist, 8) % 40 as track_count
from range(getvariable('listeners')) as playlists (playlist);

insert into serving_playlist_tracks by name
select
    printf('pl_%011d', playlist) as playlist_id,
    printf('usr_%010d', owner) as owner_user_id,
    ['Chill', 'Workout', 'New stuff', 'Road trip', 'Focus'][1 + playlist % 5] as playlist_name,
    position as playlist_position,
    printf('trk_%010d', h2(playlist, position) % getvariable('tracks')) as track_id,
    getvariable('run_date') as run_date
from (select *, unnest(range(1, track_count + 1)) as position from playlists);

insert into serving_smart_shuffle_pools by name
select
    printf('pl_%011d', playlist) as playlist_id,
    printf('usr_%010d', owner) as owner_user_id,
    pool_rank,
    printf('trk_%010d', h3(playlist, pool_rank, 9) % getvariable('tracks')) as track_id,
    0.5 - pool_rank / 1000 as score,
    printf('playlist_neighbours:trk_%010d', h2(playlist, 10) % getvariable('tracks'))
    || if(pool_rank % 2 = 0, ',tempo_match', '') as reason_codes,
    printf('trk_%010d', h2(playlist, 10) % getvariable('tracks')) as seed_track_id,
    getvariable('run_date') as run_date
from (
    select *, unnest(range(1, 3 * ceil(track_count / 3)::bigint + 1)) as pool_rank
    from playlists
    where track_count >= 15
);

insert into serving_bloom_filters by name
with sized as (
    select
        listener,
        50 + h2(listener, 11) % 500 as item_count,
        ceil((50 + h2(listener, 11) % 500) * -ln(0.01) / (ln(2) ^ 2))::bigint as bit_count
    from range(getvariable('listeners')) as listeners (listener)
)
select
    printf('usr_%010d', listener) as user_id,
    item_count,
    bit_count,
    least(16, greatest(1, round(bit_count / item_count * ln(2))))::bigint as hash_count,
    ceil(bit_count / 64)::bigint as word_count,
    0.01 as target_false_positive_rate,
    0.01 as expected_false_positive_rate,
    getvariable('run_date') as as_of_date
from sized;

insert into serving_bloom_filter_words by name
select
    user_id,
    word_index,
    ((hash(user_id, word_index) >> 1)::bigint | 1) * if(hash(user_id, word_index) % 2 = 0, 1, -1) as word
from (select user_id, unnest(range(word_count)) as word_index from serving_bloom_filters);
"""


def fabricate(path: Path, listeners: int, tracks: int | None = None, run_date: str = RUN_DATE) -> None:
    """A DuckDB file holding only the serving tables (in the serving stage's schema, each with its
    dbt contract's columns and types: serving.contract), filled as FABRICATE says. `tracks`
    defaults to one per listener (at least 1,000)."""
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as con:
        schema = stage_schema(DUCKDB_TARGET_SCHEMA, "serving")
        con.execute(f"create schema {schema}; use {schema}")
        for table, columns in SERVING_TABLES.items():
            con.execute(f"create table {table} ({', '.join(f'{name} {kind}' for name, kind in columns.items())})")
        con.execute(
            "create temp table knobs as select $listeners::bigint as listeners, $tracks::bigint as tracks, "
            "$run_date::date as run_date",
            {"listeners": listeners, "tracks": tracks or max(listeners, 1000), "run_date": run_date},
        )
        con.execute(FABRICATE)


def _timed(args: list[str], env: dict) -> dict:
    """Run a process to its end: its wall time, CPU time and own peak RSS (os.wait4), and stderr.
    Exits with its stderr if it failed."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(args, cwd=PROJECT_DIR, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode()
    if process.returncode != 0:
        sys.exit(f"{' '.join(args[1:4])} failed:\n{stderr}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_gb": usage.ru_maxrss / 1e6,
        "stderr": stderr,
    }


#: `tunesday-serving export` with the slice size given (serving.snapshot.SLICE_ROWS by default).
EXPORT = """
import sys
from pathlib import Path
from serving.snapshot import export
from serving.store import Store
from serving.warehouse import DuckDBWarehouse
warehouse = DuckDBWarehouse(sys.argv[1])
try:
    export(warehouse, Store(Path(sys.argv[2])), sys.argv[3], keep=1, slice_rows=int(sys.argv[4]))
finally:
    warehouse.close()
"""
#: What the publish stage does with a remote: the published snapshot uploaded.
UPLOAD = """
import sys
from pathlib import Path
from serving.remote import Remote
from serving.store import Store
store = Store(Path(sys.argv[1]))
Remote(sys.argv[2]).upload(store, store.current())
"""


def _run(duckdb_path: str, run_date: str, slice_rows: list[int], remote: bool) -> dict:
    """An export per slice size (into the same store, one kept), then the remote's steps."""
    steps, stages = {}, []
    with tempfile.TemporaryDirectory(prefix="export-bench-", dir=PROJECT_DIR / "target") as work:
        store, shared, pulled = (Path(work, name) for name in ("store", "remote", "pulled"))
        env = {**os.environ, settings.SERVING_STORE: str(store)}
        env.pop(settings.SNAPSHOT_REMOTE, None)
        for rows in slice_rows:
            name = f"export, slices of {rows:,}"
            steps[name] = _timed([sys.executable, "-c", EXPORT, duckdb_path, str(store), run_date, str(rows)], env)
            stages += [
                f"{name}: {line.strip()}"
                for line in steps[name]["stderr"].splitlines()
                if " in " in line and "/s)" not in line and "/" not in line.split(":")[0]
            ]
        size = sum(path.stat().st_size for path in (store / "snapshots").glob("*.sqlite"))
        if remote:
            steps["publish to the remote"] = _timed([sys.executable, "-c", UPLOAD, str(store), shared.as_uri()], env)
            env = {**env, settings.SERVING_STORE: str(pulled), settings.SNAPSHOT_REMOTE: shared.as_uri()}
            steps["pull"] = _timed([sys.executable, "-m", "serving.cli", "pull"], env)
    return {"steps": steps, "snapshot_gb": size / 1e9, "stages": stages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--duckdb", default=None, help="a warehouse dbt built (default: TUNESDAY_DUCKDB_PATH)")
    source.add_argument("--listeners", type=int, help="fabricate the serving tables of this many listeners")
    parser.add_argument(
        "--run-date", default=None, help=f"the run date (default: {RUN_DATE} when fabricated, else today, UTC)"
    )
    parser.add_argument(
        "--work", default=str(PROJECT_DIR / "target" / "export-bench"), help="where the fabricated DuckDB file is kept"
    )
    parser.add_argument(
        "--slice-rows",
        type=int,
        nargs="+",
        default=[SLICE_ROWS],
        help=f"export once with each slice size, in turn (default {SLICE_ROWS:,}; a size above the "
        "listeners renders each stage whole, as before slices)",
    )
    parser.add_argument("--remote", action="store_true", help="also publish to a folder remote and pull from it")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.listeners:
        duckdb_path = Path(args.work) / f"serving_{args.listeners}.duckdb"
        run_date = args.run_date or RUN_DATE
        if not duckdb_path.exists():
            duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            fabricate(duckdb_path, args.listeners, run_date=run_date)
            print(
                f"fabricated {args.listeners:,} listeners in {time.perf_counter() - started:.0f} s: "
                f"{duckdb_path} ({duckdb_path.stat().st_size / 1e9:.1f} GB)",
                flush=True,
            )
    else:
        duckdb_path = Path(args.duckdb or settings.value(settings.DUCKDB_PATH))
        run_date = args.run_date or dt.datetime.now(dt.UTC).date().isoformat()
    (PROJECT_DIR / "target").mkdir(exist_ok=True)
    runs = []
    for number in range(1, args.repeat + 1):
        run = _run(str(duckdb_path.resolve()), run_date, args.slice_rows, args.remote)
        runs.append(run)
        print(f"run {number}: snapshot {run['snapshot_gb']:.2f} GB", flush=True)
        for name, step in run["steps"].items():
            print(
                f"  {name}: wall {step['wall_s']:.1f} s, CPU {step['cpu_s']:.1f} s "
                f"({step['cpu_s'] / step['wall_s']:.2f} cores), peak RSS {step['peak_rss_gb']:.2f} GB, "
                f"{run['snapshot_gb'] / step['wall_s']:.2f} GB/s",
                flush=True,
            )
        for stage in run["stages"]:
            print(f"    {stage}")
    for name in runs[0]["steps"]:
        wall = statistics.median(run["steps"][name]["wall_s"] for run in runs)
        cpu = statistics.median(run["steps"][name]["cpu_s"] for run in runs)
        print(f"median of {len(runs)}, {name}: wall {wall:.1f} s, CPU {cpu:.1f} s")


if __name__ == "__main__":
    main()
