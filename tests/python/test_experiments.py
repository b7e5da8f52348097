"""Experiment assignment (tunesday/experiments.py, macro experiment_bucket, model
int_experiment_assignments): the bucket is md5-based and the same in Python and in the warehouse
(the vectors of seeds/macro_tests/experiment_bucket_expected.csv, checked on each engine by the
data test experiment_bucket_matches_python); variants get their weights' share; two experiments'
assignments are independent; a wrong experiments file is refused with the row named."""

import csv
import hashlib
import shutil

import pytest
from conftest import PROJECT_DIR

from tunesday.experiments import BUCKETS, SEEDS, bucket, read_experiments
from tunesday.warehouse import connect


def test_the_bucket_is_the_first_eight_md5_hex_digits_mod_10000():
    digest = hashlib.md5(b"salt:user_000001").hexdigest()
    assert bucket("salt", "user_000001") == int(digest[:8], 16) % BUCKETS
    high = next(u for u in (f"user_{i}" for i in range(100)) if hashlib.md5(f"s:{u}".encode()).digest()[0] >= 0x80)
    assert bucket("s", high) == int(hashlib.md5(f"s:{high}".encode()).hexdigest()[:8], 16) % BUCKETS


def test_the_shared_vectors_are_pythons():
    with open(PROJECT_DIR / "seeds" / "macro_tests" / "experiment_bucket_expected.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) >= 50
    assert (
        sum(int(hashlib.md5(f"{r['salt']}:{r['user_id']}".encode()).hexdigest()[:8], 16) >= 2**31 for r in rows) >= 10
    )
    for row in rows:
        assert bucket(row["salt"], row["user_id"]) == int(row["expected_bucket"]), row


def test_variants_own_their_weights_share_of_the_buckets(tmp_path):
    folder = tmp_path / "experiments"
    shutil.copytree(SEEDS, folder)
    (folder / "experiments.csv").write_text(
        "experiment_id,salt,surface,start_date,end_date,primary_metric,secondary_metrics,guardrail_metrics,description\n"
        "thirds,thirds-1,for_you,2026-01-01,,recommended_streams,,,three variants 1:1:2\n"
    )
    (folder / "experiment_variants.csv").write_text(
        "experiment_id,variant,weight,is_control,ranking\n"
        "thirds,c,2,false,blend\nthirds,a,1,true,ranker\nthirds,b,1,false,blend\n"
    )
    experiment = read_experiments(folder)["thirds"]
    ranges = [(variant.name, low, high) for variant, low, high in experiment.ranges()]
    assert ranges == [("a", 0, 2500), ("b", 2500, 5000), ("c", 5000, 10000)]
    counts = {"a": 0, "b": 0, "c": 0}
    for i in range(40_000):
        counts[experiment.variant_of(f"user_{i:06d}").name] += 1
    # Binomial: ±5 standard deviations of the expected 10,000 / 10,000 / 20,000.
    assert abs(counts["a"] - 10_000) < 5 * (40_000 * 0.25 * 0.75) ** 0.5, counts
    assert abs(counts["c"] - 20_000) < 5 * (40_000 * 0.5 * 0.5) ** 0.5, counts


def test_two_experiments_assign_independently():
    stats = pytest.importorskip("scipy.stats", reason="the recsys extra brings scipy")
    ids = [f"user_{i:06d}" for i in range(50_000)]

    def table(salt_a: str, salt_b: str) -> list[list[int]]:
        cells = [[0] * 4 for _ in range(4)]  # quarters of the buckets in each experiment
        for user in ids:
            cells[bucket(salt_a, user) * 4 // BUCKETS][bucket(salt_b, user) * 4 // BUCKETS] += 1
        return cells

    independent = stats.chi2_contingency(table("exp-a", "exp-b"))
    assert independent.pvalue > 0.001, independent
    # The check can fail: the same salt twice is the same assignment.
    assert stats.chi2_contingency(table("exp-a", "exp-a")).pvalue < 1e-100


@pytest.mark.parametrize(
    "column, value, message",
    [
        ("weight", "0", "weight must be a positive integer"),
        ("is_control", "yes", "is_control must be true or false"),
        ("ranking", "random", "ranking must be one of"),
    ],
)
def test_a_wrong_variant_row_is_named(tmp_path, column, value, message):
    folder = tmp_path / "experiments"
    shutil.copytree(SEEDS, folder)
    with open(folder / "experiment_variants.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    rows[0][column] = value
    with open(folder / "experiment_variants.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, rows[0].keys())
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(ValueError, match=f"experiment_variants.csv line 2: {message}"):
        read_experiments(folder)


def test_two_controls_or_a_shared_salt_are_refused(tmp_path):
    folder = tmp_path / "experiments"
    shutil.copytree(SEEDS, folder)
    variants = (folder / "experiment_variants.csv").read_text()
    (folder / "experiment_variants.csv").write_text(variants.replace(",false,", ",true,"))
    with pytest.raises(ValueError, match="needs exactly one control variant"):
        read_experiments(folder)
    (folder / "experiment_variants.csv").write_text(
        variants
        + variants.splitlines()[1].replace("for_you_ranker_vs_blend", "copy")
        + "\n"
        + variants.splitlines()[2].replace("for_you_ranker_vs_blend", "copy")
        + "\n"
    )
    experiments = (folder / "experiments.csv").read_text()
    (folder / "experiments.csv").write_text(
        experiments + experiments.splitlines()[1].replace("for_you_ranker_vs_blend,", "copy,", 1) + "\n"
    )
    with pytest.raises(ValueError, match="two experiments share a salt"):
        read_experiments(folder)


def test_the_warehouse_assigns_every_listener_as_python_does(warehouse):
    experiments = read_experiments()
    with connect(warehouse.duckdb_path) as con:
        rows = con.execute(
            "select experiment_id, user_id, bucket, variant, is_control, ranking from int_experiment_assignments"
        ).fetchall()
        listeners = con.execute("select count(*) from stg_raw__users").fetchone()[0]
    assert len(rows) == listeners * len(experiments) > 0
    for experiment_id, user_id, assigned_bucket, variant, is_control, ranking in rows:
        experiment = experiments[experiment_id]
        expected = experiment.variant_of(user_id)
        assert (assigned_bucket, variant, is_control, ranking) == (
            bucket(experiment.salt, user_id),
            expected.name,
            expected.is_control,
            expected.ranking,
        )
    assert len({row[3] for row in rows}) == 2  # both variants have listeners


def test_for_you_ranks_each_listener_by_their_variant(warehouse):
    """In the running For You experiment, a listener's For You follows their variant's ranking
    (the blend or the reranker); Discover Weekly's score stays the default ranking for everyone."""
    experiment = read_experiments()["for_you_ranker_vs_blend"]
    with connect(warehouse.duckdb_path) as con:
        rows = con.execute("""
            select user_id, experiment_id, variant, for_you_score, score, ranker_score, blend_score,
                   recommendation_rank, is_new_artist
            from fct_user_recommendations order by user_id, recommendation_rank
        """).fetchall()
        served = dict(
            ((user, position), score)
            for user, position, score in con.execute(
                "select user_id, surface_position, score from serving_recommendations where surface = 'for_you'"
            ).fetchall()
        )
    seen = {"blend": 0, "control": 0}
    by_user: dict[str, list] = {}
    for row in rows:
        by_user.setdefault(row[0], []).append(row)
    for user, mine in by_user.items():
        variant = experiment.variant_of(user)
        assert {(row[1], row[2]) for row in mine} == {(experiment.experiment_id, variant.name)}, user
        chosen = 6 if variant.ranking == "blend" else 5
        assert all(row[3] == row[chosen] and row[4] == row[5] for row in mine), user
        # Within each kind (new / known artists) the list descends by the variant's score.
        for kind in (True, False):
            scores = [row[3] for row in mine if row[8] is kind]
            assert scores == sorted(scores, reverse=True), (user, kind)
        for row in mine:
            if (user, row[7]) in served:
                assert served[(user, row[7])] == pytest.approx(row[3], rel=1e-12)
        seen[variant.name] += 1
    assert min(seen.values()) > 50, seen
    # The two variants' lists differ for the blend's listeners: the experiment changes something.
    blend_users = [user for user in by_user if experiment.variant_of(user).name == "blend"]
    assert any([row[3] for row in by_user[user]] != [row[5] for row in by_user[user]] for user in blend_users)
