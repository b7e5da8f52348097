"""The project's playlist-continuation ranking (dbt model fct_playlist_continuations: candidate
generators, then the learned reranker compiled to SQL) on the RecSys Challenge 2018 protocol, on
the shared MPD playlists: it must beat the popularity and plain co-occurrence baselines, and every
one of its own generators alone, on R-precision and NDCG. Skips when ../shared/data is absent."""

import pytest
from conftest import SHARED_DATA

from tunesday.recsys import baselines, metrics
from tunesday.recsys.cli import cut, read_training
from tunesday.recsys.cli import main as recsys
from tunesday.recsys.split import read_challenge, read_ground_truth
from tunesday.recsys.submission import read_valid_submission
from tunesday.recsys.warehouse import GENERATORS, generator_lists, project_var

pytestmark = pytest.mark.skipif(not (SHARED_DATA / "mpd").is_dir(), reason=f"MPD slices not present in {SHARED_DATA}")


def test_the_sql_ranking_beats_both_baselines(tmp_path):
    # Two of the five slices (2,000 playlists, 500 of them challenges): the margins below hold with
    # room to spare (reranker R-precision 0.128 against the best generator's 0.117) at half the
    # build time of the whole set; make eval-continuation measures all of it.
    slices = [str(SHARED_DATA / "mpd" / f"mpd.slice.{start}-{start + 999}.json.gz") for start in (0, 1000)]
    assert recsys(["split", *slices, "--out", str(tmp_path), "--test-playlists", "500", "--seed", "0"]) == 0
    ours = tmp_path / "tunesday.csv.gz"
    work = tmp_path / "warehouse"
    assert (
        recsys(
            [
                "continue",
                "--train",
                str(tmp_path / "train.json.gz"),
                "--challenge",
                str(tmp_path / "challenge.json"),
                "--work",
                str(work),
                "--out",
                str(ours),
            ]
        )
        == 0
    )
    challenge = read_challenge(tmp_path / "challenge.json")
    truth = read_ground_truth(tmp_path / "ground_truth.json.gz")
    seeds = {playlist.pid: playlist.track_uris for playlist in challenge}
    index = baselines.build_index(read_training(tmp_path / "train.json.gz"))
    scores = {"ours": metrics.evaluate(read_valid_submission(ours, challenge).recommendations, truth, seeds)["all"]}
    for name in ("popularity", "cooccurrence"):
        scores[name] = metrics.evaluate(baselines.BASELINES[name](index, challenge), truth, seeds)["all"]
    for metric in ("r_precision", "r_precision_track", "ndcg"):
        assert scores["ours"][metric] > scores["cooccurrence"][metric] > scores["popularity"][metric], (metric, scores)
    # The reranker is worth having: better than each generator's own order, the fitted ALS and
    # EASE included (their lists come from the same warehouse), and than the union ordered by
    # votes; every list cut to 500 like a submission.
    alone = generator_lists(work / "warehouse.duckdb", int(project_var("continuation_generator_depth")))
    assert set(alone) == {*GENERATORS, "union"}
    for name, made in alone.items():
        generator = metrics.evaluate(cut(made), truth, seeds)["all"]
        assert generator["r_precision_track"] > 0.02, name  # each generator did propose tracks
        for metric in ("r_precision_track", "ndcg"):
            assert scores["ours"][metric] > generator[metric], (name, metric, scores["ours"], generator)


def test_train_ranker_trains_on_pseudo_queries_and_writes_where_told(tmp_path):
    """`tunesday-recsys train-ranker` end to end at a tiny scale (one cut of 40 pseudo-queries of
    the last slice's training playlists): a model whose compiled trees are in the macro it wrote,
    the committed artifacts untouched."""
    lightgbm = pytest.importorskip("lightgbm", reason="the recsys extra is not installed")
    from tunesday.recsys import ranker

    assert (
        recsys(
            [
                "split",
                str(SHARED_DATA / "mpd" / "mpd.slice.4000-4291.json.gz"),
                "--out",
                str(tmp_path),
                "--test-playlists",
                "50",
                "--seed",
                "0",
            ]
        )
        == 0
    )
    committed = ranker.MODEL_FILE.read_bytes(), ranker.MACRO_FILE.read_bytes()
    out = tmp_path / "artifacts"
    assert (
        recsys(
            [
                "train-ranker",
                "--train",
                str(tmp_path / "train.json.gz"),
                "--cuts",
                "11",
                "--per-cut",
                "40",
                "--work",
                str(tmp_path / "work"),
                "--artifacts",
                str(out),
            ]
        )
        == 0
    )
    model = lightgbm.Booster(model_file=str(out / "rankers" / "continuation_ranker.txt"))
    assert ranker.compile_sql(model) in (out / "macros" / "rankers" / "continuation_ranker.sql").read_text()
    assert (ranker.MODEL_FILE.read_bytes(), ranker.MACRO_FILE.read_bytes()) == committed
