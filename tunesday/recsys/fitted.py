"""The candidate generators of the playlist continuations that are fitted in Python: implicit's
ALS (matrix factorization) and EASE (Steck 2019, in its dual form), a step between dbt runs,
since neither engine fits them in SQL here.

    dbt build --select +int_playlist_track_keys   (the playlists, keyed)
    write_fitted_candidates(warehouse)            (this module)
    dbt build --select +fct_playlist_continuations, the rest (the generators read the tables)

It reads every trusted playlist of int_playlist_track_keys as a binary playlist × track matrix,
fits each model on it (at the parameters `tunesday-recsys score --peers ease,als` chose on the
shared MPD's validation split), and writes, for each playlist the continuations continue (at most
`max_seed_tracks` tracks), its `depth` best tracks that are not on it, with their scores, to the
source tables recsys.playlist_<model>_candidates (each replaced whole, in one transaction).

On BigQuery the same step runs over the keys read with a query, and loads the tables back
(write_fitted_candidates_bigquery; `tunesday-recsys fit-generators`): BigQuery ML's matrix
factorization needs a reservation (and the emulator has none), and EASE has no SQL form. The
models int_continuation_candidates_from_als and _from_ease read the tables on both engines.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesday.warehouse import DUCKDB_TARGET_SCHEMA, stage_schema

if TYPE_CHECKING:
    import pyarrow as pa

#: As `score --peers ease,als` tuned them on the shared MPD (split 0's validation split).
ALS_PARAMS: dict[str, Any] = {"factors": 128, "regularization": 0.01, "alpha": 10.0, "iterations": 15}
EASE_L2 = 1000.0
MODELS = ("als", "ease")
SCHEMA = stage_schema(DUCKDB_TARGET_SCHEMA, "recsys")
KEYS = f"{stage_schema(DUCKDB_TARGET_SCHEMA, 'intermediate')}.int_playlist_track_keys"


def table(model: str) -> str:
    return f"{SCHEMA}.playlist_{model}_candidates"


@dataclass(frozen=True)
class Written:
    playlists: int  # continued playlists
    rows: dict[str, int]  # per model
    seconds: dict[str, float]  # per model: fit + lists
    total_seconds: float  # read + fits + lists + writes


def _top(scores: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's `depth` best finite columns, best first (ties: column order), and their scores."""
    count = min(depth, scores.shape[1])
    best = np.argpartition(-scores, count - 1, axis=1)[:, :count]
    values = np.take_along_axis(scores, best, axis=1)
    order = np.lexsort((best, -values), axis=1)
    return np.take_along_axis(best, order, axis=1), np.take_along_axis(values, order, axis=1)


