"""The playlist-continuation peers (tunesday/recsys/peers.py) and the paired bootstrap that
compares a ranking with the best of them (tunesday/recsys/metrics.py).

EASE's dual form against its primal form on a small matrix; tuning on a validation split cut
from the training playlists only; both peers well above popularity on playlists with structure;
the bootstrap on cases whose answer is known; `tunesday-recsys score --peers` end to end.
"""

import numpy as np
import pytest
from test_recsys import generated_playlists

from tunesday.mpd import Playlist, write_slice
from tunesday.recsys import baselines, metrics, peers
from tunesday.recsys.cli import main
from tunesday.recsys.split import GroundTruth, make_split


def challenge_of(train_and_test: list[Playlist], test_playlists: int = 40, seed: int = 1):
    split = make_split(train_and_test, test_playlists, seed)
    challenge = [Playlist(c.playlist.pid, c.playlist.name, c.playlist.tracks[: c.num_samples]) for c in split.cases]
    truth = GroundTruth(
        {c.playlist.pid: c.holdouts for c in split.cases}, {c.playlist.pid: c.num_samples for c in split.cases}, {}
    )
    return split.train, challenge, truth


# --- EASE ---------------------------------------------------------------------------------------


def test_ease_in_its_dual_form_scores_as_the_primal_form():
    """Primal (Steck 2019): P = (XᵀX + λI)⁻¹, B = I − P · diag(1 / diag P), so B_ij = −P_ij / P_jj
    and B_jj = 0. The dual form never builds a track × track matrix; it must give the same scores."""
    train, challenge, _ = challenge_of(generated_playlists(120, 150, seed=3), 20)
    matrix = peers.Matrix.build(train, challenge)
    x = matrix.rows
    queries = x[list(matrix.query_rows.values())]
    for l2 in (5.0, 200.0):
        dual = peers.EaseDual(x, l2).scores(queries)
        dense = x.toarray().astype(np.float64)
        inverse = np.linalg.inv(dense.T @ dense + l2 * np.eye(dense.shape[1]))
        b = -inverse / np.diag(inverse)
        np.fill_diagonal(b, 0.0)
        primal = queries.toarray() @ b
        assert dual.shape == primal.shape == (20, x.shape[1])
        np.testing.assert_allclose(dual, primal, rtol=1e-7, atol=1e-9)


# --- tuning and quality -------------------------------------------------------------------------


def test_tuning_sees_only_a_validation_split_of_the_training_playlists():
    train, challenge, _ = challenge_of(generated_playlists(300, 600, seed=4), 40)
    validation = peers.Validation.cut(train, seed=0, playlists=40)
    train_pids = {p.pid for p in train}
    query_pids = {q.pid for q in validation.queries}
    assert query_pids <= train_pids and not query_pids & {p.pid for p in validation.train}
    assert not query_pids & {p.pid for p in challenge}
    assert len(validation.queries) == 40 and len(validation.train) == len(train) - 40
    # the chosen point is the best of the trials, each scored as the validation scores it
    grid = [{"l2": 1.0}, {"l2": 50.0}, {"l2": 5000.0}]
    tuned = peers.tune("ease", validation, grid)
    assert [params for params, _ in tuned.trials] == grid
    assert tuned.params == max(tuned.trials, key=lambda trial: trial[1])[0]
    for params, score in tuned.trials:
        assert score == validation.score(peers.ease(validation.train, validation.queries, **params))


def test_both_peers_far_above_popularity_on_playlists_with_structure():
    """Generated playlists keep to one of six blocks of the catalogue: a peer wired to the wrong
    rows or columns would rank no better than popularity."""
    train, challenge, truth = challenge_of(generated_playlists(300, 600, seed=5), 40)
    seeds = {p.pid: p.track_uris for p in challenge}
    popular = metrics.evaluate(baselines.popularity(baselines.build_index(train), challenge), truth, seeds)["all"]
    made = {
        "ease": peers.ease(train, challenge, l2=50.0),
        "als": peers.als(train, challenge, factors=16, regularization=0.1, alpha=10.0, bm25=False, iterations=10),
    }
    for name, recommendations in made.items():
        assert set(recommendations) == set(seeds)
        for pid, tracks in recommendations.items():
            assert len(tracks) == 500 == len(set(tracks)) and not set(tracks) & set(seeds[pid]), name
        scored = metrics.evaluate(recommendations, truth, seeds)["all"]
        assert scored["ndcg"] > 1.3 * popular["ndcg"], (name, scored, popular)
        assert scored["r_precision_track"] > 1.3 * popular["r_precision_track"], (name, scored, popular)


