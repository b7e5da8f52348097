"""The learned reranker of the playlist continuations: LightGBM lambdarank over the candidates'
features (int_playlist_continuation_candidates), trained on pseudo-queries cut from the training
playlists only, then compiled into SQL so that the warehouse ranks with it on either engine.

Training (`tunesday-recsys train-ranker`):
- pseudo-queries: for each cut seed, a split of the *training* playlists made like the challenge
  (make_split: 500 playlists, half cut to their first 5 tracks, half to 25), the rest as their
  training playlists; the same warehouse as `continue` is built on it (tunesday/recsys/
  warehouse.py, ranking 'blend'), and each query's candidates are read with their features;
  label 1 when the track is among the query's held-out tracks. The evaluation playlists are never
  read.
- grouped folds: the queries (every candidate of one query in the same fold) are dealt into
  FOLDS folds; the model trained on all but the last stops early on it and reports its
  validation metrics; the model kept is refitted on every query with that many trees.

Compiled (`compile_sql`): each tree becomes a nested CASE over the feature columns, x <= threshold
going left as LightGBM does for a numerical split when no value is missing (the features never
are: absent scores are 0, absent ranks depth + 1); the score is the sum of the trees in LightGBM's
order. Thresholds and leaf values are written in 17-digit scientific notation, a double literal on
both engines that reads back to the same double. Anything else (categorical splits, a missing-
value rule) is refused, so that the SQL can only ever compute what `predict` does.

The artifacts, versioned in the repository:
- rankers/continuation_ranker.txt: LightGBM's model file (what `predict` loads in the parity test);
- macros/rankers/continuation_ranker.sql: macro continuation_ranker_score(), the compiled trees,
  with the version and how it was trained in its header.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunesday.dbt import PROJECT_DIR
from tunesday.recsys.warehouse import FEATURES, GENERATORS

FOLDS = 5
PARAMS = {
    "objective": "lambdarank",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 50,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "feature_fraction": 0.8,
    "seed": 0,
    "deterministic": True,
    "force_row_wise": True,
    "lambdarank_truncation_level": 500,
    "metric": "ndcg",
    "eval_at": [500, 100, 10],
    "verbose": -1,
    "num_threads": 2,
    "zero_as_missing": False,
}
MAX_TREES = 400
EARLY_STOPPING = 30


def _lightgbm():
    try:
        import lightgbm
    except ImportError as missing:
        raise ValueError("the reranker needs the recsys extra: pip install -e '.[recsys]'") from missing
    return lightgbm


@dataclass
class Queries:
    """Candidate rows of many queries, grouped: features[i] belongs to query group_of[i]."""

    features: np.ndarray  # rows × FEATURES
    labels: np.ndarray
    groups: list[int]  # each query's row count, in order
    query_ids: list[str]  # e.g. "cut 11, pid 123"
    uris: list[list[str]]  # each query's candidates
    truth: list[set[str]]  # each query's held-out tracks

    def rows_of(self, queries: Sequence[int]) -> np.ndarray:
        starts = np.concatenate([[0], np.cumsum(self.groups)])
        return (
            np.concatenate([np.arange(starts[q], starts[q + 1]) for q in queries])
            if len(queries)
            else np.array([], dtype=np.int64)
        )


def folds(query_count: int, seed: int = 0) -> list[list[int]]:
    """Queries dealt into FOLDS folds after a seeded shuffle: a query's candidates stay together."""
    order = list(range(query_count))
    random.Random(seed).shuffle(order)
    return [sorted(order[fold::FOLDS]) for fold in range(FOLDS)]


@dataclass(frozen=True)
class Trained:
    booster: object
    best_iteration: int
    validation: dict[str, float]  # lightgbm's ndcg@k on the held-out fold, at the best iteration
    # (early stopping watches the first one LightGBM reports:
    # it sorts eval_at, so ndcg@10, not @500)
    validation_r_precision: float  # the reranked candidates' R-precision on the held-out fold
    first_generator_r_precision: dict[str, float]  # each generator's own order, same fold
    importances: list[tuple[str, float]]  # share of the total gain, best first


