"""The experiment analysis in dbt (models/experiments) proves itself on simulated experiments:
- a treatment the generator makes truly change behaviour by a known amount is found, its interval
  covering the true lift (and CUPED narrows the interval);
- A/A splits of real listeners' metrics flag about 5 % at α = 0.05, and intervals around a known
  injected lift cover it about 95 % of the time (the compiled fct_experiment_results run on many
  splits at once);
- a broken assignment (treatment exposures lost) fails the build on the sample ratio check.
"""

import re

import duckdb
import pytest
from conftest import RUN_DATE, generate, run_dbt

from tunesday import dbt
from tunesday.experiment_report import chi_square_p_value, experiment_page, write_reports
from tunesday.experiments import METRICS, bucket, read_experiments
from tunesday.recsys.warehouse import GENERATORS
from tunesday.warehouse import connect as connect_warehouse

# 600 listeners, 28 days: exposures from day 14 (the generator serves from halfway through the
# window), so each listener has up to 14 days of pre-period for CUPED.
SIMULATION = (
    "--users",
    "600",
    "--tracks",
    "3000",
    "--days",
    "28",
    "--seed",
    "11",
    "--bad-share",
    "0.01",
    "--end-date",
    "2026-11-01",
)
EFFECT = -0.2
LATEST_RESULTS = """
    select metric, variant, listener_count, variance, cuped_variance, lift, lift_ci_low, lift_ci_high,
           cuped_lift, cuped_lift_ci_low, cuped_lift_ci_high, is_significant
    from fct_experiment_results
    where as_of_date = (select max(as_of_date) from fct_experiment_results) and not is_control
"""


def simulated_build(tmp_path, *generator_args: str, select: tuple[str, ...] = ()):
    generate(tmp_path / "data", *SIMULATION, *generator_args)
    env = dbt.duckdb_env(tmp_path, tmp_path / "data" / "raw", tmp_path / "warehouse.duckdb")
    return run_dbt(["build", "--vars", f"{{run_date: '{RUN_DATE}'}}", *select], env), tmp_path / "warehouse.duckdb"


def test_a_known_effect_is_found_within_its_interval(tmp_path):
    """The treatment's listeners play a fifth less after their first exposure (-0.2): streams and
    minutes per day show a lift whose 95 % intervals cover -0.2 and exclude 0, with and without
    CUPED, CUPED's narrower; the sample ratio check passes."""
    build, path = simulated_build(tmp_path, "--experiment-effect", str(EFFECT))
    assert build.success, build.describe(4000)
    with connect_warehouse(str(path)) as con:
        results = {row[0]: row for row in con.execute(LATEST_RESULTS).fetchall()}
        ratios = con.execute(
            "select variant, listener_count, chi_square, has_sample_ratio_mismatch from fct_experiment_sample_ratios"
        ).fetchall()
    for metric in ("streams", "listening_minutes"):
        print(metric, results[metric])
        _, variant, count, variance, cuped_variance, lift, low, high, cuped, cuped_low, cuped_high, significant = (
            results[metric]
        )
        assert variant == "blend" and count > 250, results[metric]
        assert low < EFFECT < high < 0 and cuped_low < EFFECT < cuped_high < 0 and significant, results[metric]
        assert cuped_variance < 0.6 * variance and cuped_high - cuped_low < high - low, results[metric]
    assert not any(row[3] for row in ratios), ratios
    # The report: one self-contained page, the check passed, a plot of each metric with a lift
    # (not recommended_streams here: the simulated listeners do not follow recommendations, and
    # the control's mean is 0).
    with connect_warehouse(str(path)) as con:
        written = write_reports(con, tmp_path / "reports")
        [(plotted,)] = con.execute(
            "select count(distinct metric) from fct_experiment_results where cuped_lift is not null"
        ).fetchall()
    page = (tmp_path / "reports" / "for_you_ranker_vs_blend.html").read_text()
    assert written[-1].name == "index.html" and "Sample ratio check passed" in page
    assert page.count("<svg") == plotted >= 4, plotted
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    streams_row = page[page.index("<td>streams ") :].split("</tr>")[0]
    assert f"{results['streams'][8]:+.1%}" in streams_row, streams_row