def als_lists(matrix, continued: np.ndarray, depth: int, random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from tunesday.recsys.peers import fit_als

    model = fit_als(matrix, **ALS_PARAMS, random_state=random_state)
    return model.recommend(continued, matrix[continued], N=depth, filter_already_liked_items=True)


def ease_lists(matrix, continued: np.ndarray, depth: int, batch: int = 200) -> tuple[np.ndarray, np.ndarray]:
    from tunesday.recsys.peers import EaseDual

    model = EaseDual(matrix, EASE_L2)
    found, values = [], []
    for start in range(0, len(continued), batch):
        queries = matrix[continued[start : start + batch]]
        scores = model.scores(queries)
        scores[queries.nonzero()] = -np.inf
        best, best_values = _top(scores, depth)
        found.append(best)
        values.append(best_values)
    if not found:
        return np.zeros((0, depth), dtype=np.int64), np.zeros((0, depth))
    return np.vstack(found), np.vstack(values)


def fitted_tables(keys, depth: int, max_seed_tracks: int) -> tuple[dict[str, pa.Table], dict[str, float], int]:
    """From int_playlist_track_keys' rows (an Arrow table), each model's candidates as an Arrow
    table (playlist_id, track_id, candidate_rank, score), its seconds (fit + lists), and how many
    playlists were continued."""
    import pyarrow as pa
    import scipy.sparse as sparse

    playlist_keys = keys.column("playlist_key").to_numpy().astype(np.int64)
    track_keys = keys.column("track_key").to_numpy().astype(np.int64)
    playlist_ids = dict(zip(playlist_keys.tolist(), keys.column("playlist_id").to_pylist()))
    track_ids = dict(zip(track_keys.tolist(), keys.column("track_id").to_pylist()))
    rows, columns = playlist_keys - 1, track_keys - 1  # keys are numbered 1, 2, … in id order
    matrix = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(len(playlist_ids), len(track_ids))
    )
    continued = np.unique(rows[keys.column("playlist_track_count").to_numpy() <= max_seed_tracks])
    tables, seconds = {}, {}
    for model, lists in (("als", als_lists), ("ease", ease_lists)):
        started = time.perf_counter()
        found, values = lists(matrix, continued, depth) if len(continued) else (np.zeros((0, 0)), np.zeros((0, 0)))
        seconds[model] = time.perf_counter() - started
        out: dict[str, list] = {"playlist_id": [], "track_id": [], "candidate_rank": [], "score": []}
        for row, tracks, scores in zip(continued.tolist(), found.tolist(), values.tolist()):
            rank = 0
            for track, score in zip(tracks, scores):
                if track < 0 or not np.isfinite(score):
                    continue
                rank += 1
                out["playlist_id"].append(playlist_ids[row + 1])
                out["track_id"].append(track_ids[track + 1])
                out["candidate_rank"].append(rank)
                out["score"].append(float(score))
        tables[model] = pa.table(
            {
                "playlist_id": pa.array(out["playlist_id"], pa.string()),
                "track_id": pa.array(out["track_id"], pa.string()),
                "candidate_rank": pa.array(out["candidate_rank"], pa.int64()),
                "score": pa.array(out["score"], pa.float64()),
            }
        )
    return tables, seconds, len(continued)


KEY_COLUMNS = "playlist_key, track_key, playlist_id, track_id, playlist_track_count"


def _needs_extra() -> None:
    try:
        import implicit  # noqa: F401
        import scipy  # noqa: F401
    except ImportError as missing:
        raise ValueError("the fitted generators need the recsys extra: pip install -e '.[recsys]'") from missing


def write_fitted_candidates(warehouse: Path, depth: int, max_seed_tracks: int) -> Written:
    """The step on a DuckDB warehouse: each source table replaced in one transaction."""
    import duckdb

    _needs_extra()
    started = time.perf_counter()
    with duckdb.connect(str(warehouse)) as con:
        keys = con.sql(f"select {KEY_COLUMNS} from {KEYS}").to_arrow_table()
        tables, seconds, continued = fitted_tables(keys, depth, max_seed_tracks)
        for model, fitted in tables.items():
            con.register("fitted", fitted)
            con.execute("begin")
            con.execute(f"create schema if not exists {SCHEMA}")
            con.execute(
                f"create or replace table {table(model)} as "
                "select playlist_id, track_id, candidate_rank, score from fitted"
            )
            con.execute("commit")
            con.unregister("fitted")
    return Written(
        playlists=continued,
        rows={model: fitted.num_rows for model, fitted in tables.items()},
        seconds=seconds,
        total_seconds=time.perf_counter() - started,
    )


def write_fitted_candidates_bigquery(client, dataset: str, depth: int, max_seed_tracks: int) -> Written:
    """The same step on BigQuery: the keys read by a query, each table replaced by one load job
    (WRITE_TRUNCATE: the table is the old one or the new one, never half of either)."""
    from tunesday.load.bigquery import load_arrow

    _needs_extra()
    started = time.perf_counter()
    keys_table = f"{client.project}.{stage_schema(dataset, 'intermediate')}.int_playlist_track_keys"
    keys = client.query(f"select {KEY_COLUMNS} from `{keys_table}`").to_arrow()
    tables, seconds, continued = fitted_tables(keys, depth, max_seed_tracks)
    for model, fitted in tables.items():
        load_arrow(client, fitted, f"{client.project}.{stage_schema(dataset, 'recsys')}.playlist_{model}_candidates")
    return Written(
        playlists=continued,
        rows={model: fitted.num_rows for model, fitted in tables.items()},
        seconds=seconds,
        total_seconds=time.perf_counter() - started,
    )
