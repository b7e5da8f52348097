"""The listeners' reranker (For You, and the tracks Discover Weekly picks from): LightGBM lambdarank
over the feature columns of fct_user_recommendations, trained on a time split of listening and
compiled into SQL like the continuations' reranker (tunesday/recsys/ranker.py).

    tunesday-recsys train-listener-ranker --data target/data [--test-days 7]

- The warehouse is built from the data folder's raw files with run_date = its last day minus twice
  --test-days, ranked by the hand-weighted blend (so a model never trains on its own ranking).
- Label: 1 when the listener streamed the candidate (at least var stream_min_ms) in the --test-days
  days after that run_date, read from the raw plays. Those days all end by the run_date `make
  eval` (bench/offline_eval.py) builds at, a week later: the evaluation week is never seen.
- Queries: one per listener with at least one positive among their candidates; dealt into grouped
  folds; the model trained on all but the last fold stops early on it (NDCG@30), then the kept
  model is refitted on every listener with that many trees.

The artifacts: rankers/listener_ranker.txt and macros/rankers/listener_ranker.sql (macro
listener_ranker_score(), read by fct_user_recommendations).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunesday import dbt
from tunesday.recsys import ranker
from tunesday.recsys.warehouse import project_var
from tunesday.warehouse import connect as connect_warehouse

MODEL = "fct_user_recommendations"
SOURCES = tuple(sorted(project_var("candidate_source_weights")))
#: The columns of fct_user_recommendations the trees read (new_artist: is_new_artist as 0/1).
FEATURES = (
    "taste_score",
    *(f"{source}_score" for source in SOURCES),
    "pool_rank",
    "source_count",
    "tempo_fit",
    "key_fit",
    "new_artist",
    "exploration_propensity",
    "popularity_prior",
    "track_listeners",
    "artist_affinity",
)
ARTIFACT = ranker.Artifact(
    "listener",
    FEATURES,
    "fct_user_recommendations (For You, and Discover Weekly's picks), over its feature columns",
    "tunesday-recsys train-listener-ranker",
)
LIST_SIZE = 30
# 15 leaves at rate 0.1: as good on the held-out listeners as 31 at 0.05 (NDCG@30 0.322 / 0.321 on
# `make generate`'s data) in a fifth of the SQL (119 KB against 580 KB, past sqlfluff's parse limit).
# One cut-off in eval_at: LightGBM sorts them, and early stopping would watch the smallest.
PARAMS = {
    **ranker.PARAMS,
    "num_leaves": 15,
    "learning_rate": 0.1,
    "lambdarank_truncation_level": 60,
    "eval_at": [LIST_SIZE],
    "min_data_in_leaf": 100,
}
EARLY_STOPPING = 60  # rounds without a better held-out NDCG@30 (a noisy metric over 336 listeners)


@dataclass
class Listening:
    """Every candidate of the listeners with a positive, grouped by listener (pool order)."""

    features: np.ndarray
    labels: np.ndarray
    blend: np.ndarray  # the hand-weighted score, for the comparison
    groups: list[int]
    run_date: dt.date


def feature_sql() -> str:
    """The FEATURES as a select list over fct_user_recommendations' columns."""
    return ", ".join(
        "case when is_new_artist then 1 else 0 end as new_artist" if name == "new_artist" else name for name in FEATURES
    )


def build(data: Path, work: Path, test_days: int) -> dt.date:
    """The warehouse of `data`'s raw files as of its last day minus 2 × test_days; returns that date."""
    manifest = json.loads((data / "manifest.json").read_text())
    last_day = dt.date.fromisoformat(manifest["args"]["end_date"]) - dt.timedelta(days=1)
    run_date = last_day - dt.timedelta(days=2 * test_days)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    built = dbt.run(
        [
            "build",
            "--full-refresh",
            "--select",
            f"+{MODEL}",
            "--exclude",
            "resource_type:test",
            "resource_type:unit_test",
            "--vars",
            json.dumps({"run_date": run_date.isoformat(), "listener_ranking": "blend"}),
        ],
        dbt.duckdb_env(work, data / "raw", work / "warehouse.duckdb"),
    )
    if not built.success:
        raise ValueError(f"the training warehouse did not build: {built.describe()}")
    return run_date