def train(queries: Queries) -> Trained:
    lightgbm = _lightgbm()
    parts = folds(len(queries.groups))
    held_out, fitted = parts[-1], sorted(q for part in parts[:-1] for q in part)

    def dataset(chosen: list[int]):
        rows = queries.rows_of(chosen)
        return lightgbm.Dataset(
            queries.features[rows],
            queries.labels[rows],
            group=[queries.groups[q] for q in chosen],
            feature_name=list(FEATURES),
            free_raw_data=False,
        )

    evaluated: dict = {}
    early = lightgbm.train(
        PARAMS,
        dataset(fitted),
        num_boost_round=MAX_TREES,
        valid_sets=[dataset(held_out)],
        valid_names=["held_out"],
        callbacks=[
            lightgbm.early_stopping(EARLY_STOPPING, first_metric_only=True, verbose=False),
            lightgbm.record_evaluation(evaluated),
        ],
    )
    best = early.best_iteration or MAX_TREES
    validation = {metric: float(values[best - 1]) for metric, values in evaluated["held_out"].items()}
    rows = queries.rows_of(held_out)
    predicted = early.predict(queries.features[rows], num_iteration=best)
    orders = {"reranker": predicted}
    for generator in GENERATORS:
        orders[generator] = -queries.features[rows, FEATURES.index(f"{generator}_rank")]
    r_precision = {name: _r_precision(queries, held_out, values) for name, values in orders.items()}
    final = lightgbm.train(
        {**PARAMS, "metric": "None"}, dataset(list(range(len(queries.groups)))), num_boost_round=best
    )
    return Trained(final, best, validation, r_precision.pop("reranker"), r_precision, gain_shares(final, FEATURES))


def gain_shares(booster, features: Sequence[str]) -> list[tuple[str, float]]:
    """Each feature's share of the model's total split gain, best first."""
    gains = booster.feature_importance("gain")
    total = float(gains.sum()) or 1.0
    return sorted(((name, float(gain) / total) for name, gain in zip(features, gains)), key=lambda p: -p[1])


def _r_precision(queries: Queries, chosen: list[int], values: np.ndarray) -> float:
    """Mean R-precision (track level) of the queries' candidates ordered by `values` (ties: id order)."""
    total, at = 0.0, 0
    for q in chosen:
        size = queries.groups[q]
        order = np.argsort(-values[at : at + size], kind="stable")
        truth = queries.truth[q]
        top = {queries.uris[q][i] for i in order[: len(truth)]}
        total += len(top & truth) / len(truth)
        at += size
    return total / len(chosen)


# The compiler ----------------------------------------------------------------------------------


def literal(value: float) -> str:
    """A double literal on DuckDB and BigQuery that reads back as exactly `value`."""
    if not np.isfinite(value):
        raise ValueError(f"cannot compile a non-finite value {value!r}")
    return f"{value:.16e}"


def _node_sql(node: dict, features: Sequence[str], indent: str) -> str:
    """A node as SQL: a leaf its value; a split a CASE whose chain of right children (x > t) is
    flattened into further WHENs (`case when a then … else case when b …` is `case when a then …
    when b …`), so a tree nests only as deep as its left turns."""
    if "leaf_value" in node:
        return literal(node["leaf_value"])
    inner = indent + "    "
    branches = []
    while "leaf_value" not in node:
        if node.get("decision_type") != "<=":
            raise ValueError(f"cannot compile a split of type {node.get('decision_type')!r} (only numerical <=)")
        if node.get("missing_type") not in ("None", None):
            raise ValueError(
                f"cannot compile a split with missing type {node['missing_type']!r}: "
                "train without missing values (zero_as_missing false, no NaN)"
            )
        column = features[node["split_feature"]]
        branches.append(
            f"when {column} <= {literal(node['threshold'])} then {_node_sql(node['left_child'], features, inner)}"
        )
        node = node["right_child"]
    return (
        "case\n"
        + "".join(f"{inner}{branch}\n" for branch in branches)
        + f"{inner}else {literal(node['leaf_value'])}\n{indent}end"
    )


def compile_sql(booster, features: Sequence[str] = FEATURES) -> str:
    """The booster's raw score (what `predict` returns for lambdarank) as one SQL expression."""
    dumped = booster.dump_model()
    if dumped["feature_names"] != list(features):
        raise ValueError(f"the model's features {dumped['feature_names']} are not {list(features)}")
    if dumped.get("num_class", 1) != 1:
        raise ValueError("only single-output models compile")
    trees = [_node_sql(tree["tree_structure"], features, "    ") for tree in dumped["tree_info"]]
    return "(\n    " + "\n    + ".join(trees) + "\n)"


# The compiled trees stand between these comments in a ranker's macro, hence in the compiled models:
# tests read the expression back (compiled_trees), and the compiled-SQL lint, which has nothing to
# learn from thousands of generated WHENs, reads the models without them (without_trees).
TREES_BEGIN = "/* compiled trees (tunesday/recsys/ranker.py) */"
TREES_END = "/* end of compiled trees */"


def compiled_trees(text: str) -> list[str]:
    """The tree expressions in `text` (a macro file or a compiled model), in order."""
    return re.findall(re.escape(TREES_BEGIN) + r"\n(.*?)\n" + re.escape(TREES_END), text, re.S)