# --- the paired bootstrap -----------------------------------------------------------------------


def test_paired_bootstrap_on_cases_with_a_known_answer():
    rng = np.random.default_rng(1)
    peer = rng.random(300)
    same = metrics.paired_bootstrap(peer, peer)
    assert same.mean_difference == 0 and same.difference_ci == (0.0, 0.0) and same.relative_ci == (0.0, 0.0)
    # a constant shift: every resample's difference is the shift (paired: the playlists' own spread cancels)
    shifted = metrics.paired_bootstrap(peer + 0.1, peer)
    assert shifted.difference_ci == pytest.approx((0.1, 0.1)) and shifted.mean_difference == pytest.approx(0.1)
    assert shifted.relative_gain == pytest.approx(0.1 / peer.mean())
    # two playlists, ours [1, 0] against [0, 0]: a resample's mean difference is 0, 0.5 or 1 with
    # chances 1/4, 1/2, 1/4, so the 95 % interval spans 0 to 1
    tiny = metrics.paired_bootstrap([1.0, 0.0], [0.0, 0.0], resamples=4000)
    assert tiny.difference_ci == (0.0, 1.0) and tiny.mean_difference == 0.5
    # noise around a real gain: the interval holds the mean and is the same for the same seed
    noisy = peer + 0.02 + rng.normal(0, 0.05, 300)
    first, again = metrics.paired_bootstrap(noisy, peer), metrics.paired_bootstrap(noisy, peer)
    assert first == again and first.difference_ci[0] < first.mean_difference < first.difference_ci[1]
    assert 0 < first.difference_ci[0]
    with pytest.raises(ValueError, match="same, non-empty"):
        metrics.paired_bootstrap([1.0], [1.0, 2.0])


# --- the command line ---------------------------------------------------------------------------


def test_cli_score_fits_the_tuned_peers_and_compares_with_the_best(tmp_path, capsys, monkeypatch):
    write_slice(tmp_path / "mpd.slice.0-399.json.gz", generated_playlists(400, 900), {"slice": "0-399"})
    out = tmp_path / "recsys"
    assert main(["split", str(tmp_path), "--out", str(out), "--test-playlists", "40", "--seed", "2"]) == 0
    files = ["--challenge", str(out / "challenge.json"), "--train", str(out / "train.json.gz")]
    assert main(["baseline", "cooccurrence", *files, "--out", str(out / "cooc.csv.gz")]) == 0
    capsys.readouterr()
    # small grids: the test is about the wiring, the full grids run in `make eval-continuation`
    monkeypatch.setitem(peers.GRIDS, "ease", ({"l2": 10.0}, {"l2": 100.0}))
    monkeypatch.setitem(
        peers.GRIDS, "als", ({"factors": 16, "regularization": 0.1, "alpha": 10.0, "bm25": False, "iterations": 8},)
    )
    monkeypatch.setattr(peers, "VALIDATION_PLAYLISTS", 40)
    assert (
        main(
            [
                "score",
                str(out / "cooc.csv.gz"),
                *files,
                "--ground-truth",
                str(out / "ground_truth.json.gz"),
                "--peers",
                "ease,als",
                "--resamples",
                "500",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "tuned ease: l2=" in captured.err and "tuned als: factors=16" in captured.err
    tables = captured.out.split("\n\n")
    scores = [line.split(" | ") for line in tables[1].splitlines() if line.startswith("| ") and "ranking" not in line]
    compared = [line.split(" | ") for line in tables[2].splitlines() if line.startswith("| ") and "ranking" not in line]
    assert {row[0] for row in scores} >= {"| ease (this run, tuned)", "| als (this run, tuned)", "| cooc"}
    # one comparison per category and metric, of the submission only, against the better peer there
    assert [(row[0], row[1], row[2]) for row in compared] == [
        ("| cooc", category, metric) for category in ("5", "25", "all") for metric in ("r_precision_track", "ndcg")
    ]
    column = {"r_precision_track": 4, "ndcg": 5}
    for row in compared:
        peer_means = {
            s[0].removeprefix("| "): float(s[column[row[2]]]) for s in scores if s[1] == row[1] and "tuned" in s[0]
        }
        assert row[4] == max(peer_means, key=peer_means.get) and float(row[5]) == pytest.approx(
            peer_means[row[4]], abs=1e-4
        )
    # an unknown peer is a clear error
    assert (
        main(
            [
                "score",
                str(out / "cooc.csv.gz"),
                *files,
                "--ground-truth",
                str(out / "ground_truth.json.gz"),
                "--peers",
                "svd",
            ]
        )
        == 1
    )
    assert "unknown peer 'svd'" in capsys.readouterr().err