def test_a_broken_assignment_fails_the_build_on_the_sample_ratio_check(tmp_path):
    """The exposures of 30 % of the treatment's listeners are lost: about 210 treatment listeners
    against 300 in the control, chi-square about 16 > 10.83 (p < 0.001), and the build fails on
    the data test no_sample_ratio_mismatch."""
    build, path = simulated_build(
        tmp_path,
        "--lose-treatment-exposures",
        "0.3",
        select=("--select", "+fct_experiment_sample_ratios+", "--indirect-selection", "cautious"),
    )
    assert not build.success
    failed = [node.name for node in build.failed()]
    assert failed == ["no_sample_ratio_mismatch"], build.describe(3000)
    with connect_warehouse(str(path)) as con:
        [(chi_square, mismatch)] = con.execute(
            "select distinct chi_square, has_sample_ratio_mismatch from fct_experiment_sample_ratios"
        ).fetchall()
    print(f"lost 30 % of treatment exposures: chi-square {chi_square:.2f}")
    assert chi_square > 10.83 and mismatch


def _compiled_results_sql(warehouse) -> str:
    """fct_experiment_results as dbt compiled it for the test warehouse, reading the tables
    `listener_metrics` and `variants` instead of its refs."""
    sql = (
        warehouse.env_target_path / "compiled" / "tunesday" / "models" / "experiments" / "fct_experiment_results.sql"
    ).read_text()
    sql = re.sub(r'"[^"]+"\."[^"]+"\."int_experiment_listener_metrics"', "listener_metrics", sql)
    return re.sub(r'"[^"]+"\."[^"]+"\."experiment_variants"', "variants", sql)


def _split(salt: str, user_id: str) -> str:
    """The A/A splits' assignment, as the fixture computes it in SQL: the parity of the first 8 hex
    digits of md5(salt:user), that of the experiment bucket (tunesday.experiments, mod 10,000)."""
    return "b" if bucket(salt, user_id) % 2 else "a"


@pytest.fixture(scope="module")
def splits(warehouse):
    """The test warehouse's listeners' final metrics (an experiment without an effect), split
    500 times at random into an A/A experiment each (control a, treatment b): one table of
    500 experiments, analysed by the compiled model in one query."""
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        metrics = con.sql("""
            select user_id, metric, metric_value, covariate from int_experiment_listener_metrics
            where metric in ('streams', 'listening_minutes')
              and as_of_date = (select max(as_of_date) from int_experiment_listener_metrics)
        """).to_arrow_table()
    con = duckdb.connect()
    con.register("final_metrics", metrics)
    # Listener u is in split k's treatment (b) when the first 8 hex digits of md5('aa-k:u') are odd.
    con.execute(f"""
        create table listener_metrics as
        select 'aa_' || k as experiment_id, user_id,
               if(cast('0x' || substr(md5('aa-' || k || ':' || user_id), 1, 8) as bigint) % 2 = 1, 'b', 'a') as variant,
               date '{RUN_DATE}' as as_of_date, metric, metric_value, covariate
        from final_metrics, range(500) as ks(k)
    """)
    users = [row[0] for row in con.execute("select distinct user_id from final_metrics").fetchall()]
    assert (
        _split("aa-7", users[0])
        == con.execute(
            "select variant from listener_metrics where experiment_id = 'aa_7' and user_id = ? limit 1", [users[0]]
        ).fetchone()[0]
    )
    con.execute(
        "create table variants as select 'aa_' || k as experiment_id, variant, variant = 'a' as is_control "
        "from range(500) as ks(k), (values ('a'), ('b')) as vs(variant)"
    )
    return {"con": con, "sql": _compiled_results_sql(warehouse), "listeners": len(users)}


def test_an_a_a_experiment_flags_about_five_percent(splits):
    """500 A/A splits of ~300 listeners, two metrics: the 95 % intervals exclude 0 in about 5 % of
    them (3 standard errors of 1,000 draws either side, though the two metrics are correlated)."""
    con = splits["con"]
    found = con.execute(f"""
        select count(*), avg(case when is_significant then 1.0 else 0 end),
               avg(case when lift_ci_low > 0 or lift_ci_high < 0 then 1.0 else 0 end)
        from ({splits["sql"]}) where not is_control
    """).fetchone()
    count, cuped_rate, raw_rate = found
    print(
        f"A/A: {count} tests over {splits['listeners']} listeners; flagged {cuped_rate:.3f} with CUPED, "
        f"{raw_rate:.3f} without"
    )
    assert count == 1000
    assert 0.025 <= cuped_rate <= 0.08 and 0.025 <= raw_rate <= 0.08