def without_trees(text: str) -> str:
    """`text` with each compiled tree expression replaced by 0.0."""
    return re.sub(re.escape(TREES_BEGIN) + r".*?" + re.escape(TREES_END), "0.0", text, flags=re.S)


@dataclass(frozen=True)
class Artifact:
    """A reranker kept in the repository: LightGBM's file and the macro of its compiled trees."""

    name: str  # "continuation": rankers/continuation_ranker.txt, macro continuation_ranker_score()
    features: tuple[str, ...]  # the columns the trees read, in the model's order
    ranks: str  # what it ranks, for the macro's header
    command: str  # what trains it
    root: Path = PROJECT_DIR  # written under root/rankers and root/macros/rankers

    @property
    def model_file(self) -> Path:
        return self.root / "rankers" / f"{self.name}_ranker.txt"

    @property
    def macro_file(self) -> Path:
        return self.root / "macros" / "rankers" / f"{self.name}_ranker.sql"


CONTINUATION = Artifact(
    "continuation",
    tuple(FEATURES),
    "fct_playlist_continuations, over the columns of int_playlist_continuation_candidates",
    "tunesday-recsys train-ranker",
)
MODEL_FILE, MACRO_FILE = CONTINUATION.model_file, CONTINUATION.macro_file


def macro_text(booster, header: dict, artifact: Artifact = CONTINUATION) -> str:
    """macros/rankers/<name>_ranker.sql for a model: its header, version and compiled trees."""
    described = json.dumps(header, indent=2, sort_keys=True)
    about = textwrap.fill(
        f"Generated by `{artifact.command}` (tunesday/recsys/ranker.py): do not edit. "
        f"LightGBM lambdarank trees compiled to SQL, the reranker of {artifact.ranks}; "
        f"rankers/{artifact.model_file.name} is the same model as LightGBM's file.",
        width=100,
        initial_indent="    ",
        subsequent_indent="    ",
    )
    return (
        "{#-\n" + about + "\n\n" + "\n".join("    " + line for line in described.splitlines()) + "\n-#}\n\n"
        f"{{% macro {artifact.name}_ranker_version() %}}{{{{ return('{header['version']}') }}}}{{% endmacro %}}\n\n"
        f"{{% macro {artifact.name}_ranker_score() %}}\n{TREES_BEGIN}\n"
        + compile_sql(booster, artifact.features)
        + f"\n{TREES_END}\n{{%- endmacro %}}\n"
    )


def write_artifacts(booster, description: dict, artifact: Artifact = CONTINUATION) -> dict:
    """The model file and the macro, each written whole (temp file, then rename); returns the
    version (a digest of the model file) with the description."""
    model_text = booster.model_to_string()
    header = {"version": hashlib.sha256(model_text.encode()).hexdigest()[:12], **description}
    for path, text in ((artifact.model_file, model_text), (artifact.macro_file, macro_text(booster, header, artifact))):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(text)
        partial.replace(path)
    return header


# Pseudo-queries --------------------------------------------------------------------------------


def pseudo_queries(train: Sequence, cuts: Sequence[int], work: Path, per_cut: int = 500, progress=print) -> Queries:
    """The candidates of `per_cut` pseudo-queries per cut seed, each cut of the training playlists
    built into its own warehouse under `work` exactly as `continue` builds the challenge's."""
    from tunesday.recsys import warehouse
    from tunesday.recsys.split import MIN_HOLDOUTS, make_split, read_challenge, write_split

    features, labels, groups, query_ids, uris, truths = [], [], [], [], [], []
    for seed in cuts:
        split = make_split(train, per_cut, seed)
        folder = work / f"cut-{seed}"
        paths = write_split(split, folder, seed, MIN_HOLDOUTS, date="pseudo-queries")
        queries = read_challenge(paths["challenge"])
        built = warehouse.build(paths["train"], paths["challenge"], queries, folder / "warehouse", ranking="blend")
        made = warehouse.candidates(built.warehouse, [query.pid for query in queries])
        for case in split.cases:
            candidate_uris, rows = made[case.playlist.pid]
            truth = set(case.holdouts)
            if not rows:
                continue
            features.append(np.asarray(rows, dtype=np.float64))
            labels.append(np.array([uri in truth for uri in candidate_uris], dtype=np.int32))
            groups.append(len(rows))
            query_ids.append(f"cut {seed}, pid {case.playlist.pid}")
            uris.append(candidate_uris)
            truths.append(truth)
        progress(
            f"cut {seed}: {len(split.cases)} pseudo-queries, {sum(len(made[q.pid][0]) for q in queries):,} "
            f"candidates, warehouse built in {built.seconds:.0f} s"
        )
    return Queries(np.vstack(features), np.concatenate(labels), groups, query_ids, uris, truths)
