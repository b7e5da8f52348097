"""The continuations' reranker compiled to SQL (tunesday/recsys/ranker.py): the warehouse's score
is LightGBM's `predict` to 1e-6, on DuckDB and on the BigQuery emulator, for a model trained here
and for the committed artifact; the compiler refuses what it cannot compute exactly."""

import numpy as np
import pytest

lightgbm = pytest.importorskip("lightgbm", reason="the recsys extra is not installed")

from tunesday.recsys import ranker  # noqa: E402
from tunesday.recsys.warehouse import FEATURES  # noqa: E402

TOLERANCE = 1e-6


def feature_rows(count: int, seed: int) -> np.ndarray:
    """Rows like the candidates': integer counts and ranks (many ties, thresholds between them),
    positive scores spanning orders of magnitude, zeros where a generator proposed nothing."""
    rng = np.random.default_rng(seed)
    columns = []
    for name in FEATURES:
        if name.endswith("_rank"):
            column = rng.integers(1, 302, count).astype(float)
        elif name.endswith("_score"):
            column = np.where(rng.random(count) < 0.3, 0.0, rng.lognormal(0, 2, count))
        else:
            column = rng.integers(0, 30, count).astype(float)
        columns.append(column)
    return np.column_stack(columns)


def small_model(rows: np.ndarray, seed: int = 0, trees: int = 60, data=None):
    rng = np.random.default_rng(seed)
    relevance = -rows[:, FEATURES.index("cosine_rank")] + 50 * np.log1p(rows[:, FEATURES.index("als_score")])
    labels = (relevance + rng.normal(0, 30, len(rows)) > np.quantile(relevance, 0.8)).astype(int)
    groups = [100] * (len(rows) // 100)
    dataset = lightgbm.Dataset(rows if data is None else data, labels, group=groups, feature_name=list(FEATURES))
    return lightgbm.train({**ranker.PARAMS, "metric": "None", "min_data_in_leaf": 5}, dataset, num_boost_round=trees)


def duckdb_scores(expression: str, rows: np.ndarray) -> np.ndarray:
    import duckdb
    import pyarrow as pa

    table = pa.table({name: rows[:, n] for n, name in enumerate(FEATURES)}).append_column(
        "row_number", pa.array(np.arange(len(rows)))
    )
    with duckdb.connect() as con:
        con.register("candidates", table)
        return np.array(
            [score for (score,) in con.execute(f"select {expression} from candidates order by row_number").fetchall()]
        )


def bigquery_scores(client, expression: str, rows: np.ndarray) -> np.ndarray:
    import pyarrow as pa

    from ci.emulator import EMULATOR_PROJECT
    from tunesday.load.bigquery import load_arrow

    client.create_dataset(f"{EMULATOR_PROJECT}.ranker", exists_ok=True)
    table = pa.table({name: rows[:, n] for n, name in enumerate(FEATURES)}).append_column(
        "row_number", pa.array(np.arange(len(rows)))
    )
    load_arrow(client, table, f"{EMULATOR_PROJECT}.ranker.candidates")
    query = f"select {expression} as score from `{EMULATOR_PROJECT}.ranker.candidates` order by row_number"
    return np.array([row.score for row in client.query(query).result()])


def test_compiled_trees_equal_predict_on_duckdb(tmp_path):
    rows = feature_rows(3000, 1)
    model = small_model(rows)
    unseen = on_thresholds(model, feature_rows(2000, 2))
    expected = model.predict(unseen)
    got = duckdb_scores(ranker.compile_sql(model), unseen)
    assert np.abs(got - expected).max() <= TOLERANCE
    assert np.std(expected) > 0.1  # the trees do split: a constant model would prove nothing


def on_thresholds(model, rows: np.ndarray) -> np.ndarray:
    """`rows` with a value exactly on each split's threshold (one a row, as many as there are
    rows): x <= t must go left in SQL as in LightGBM."""
    thresholds = [
        (node["split_feature"], node["threshold"])
        for tree in model.dump_model()["tree_info"]
        for node in _internal_nodes(tree["tree_structure"])
    ]
    for n, (feature, threshold) in enumerate(thresholds[: len(rows)]):
        rows[n, feature] = threshold
    return rows


def _internal_nodes(node):
    if "leaf_value" not in node:
        yield node
        yield from _internal_nodes(node["left_child"])
        yield from _internal_nodes(node["right_child"])


def test_compiled_trees_equal_predict_on_the_bigquery_emulator(tmp_path):
    """A model trained here and the committed one (rankers/continuation_ranker.txt)."""
    from ci.emulator import EMULATOR_PROJECT, EMULATOR_VENV, running_emulator
    from tunesday.load.bigquery import make_client

    if not (EMULATOR_VENV / "bin" / "bqemulator").exists():
        pytest.skip(f"BigQuery emulator not installed in {EMULATOR_VENV} (make .venv-bqemu/.installed)")
    rows = feature_rows(3000, 1)
    model = small_model(rows, trees=30)
    committed = lightgbm.Booster(model_file=str(ranker.MODEL_FILE))
    unseen = feature_rows(300, 3)
    with running_emulator(tmp_path / "bqemulator") as endpoint:
        client = make_client(EMULATOR_PROJECT, endpoint)
        for tried in (model, committed):
            rows = on_thresholds(tried, unseen.copy())
            got = bigquery_scores(client, ranker.compile_sql(tried), rows)
            assert np.abs(got - tried.predict(rows)).max() <= TOLERANCE


def test_the_committed_ranker_is_its_model_file_compiled():
    """macros/rankers/continuation_ranker.sql holds exactly the compiled trees of
    rankers/continuation_ranker.txt, and scores rows as that model's predict does."""
    model = lightgbm.Booster(model_file=str(ranker.MODEL_FILE))
    macro = ranker.MACRO_FILE.read_text()
    [body] = ranker.compiled_trees(macro)
    assert body == ranker.compile_sql(model)
    rows = on_thresholds(model, feature_rows(2000, 4))
    assert np.abs(duckdb_scores(body, rows) - model.predict(rows)).max() <= TOLERANCE


def test_the_compiler_refuses_a_missing_value_rule():
    rows = feature_rows(3000, 1)
    with_gaps = rows.copy()
    with_gaps[::7, FEATURES.index("cosine_rank")] = np.nan
    model = small_model(rows, data=with_gaps, trees=5)
    with pytest.raises(ValueError, match="missing type"):
        ranker.compile_sql(model)


def test_literals_read_back_exactly():
    import duckdb

    values = [0.1, 1 / 3, 2.0**-40, 123456789.123456789, -7.25e-12, 300.5]
    with duckdb.connect() as con:
        got = con.execute("select " + ", ".join(ranker.literal(v) for v in values)).fetchone()
    assert list(got) == values
