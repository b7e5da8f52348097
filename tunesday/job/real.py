"""Your own listening history in a warehouse of its own (`make real DATA=…`, README: "Your own
listening history").

    tunesday real DATA [--workspace target/real] [--run-date YYYY-MM-DD]

Finds what DATA holds (recursively) and loads it with tunesday-load into WORKSPACE/data/raw, in the
order the loaders want: Spotify extended streaming histories (a folder of
`Streaming_History_Audio_*.json` per listener, the listener's id its name), Million Playlist
Dataset slices (`mpd.slice.*.json[.gz]`: the playlists that make similar tracks), audio features
(`*.csv[.gz]`), then account-data histories (`StreamingHistory*.json`, matched by name against the
catalog the others made). Then it runs the daily job once, from scratch, on WORKSPACE's own DuckDB
file and snapshot store, with the run date at the last day of the loaded plays (a history that
ended months ago would otherwise have empty recency windows; `--run-date` overrides it), and says
how to serve it. Nothing outside WORKSPACE is written; the generator's folder is never touched.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tunesday import mpd, settings
from tunesday.command import Parser
from tunesday.load import audio_features, spotify_account_history, spotify_history
from tunesday.load.cli import main as load
from tunesday.load.history import user_id_from_folder


def discover(data: Path) -> list[tuple[str, list[Path]]]:
    """What to load from `data`, in order: (loader, its paths), loaders with no input left out.
    Each loader's own file patterns: a history's folder (one per listener), the other files."""
    extended = sorted({path.parent for path in data.rglob(spotify_history.FILE_PATTERN)})
    account = sorted({path.parent for path in data.rglob(spotify_account_history.FILE_PATTERN)})
    slices = sorted({path for pattern in mpd.SLICE_PATTERNS for path in data.rglob(pattern) if path.is_file()})
    features = sorted(path for pattern in audio_features.FILE_PATTERNS for path in data.rglob(pattern))
    found = [
        ("spotify-history", extended),
        ("mpd", slices),
        ("audio-features", features),
        ("spotify-account-history", account),
    ]
    return [(loader, paths) for loader, paths in found if paths]


def listeners(found: list[tuple[str, list[Path]]]) -> list[str]:
    """The ids the history loaders give the listeners found (their folders' names, made safe)."""
    return sorted(
        {user_id_from_folder(folder.name) for loader, paths in found if loader.endswith("history") for folder in paths}
    )


def last_play_day(raw: Path) -> dt.date | None:
    import duckdb

    parts = raw / "listening_events"
    if not any(parts.rglob("*.parquet")):
        return None
    with duckdb.connect() as con:
        [(day,)] = con.execute(
            f"select max(cast(played_at as date)) from read_parquet('{parts}/**/*.parquet', union_by_name = true)"
        ).fetchall()
    return day


def workspace_env(workspace: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The daily job's settings for a warehouse of its own under `workspace`, over `base` (default:
    this process's environment)."""
    return {
        **(os.environ if base is None else base),
        "TUNESDAY_RAW_DIR": str(workspace / "data" / "raw"),
        "TUNESDAY_DUCKDB_PATH": str(workspace / "tunesday.duckdb"),
        "TUNESDAY_SERVING_STORE": str(workspace / "serving"),
        "TUNESDAY_JOB_METRICS_FILE": str(workspace / "tunesday_job.prom"),
        "TUNESDAY_EXPOSURE_LOG": str(workspace / "exposures"),
        "DBT_TARGET_PATH": str(workspace / "target"),
        "DBT_LOG_PATH": str(workspace / "logs"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="tunesday real", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "data", type=Path, help="a folder holding your exports (and, if you have them, MPD slices and audio features)"
    )
    parser.add_argument(
        "--workspace",
        type=Path,
        default=Path("target/real"),
        help="where its raw folder, warehouse and snapshots go (default target/real)",
    )
    parser.add_argument(
        "--run-date",
        type=dt.date.fromisoformat,
        default=None,
        help="the day to compute (default: the last day of the loaded plays)",
    )
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(
            f"tunesday real: {args.data} is not a folder (give the folder your Spotify export unpacked into)",
            file=sys.stderr,
        )
        return 2
    found = discover(args.data)
    if not any(loader.endswith("history") for loader, _ in found):
        print(
            f"tunesday real: no Spotify streaming history under {args.data} "
            f"({spotify_history.FILE_PATTERN} or {spotify_account_history.FILE_PATTERN} files)",
            file=sys.stderr,
        )
        return 2
    raw = args.workspace / "data" / "raw"
    for loader, paths in found:
        print(f"loading {len(paths)} {loader} input(s)", flush=True)
        code = load([loader, *map(str, paths), "--raw-dir", str(raw)])
        if code not in (0, 3):  # 3: loaded, some records set aside (the lines above say which)
            print(f"tunesday real: tunesday-load {loader} failed (exit {code}); see its lines above", file=sys.stderr)
            return 1
    last = last_play_day(raw)
    if last is None:
        print("tunesday real: no plays were loaded (see the loaders' lines above)", file=sys.stderr)
        return 1
    run_date = args.run_date or last
    print(
        f"run date {run_date}"
        + (
            " (the last day of your plays; --run-date overrides it)"
            if args.run_date is None
            else f" (your plays end on {last})"
        ),
        flush=True,
    )
    log = args.workspace / "tunesday_job.log"
    with log.open("a") as stderr:  # the job's JSON log; its progress lines go to the screen
        job = subprocess.run(
            [
                sys.executable,
                "-m",
                "tunesday.job.cli",
                "daily",
                "--run-date",
                run_date.isoformat(),
                "--full-refresh",
                "--vars",
                "{rebuild_published_weeks: true}",
            ],
            env=workspace_env(args.workspace),
            stderr=stderr,
        )
    if job.returncode != 0:
        reason = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
        print(f"tunesday real: the daily job failed (exit {job.returncode}): {reason[0]} (log: {log})", file=sys.stderr)
        return 1
    print(f"done: serve it with  TUNESDAY_SERVING_STORE={args.workspace / 'serving'} make serve  (make real does)")
    bind = settings.value(settings.SERVING_BIND)
    for listener in listeners(found):
        print(f"  {listener}: http://{bind}/explore/users/{listener}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
