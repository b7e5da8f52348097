"""The project's own ranking on a challenge: the training and challenge playlists loaded into a
fresh raw folder with tunesday-load, then the two stages of the continuations built by dbt (data
tests included) with the Python step of the fitted generators between (tunesday/recsys/fitted.py):

    dbt build +int_playlist_track_keys
    the fitted step writes recsys.playlist_als_candidates and recsys.playlist_ease_candidates
    dbt build +fct_playlist_continuations (the rest)

and the lists read back and finished to 500 with the training popularity. train-ranker builds
the same warehouse on pseudo-queries and reads the candidates' features instead."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesday import dbt
from tunesday.load.cli import main as load
from tunesday.mpd import Playlist
from tunesday.recsys.baselines import TRACKS_PER_PLAYLIST, build_index, finish
from tunesday.warehouse import connect as connect_warehouse

MODEL = "fct_playlist_continuations"
CANDIDATES = "int_playlist_continuation_candidates"
KEYS = "int_playlist_track_keys"
#: The candidate generators (macro continuation_generators) and the columns the reranker reads.
GENERATORS = ("cooccurrence", "cosine", "rp3beta", "tail", "neighbours", "titles", "artists", "als", "ease")
FEATURES = (
    "seed_count",
    "track_playlist_count",
    "artist_seed_count",
    "generator_count",
    *(f"{generator}_{kind}" for generator in GENERATORS for kind in ("score", "rank", "relative_score")),
)
PLAYLIST_PREFIX = "pl_mpd_"  # the loaders map MPD pid p to playlist pl_mpd_<p>


@dataclass(frozen=True)
class Built:
    work: Path
    seconds: float

    @property
    def warehouse(self) -> Path:
        return self.work / "warehouse.duckdb"


def build(
    train_path: Path,
    challenge_path: Path,
    challenge: list[Playlist],
    work: Path,
    ranking: str = "ranker",
    depth: int | None = None,
) -> Built:
    """Loads both files into a fresh `work` folder and builds the continuations' two stages."""
    from tunesday.recsys.fitted import write_fitted_candidates

    started = time.perf_counter()
    shutil.rmtree(work, ignore_errors=True)
    raw = work / "raw"
    for path in (train_path, challenge_path):
        status = load(["mpd", str(path), "--raw-dir", str(raw)])
        if status not in (0, 3):  # 3: loaded, some records set aside (the load report says which)
            raise ValueError(f"tunesday-load could not load {path} (exit {status})")
    longest_seeds = max(len(set(playlist.track_uris)) for playlist in challenge)
    depth = depth or int(project_var("continuation_generator_depth"))
    variables = (
        f"{{continuation_max_seed_tracks: {longest_seeds}, continuation_size: {TRACKS_PER_PLAYLIST}, "
        f"continuation_ranking: {ranking}, continuation_generator_depth: {depth}}}"
    )
    env = dbt.duckdb_env(work, raw)

    def dbt_build(step: str, *selection: str) -> None:
        result = dbt.run(["build", *selection, "--indirect-selection", "cautious", "--vars", variables], env)
        if not result.success:
            raise ValueError(f"dbt build ({step}): {result.describe()}")

    dbt_build("keys", "--select", f"+{KEYS}")
    write_fitted_candidates(
        work / "warehouse.duckdb",
        max_seed_tracks=longest_seeds,
        depth=max(depth, int(project_var("continuation_feature_depth"))),
    )
    dbt_build("continuations", "--select", f"+{MODEL}", "--exclude", f"+{KEYS}")
    return Built(work, time.perf_counter() - started)


def project_var(name: str) -> Any:
    """A var's value in dbt_project.yml (what a build without --vars for it reads): YAML, any type."""
    import yaml

    return yaml.safe_load((dbt.PROJECT_DIR / "dbt_project.yml").read_text())["vars"][name]


def continuations(
    train_path: Path,
    challenge_path: Path,
    train: list[Playlist],
    challenge: list[Playlist],
    work: Path,
    ranking: str = "ranker",
    depth: int | None = None,
) -> tuple[dict[int, list[str]], float]:
    """{pid: 500 track URIs} for the challenge playlists, and the seconds it took (load + build +
    read)."""
    started = time.perf_counter()
    built = build(train_path, challenge_path, challenge, work, ranking, depth)
    ranked: dict[int, list[str]] = {}
    with connect_warehouse(str(built.warehouse)) as con:
        for playlist_id, track_id in con.execute(
            f"select playlist_id, track_id from {MODEL} where playlist_id like '{PLAYLIST_PREFIX}%' "
            "order by playlist_id, continuation_rank"
        ).fetchall():
            ranked.setdefault(int(playlist_id.removeprefix(PLAYLIST_PREFIX)), []).append(f"spotify:track:{track_id}")
    popular = build_index(train).popular
    recommendations = {
        playlist.pid: finish(ranked.get(playlist.pid, []), playlist.track_uris, popular) for playlist in challenge
    }
    return recommendations, time.perf_counter() - started


def generator_lists(warehouse: Path, depth: int) -> dict[str, dict[int, list[str]]]:
    """Each generator's own lists (by its rank) and the union's (every candidate, by how many
    generators proposed it, then the best rank any gave it): {name: {pid: track URIs}}."""
    lists: dict[str, dict[int, list[str]]] = {name: {} for name in (*GENERATORS, "union")}
    ranks = ", ".join(f"{generator}_rank" for generator in GENERATORS)
    with connect_warehouse(str(warehouse)) as con:
        rows = con.execute(
            f"select playlist_id, track_id, generator_count, {ranks} from {CANDIDATES} "
            f"where playlist_id like '{PLAYLIST_PREFIX}%'"
        ).fetchall()
    by_playlist: dict[int, list[tuple]] = {}
    for row in rows:
        by_playlist.setdefault(int(row[0].removeprefix(PLAYLIST_PREFIX)), []).append(row)
    for pid, found in by_playlist.items():
        for n, generator in enumerate(GENERATORS):
            proposed = sorted((row[3 + n], row[1]) for row in found if row[3 + n] <= depth)
            lists[generator][pid] = [f"spotify:track:{track}" for _, track in proposed]
        union = sorted(found, key=lambda row: (-row[2], min(row[3:]), row[1]))
        lists["union"][pid] = [f"spotify:track:{row[1]}" for row in union]
    return lists


def candidates(warehouse: Path, pids: list[int]) -> dict[int, tuple[list[str], list[tuple[float, ...]]]]:
    """{pid: (candidate track URIs, their FEATURES rows)} of int_playlist_continuation_candidates,
    in track id order."""
    wanted = ", ".join(f"'{PLAYLIST_PREFIX}{pid}'" for pid in pids)
    made: dict[int, tuple[list[str], list[tuple[float, ...]]]] = {pid: ([], []) for pid in pids}
    with connect_warehouse(str(warehouse)) as con:
        for playlist_id, track_id, *features in con.execute(
            f"select playlist_id, track_id, {', '.join(FEATURES)} from {CANDIDATES} "
            f"where playlist_id in ({wanted}) order by playlist_id, track_id"
        ).fetchall():
            uris, rows = made[int(playlist_id.removeprefix(PLAYLIST_PREFIX))]
            uris.append(f"spotify:track:{track_id}")
            rows.append(tuple(float(value) for value in features))
    return made