def read_listening(data: Path, work: Path, run_date: dt.date, test_days: int) -> Listening:
    con = connect_warehouse(str(work / "warehouse.duckdb"))
    events = data / "raw" / "listening_events"
    rows = con.execute(f"""
        with later as (
            select distinct user_id, track_id
            from read_parquet('{events}/**/*.parquet')
            where ms_played >= {int(project_var("stream_min_ms"))}
              and cast(played_at as date) > date '{run_date}'
              and cast(played_at as date) <= date '{run_date + dt.timedelta(days=test_days)}'
        ),
        labelled as (
            select r.*, later.track_id is not null as label
            from {MODEL} as r
            left join later on r.user_id = later.user_id and r.track_id = later.track_id
        )
        select {feature_sql()}, cast(label as int) as label, blend_score, user_id
        from labelled
        where user_id in (select user_id from labelled where label)
        order by user_id, pool_rank
    """).fetchnumpy()
    users = rows["user_id"]
    boundaries = np.flatnonzero(users[1:] != users[:-1]) + 1
    groups = np.diff(np.concatenate([[0], boundaries, [len(users)]])).tolist()
    features = np.column_stack([np.asarray(rows[name], dtype=np.float64) for name in FEATURES])
    return Listening(
        features, np.asarray(rows["label"], dtype=np.int32), np.asarray(rows["blend_score"]), groups, run_date
    )


@dataclass(frozen=True)
class Trained:
    booster: object
    best_iteration: int
    validation: dict[str, float]  # lightgbm's ndcg@k on the held-out listeners
    held_out: dict[str, dict[str, float]]  # "reranker" / "blend": recall@30 and NDCG@30 in the pool
    importances: list[tuple[str, float]]


def train(listening: Listening) -> Trained:
    lightgbm = ranker._lightgbm()
    parts = ranker.folds(len(listening.groups))
    held_out, fitted = parts[-1], sorted(q for part in parts[:-1] for q in part)
    starts = np.concatenate([[0], np.cumsum(listening.groups)])

    def rows_of(queries: list[int]) -> np.ndarray:
        return np.concatenate([np.arange(starts[q], starts[q + 1]) for q in queries])

    def dataset(queries: list[int]):
        rows = rows_of(queries)
        return lightgbm.Dataset(
            listening.features[rows],
            listening.labels[rows],
            group=[listening.groups[q] for q in queries],
            feature_name=list(FEATURES),
            free_raw_data=False,
        )

    evaluated: dict = {}
    early = lightgbm.train(
        PARAMS,
        dataset(fitted),
        num_boost_round=ranker.MAX_TREES,
        valid_sets=[dataset(held_out)],
        valid_names=["held_out"],
        callbacks=[
            lightgbm.early_stopping(EARLY_STOPPING, first_metric_only=True, verbose=False),
            lightgbm.record_evaluation(evaluated),
        ],
    )
    best = early.best_iteration or ranker.MAX_TREES
    validation = {metric: float(values[best - 1]) for metric, values in evaluated["held_out"].items()}
    rows = rows_of(held_out)
    orders = {"reranker": early.predict(listening.features[rows], num_iteration=best), "blend": listening.blend[rows]}
    held = {name: _at_list(listening, held_out, values) for name, values in orders.items()}
    final = lightgbm.train(
        {**PARAMS, "metric": "None"}, dataset(list(range(len(listening.groups)))), num_boost_round=best
    )
    return Trained(final, best, validation, held, ranker.gain_shares(final, FEATURES))


def _at_list(listening: Listening, queries: list[int], values: np.ndarray) -> dict[str, float]:
    """Mean recall@30 and NDCG@30 within the candidate pools of `queries`, ordered by `values`
    (the queries' rows one after the other)."""
    discounts = 1 / np.log2(np.arange(2, LIST_SIZE + 2))
    starts = np.concatenate([[0], np.cumsum(listening.groups)])
    recall = ndcg = 0.0
    at = 0
    for q in queries:
        size = listening.groups[q]
        relevant = listening.labels[starts[q] : starts[q] + size]
        top = relevant[np.argsort(-values[at : at + size], kind="stable")[:LIST_SIZE]]
        recall += top.sum() / relevant.sum()
        ndcg += float((top * discounts[: len(top)]).sum()) / discounts[: min(int(relevant.sum()), LIST_SIZE)].sum()
        at += size
    return {"recall@30": recall / len(queries), "ndcg@30": ndcg / len(queries)}


def run(data: Path, work: Path, test_days: int, artifact: ranker.Artifact = ARTIFACT, progress=print) -> dict:
    """Builds, reads, trains and writes the artifacts; returns the figures to print."""
    started = time.perf_counter()
    run_date = build(data, work, test_days)
    progress(f"training warehouse built as of {run_date} in {time.perf_counter() - started:.0f} s")
    listening = read_listening(data, work, run_date, test_days)
    trained = train(listening)
    written = ranker.write_artifacts(
        trained.booster,
        {
            "trained_on": str(data),
            "run_date": run_date.isoformat(),
            "label_days": test_days,
            "listeners": len(listening.groups),
            "candidates": int(len(listening.labels)),
            "positives": int(listening.labels.sum()),
            "trees": trained.best_iteration,
            "held_out_ndcg": {k: round(v, 4) for k, v in trained.validation.items()},
            "held_out_in_pool": {
                name: {k: round(v, 4) for k, v in figures.items()} for name, figures in trained.held_out.items()
            },
        },
        artifact,
    )
    return {"listening": listening, "trained": trained, "written": written, "seconds": time.perf_counter() - started}