def test_intervals_cover_a_known_lift_about_95_percent_of_the_time(splits):
    """The same splits with the treatment's values (and nothing of the pre-period) raised by 10 %:
    the intervals cover +0.10 in about 95 % of them."""
    con = splits["con"]
    con.execute(
        "create or replace table shifted as select * exclude (metric_value), "
        "metric_value * case when variant = 'b' then 1.1 else 1 end as metric_value from listener_metrics"
    )
    sql = re.sub(r"\blistener_metrics\b", "shifted", splits["sql"])
    count, cuped_cover, raw_cover = con.execute(f"""
        select count(*), avg(case when cuped_lift_ci_low < 0.1 and 0.1 < cuped_lift_ci_high then 1.0 else 0 end),
               avg(case when lift_ci_low < 0.1 and 0.1 < lift_ci_high then 1.0 else 0 end)
        from ({sql}) where not is_control
    """).fetchone()
    print(f"known lift 0.10: covered {cuped_cover:.3f} with CUPED, {raw_cover:.3f} without, of {count}")
    assert 0.92 <= cuped_cover <= 0.975 and 0.92 <= raw_cover <= 0.975


def test_the_t_quantile_is_within_0_15_percent_from_five_degrees_of_freedom(warehouse):
    """...and the lists that live both in a macro and in Python agree: the experiment metrics
    (macro experiment_metrics, tunesday.experiments.METRICS) and the continuation generators
    (macro continuation_generators, tunesday.recsys.warehouse.GENERATORS)."""
    scipy_stats = pytest.importorskip("scipy.stats")
    rendered = warehouse.dbt(
        "compile",
        "--inline",
        "select '{{ experiment_metrics() | join(',') }}' as metrics, "
        "'{{ continuation_generators() | join(',') }}' as generators, "
        "{% for df in [5, 8, 13, 30, 100, 1000] %}{{ t_quantile_975(df) }} as t{{ df }}"
        "{{ ',' if not loop.last }}{% endfor %}",
    )
    assert rendered.success, rendered.describe(2000)
    sql = rendered.output[rendered.output.index("Compiled inline node is:") + len("Compiled inline node is:") :]
    [(metrics, generators, *values)] = duckdb.sql(sql).fetchall()
    assert tuple(metrics.split(",")) == METRICS
    assert tuple(generators.split(",")) == GENERATORS
    for df, value in zip([5, 8, 13, 30, 100, 1000], values):
        assert value == pytest.approx(scipy_stats.t.ppf(0.975, df), rel=1.5e-3), df


def test_a_report_with_a_sample_ratio_mismatch_says_so_before_the_results():
    con = duckdb.connect()
    con.execute("""
        create table fct_experiment_sample_ratios (experiment_id varchar, variant varchar, listener_count bigint,
            expected_listener_count double, chi_square double, degrees_of_freedom bigint,
            has_sample_ratio_mismatch boolean);
        insert into fct_experiment_sample_ratios values
            ('for_you_ranker_vs_blend', 'blend', 210, 255, 19.96, 1, true),
            ('for_you_ranker_vs_blend', 'control', 300, 255, 19.96, 1, true);
        create table fct_experiment_results (experiment_id varchar, metric varchar, variant varchar,
            is_control boolean, listener_count bigint, control_mean_value double, mean_value double, lift double,
            lift_ci_low double, lift_ci_high double, cuped_lift double, cuped_lift_ci_low double,
            cuped_lift_ci_high double, variance double, cuped_variance double, is_significant boolean,
            as_of_date date);
        insert into fct_experiment_results values ('for_you_ranker_vs_blend', 'streams', 'blend', false, 210, 9, 9.9,
            0.1, 0, 0.2, 0.1, 0.05, 0.15, 4, 2, true, date '2026-10-31');
    """)
    page = experiment_page(con, read_experiments()["for_you_ranker_vs_blend"])
    assert page.index("Sample ratio mismatch") < page.index("Results as of 2026-10-31")
    assert "p = 7.9e-06" in page  # scipy.stats.chi2.sf(19.96, 1)


def test_the_chi_square_p_value_is_scipys():
    scipy_stats = pytest.importorskip("scipy.stats")
    for statistic, df in [
        (0.14, 1),
        (3.84, 1),
        (10.83, 1),
        (19.96, 1),
        (5.99, 2),
        (13.8, 2),
        (7.0, 5),
        (40.0, 10),
        (0.5, 10),
        (200.0, 3),
    ]:
        assert chi_square_p_value(statistic, df) == pytest.approx(
            scipy_stats.chi2.sf(statistic, df), rel=1e-9, abs=1e-300
        )
