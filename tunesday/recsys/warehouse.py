"""The project's own ranking on a challenge: the training and challenge playlists loaded into a
fresh raw folder with tunesday-load, `dbt build` of fct_playlist_continuations and what it needs
(data tests included), its lists read back and finished to 500 with the training popularity."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from tunesday import dbt
from tunesday.load.cli import main as load
from tunesday.mpd import Playlist
from tunesday.recsys.baselines import TRACKS_PER_PLAYLIST, build_index, finish
from tunesday.warehouse import connect as connect_warehouse

MODEL = "fct_playlist_continuations"


def continuations(train_path: Path, challenge_path: Path, train: list[Playlist], challenge: list[Playlist],
                  work: Path) -> tuple[dict[int, list[str]], float]:
    """{pid: 500 track URIs} for the challenge playlists, and the seconds it took (load + build +
    read). The loaders map pid p to playlist pl_mpd_<p> and keep Spotify track ids."""
    started = time.perf_counter()
    shutil.rmtree(work, ignore_errors=True)
    raw = work / "raw"
    for path in (train_path, challenge_path):
        status = load(["mpd", str(path), "--raw-dir", str(raw)])
        if status not in (0, 3):  # 3: loaded, some records set aside (the load report says which)
            raise ValueError(f"tunesday-load could not load {path} (exit {status})")
    longest_seeds = max(len(set(playlist.track_uris)) for playlist in challenge)
    build = dbt.run(["build", "--select", f"+{MODEL}", "--indirect-selection", "cautious", "--vars",
                     f"{{continuation_max_seed_tracks: {longest_seeds}, continuation_size: {TRACKS_PER_PLAYLIST}}}"],
                    dbt.duckdb_env(work, raw))
    if not build.success:
        raise ValueError(build.describe())
    ranked: dict[int, list[str]] = {}
    with connect_warehouse(str(work / "warehouse.duckdb")) as con:
        for playlist_id, track_id in con.execute(
                f"select playlist_id, track_id from {MODEL} where playlist_id like 'pl_mpd_%' "
                "order by playlist_id, continuation_rank").fetchall():
            ranked.setdefault(int(playlist_id.removeprefix("pl_mpd_")), []).append(f"spotify:track:{track_id}")
    popular = build_index(train).popular
    recommendations = {playlist.pid: finish(ranked.get(playlist.pid, []), playlist.track_uris, popular)
                       for playlist in challenge}
    return recommendations, time.perf_counter() - started
