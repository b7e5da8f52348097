"""The project's playlist-continuation ranking (dbt model fct_playlist_continuations) on the
RecSys Challenge 2018 protocol, on the shared MPD playlists: it must beat the popularity and plain
co-occurrence baselines on R-precision and NDCG. Skips when ../shared/data is absent."""

import pytest

from conftest import SHARED_DATA
from tunesday.recsys import baselines, metrics
from tunesday.recsys.cli import main as recsys, read_training
from tunesday.recsys.split import read_challenge, read_ground_truth
from tunesday.recsys.submission import read_valid_submission

pytestmark = pytest.mark.skipif(not (SHARED_DATA / "mpd").is_dir(), reason=f"MPD slices not present in {SHARED_DATA}")


def test_the_sql_ranking_beats_both_baselines(tmp_path):
    assert recsys(["split", str(SHARED_DATA / "mpd"), "--out", str(tmp_path), "--test-playlists", "1000",
                   "--seed", "0"]) == 0
    ours = tmp_path / "tunesday.csv.gz"
    assert recsys(["continue", "--train", str(tmp_path / "train.json.gz"), "--challenge",
                   str(tmp_path / "challenge.json"), "--work", str(tmp_path / "warehouse"), "--out", str(ours)]) == 0
    challenge = read_challenge(tmp_path / "challenge.json")
    truth = read_ground_truth(tmp_path / "ground_truth.json.gz")
    seeds = {playlist.pid: playlist.track_uris for playlist in challenge}
    index = baselines.build_index(read_training(tmp_path / "train.json.gz"))
    scores = {"ours": metrics.evaluate(read_valid_submission(ours, challenge).recommendations, truth, seeds)["all"]}
    for name in ("popularity", "cooccurrence"):
        scores[name] = metrics.evaluate(baselines.BASELINES[name](index, challenge), truth, seeds)["all"]
    for metric in ("r_precision", "r_precision_track", "ndcg"):
        assert scores["ours"][metric] > scores["cooccurrence"][metric] > scores["popularity"][metric], (metric, scores)
