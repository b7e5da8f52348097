"""The listeners' reranker (tunesday/recsys/listeners.py) in the warehouse: fct_user_recommendations'
ranker_score is the committed model's `predict` on the row's stored features to 1e-6 (on DuckDB
here; on the emulator in test_bigquery_path.py), `score` follows var listener_ranking, the macro is
the model file compiled, and `tunesday-recsys train-listener-ranker` trains and writes a model that
the same checks accept, without touching the committed one."""

import numpy as np
import pytest

lightgbm = pytest.importorskip("lightgbm", reason="the recsys extra is not installed")

from tunesday.recsys import listeners, ranker  # noqa: E402
from tunesday.recsys.cli import main as recsys  # noqa: E402
from tunesday.warehouse import connect  # noqa: E402

TOLERANCE = 1e-6


def stored_features(execute) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Every row of fct_user_recommendations: its features, and its scores by name."""
    rows = execute(
        f"select {listeners.feature_sql()}, ranker_score, blend_score, score "
        f"from fct_user_recommendations order by user_id, recommendation_rank"
    )
    features = np.column_stack([np.asarray(rows[name], dtype=np.float64) for name in listeners.FEATURES])
    return features, {
        name: np.asarray(rows[name], dtype=np.float64) for name in ("ranker_score", "blend_score", "score")
    }


def committed_model():
    return lightgbm.Booster(model_file=str(listeners.ARTIFACT.model_file))


def assert_scores_are_predictions(model, features: np.ndarray, stored: np.ndarray) -> None:
    expected = model.predict(features)
    assert len(stored) > 1000
    assert np.abs(stored - expected).max() <= TOLERANCE
    assert np.std(expected) > 0.05  # the trees do split these rows: a constant would prove nothing


def test_the_warehouse_ranks_listeners_as_the_committed_model_predicts(warehouse):
    con = connect(warehouse.duckdb_path)
    features, scores = stored_features(lambda sql: con.execute(sql).fetchnumpy())
    assert_scores_are_predictions(committed_model(), features, scores["ranker_score"])
    # The default ranking is the reranker's; the blend is kept beside it for the evaluation.
    assert np.array_equal(scores["score"], scores["ranker_score"])
    assert not np.array_equal(scores["ranker_score"], scores["blend_score"])


def test_the_committed_listener_ranker_is_its_model_file_compiled():
    model = committed_model()
    macro = listeners.ARTIFACT.macro_file.read_text()
    assert ranker.compiled_trees(macro) == [ranker.compile_sql(model, listeners.FEATURES)]


def test_train_listener_ranker_writes_a_model_the_warehouse_would_use(warehouse, tmp_path):
    """On the fixture's data (a time split: built 2 × 5 days before its end, labels the 5 days
    after): the command trains, prints its figures, and writes both artifacts where it is told,
    the compiled trees equal to its model; the committed artifacts are left as they were."""
    committed = listeners.ARTIFACT.model_file.read_bytes(), listeners.ARTIFACT.macro_file.read_bytes()
    out = tmp_path / "artifacts"
    assert (
        recsys(
            [
                "train-listener-ranker",
                "--data",
                str(warehouse.data_dir),
                "--test-days",
                "5",
                "--work",
                str(tmp_path / "work"),
                "--artifacts",
                str(out),
            ]
        )
        == 0
    )
    model = lightgbm.Booster(model_file=str(out / "rankers" / "listener_ranker.txt"))
    macro = (out / "macros" / "rankers" / "listener_ranker.sql").read_text()
    assert ranker.compile_sql(model, listeners.FEATURES) in macro
    assert (listeners.ARTIFACT.model_file.read_bytes(), listeners.ARTIFACT.macro_file.read_bytes()) == committed
    con = connect(tmp_path / "work" / "warehouse.duckdb")
    features, _ = stored_features(lambda sql: con.execute(sql).fetchnumpy())
    with_sql = np.array(
        [
            v
            for (v,) in con.execute(
                f"select {ranker.compile_sql(model, listeners.FEATURES)} from (select {listeners.feature_sql()}, "
                f"user_id, recommendation_rank from fct_user_recommendations) as rows "
                f"order by user_id, recommendation_rank"
            ).fetchall()
        ]
    )
    assert np.abs(with_sql - model.predict(features)).max() <= TOLERANCE
