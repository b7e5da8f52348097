"""The experiments' reports: one self-contained HTML page per experiment, from a built DuckDB
warehouse (models/experiments), written at the end of `make run`.

    tunesday report     (writes them into target/reports/experiments, beside the warehouse report)

Each page says what the experiment is (seeds experiments, experiment_variants), whether its
exposed listeners split as its weights say (fct_experiment_sample_ratios: a mismatch means the
results cannot be trusted, and says so first), its result on every metric as of the analysis end
(fct_experiment_results: each variant against the control, relative lift with its 95 % Welch
interval, with and without CUPED), and plots of each metric's lift and interval over the days
since the first exposure, the primary metric first (inline SVG: the page needs nothing else to
open). `index.html`
lists the experiments. Every file is written whole or not at all.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import duckdb

from tunesday.charts import band_chart
from tunesday.experiments import METRICS, read_experiments
from tunesday.files import write_whole

#: What each metric (tunesday.experiments.METRICS) counts, in words.
METRIC_WORDS = {
    "recommended_streams": "streams of tracks For You listed, per listener and day",
    "streams": "streams (plays of 30 s or more), per listener and day",
    "listening_minutes": "minutes listened, per listener and day",
    "new_artists_stuck": "artists discovered since exposure that stuck, per listener and day",
    "skip_rate": "skips per play",
}


def chi_square_p_value(statistic: float, degrees_of_freedom: int) -> float:
    """P(X > statistic) for X chi-square with `degrees_of_freedom`: the regularized upper incomplete
    gamma function Q(k/2, x/2), by its series below a + 1 and its continued fraction above."""
    a, x = degrees_of_freedom / 2, statistic / 2
    if x <= 0:
        return 1.0
    log_prefix = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1 / a
        for n in range(1, 1000):
            term *= x / (a + n)
            total += term
            if term < total * 1e-15:
                break
        return max(0.0, 1 - total * math.exp(log_prefix))
    b, c, d = x + 1 - a, 1e300, 1 / (x + 1 - a)
    h = d
    for n in range(1, 1000):
        an = -n * (n - a)
        b += 2
        d = an * d + b
        d = 1 / (d if abs(d) > 1e-300 else 1e-300)
        c = b + an / c
        c = c if abs(c) > 1e-300 else 1e-300
        h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return math.exp(log_prefix) * h


def _percent(value: float | None) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.1%}"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:,.3f}"


def experiment_page(con: duckdb.DuckDBPyConnection, experiment) -> str:
    """The HTML page of one experiment (tunesday.experiments.Experiment)."""
    eid = experiment.experiment_id
    ratios = con.execute(
        """
        select variant, listener_count, expected_listener_count, chi_square, degrees_of_freedom,
               has_sample_ratio_mismatch
        from fct_experiment_sample_ratios where experiment_id = ? order by variant
    """,
        [eid],
    ).fetchall()
    results = con.execute(
        """
        select metric, variant, listener_count, control_mean_value, mean_value, lift, lift_ci_low, lift_ci_high,
               cuped_lift, cuped_lift_ci_low, cuped_lift_ci_high, variance, cuped_variance, is_significant, as_of_date
        from fct_experiment_results
        where experiment_id = ? and not is_control
          and as_of_date = (select max(as_of_date) from fct_experiment_results where experiment_id = ?)
    """,
        [eid, eid],
    ).fetchall()
    series = con.execute(
        """
        select metric, variant, as_of_date, cuped_lift, cuped_lift_ci_low, cuped_lift_ci_high
        from fct_experiment_results
        where experiment_id = ? and not is_control and cuped_lift is not null
        order by metric, variant, as_of_date
    """,
        [eid],
    ).fetchall()
    esc = html.escape
    out = [
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Experiment {esc(eid)}</title>',
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}"
        "td:first-child,th:first-child{text-align:left}.bad{background:#fdd;padding:1em;border:2px solid #c00}"
        ".ok{color:#060}.sig{font-weight:bold}</style></head><body>",
        f"<h1>Experiment <code>{esc(eid)}</code></h1>",
        f"<p>{esc(experiment.description)}</p>",
        f"<p>Surface <b>{esc(experiment.surface)}</b>; from {experiment.start_date.isoformat()} "
        f"{'to ' + experiment.end_date.isoformat() if experiment.end_date else '(running)'}. Variants: "
        + ", ".join(
            f"<b>{esc(v.name)}</b> ({v.weight}, ranking {esc(v.ranking)}{', control' if v.is_control else ''})"
            for v in experiment.variants
        )
        + "</p>",
    ]
    if not ratios:
        out.append("<p>No listener has been exposed yet: nothing to analyse.</p></body></html>")
        return "".join(out)
    statistic, df, mismatch = float(ratios[0][3]), int(ratios[0][4]), ratios[0][5]
    p_value = chi_square_p_value(statistic, df)
    verdict = (
        (
            f'<div class="bad"><b>Sample ratio mismatch</b> (χ² = {statistic:.2f}, {df} df, p = {p_value:.2g} '
            f"&lt; 0.001): the listeners did not split as the weights say. The assignment or the exposure "
            f"logging is broken; do not read the results below until the cause is found.</div>"
        )
        if mismatch
        else (f'<p class="ok">Sample ratio check passed: χ² = {statistic:.2f}, {df} df, p = {p_value:.3f}.</p>')
    )
    out.append(
        "<h2>Who was exposed</h2>"
        + verdict
        + "<table><tr><th>variant</th><th>listeners</th><th>expected</th></tr>"
        + "".join(f"<tr><td>{esc(v)}</td><td>{n:,}</td><td>{e:,.1f}</td></tr>" for v, n, e, *_ in ratios)
        + "</table>"
    )
    order = [experiment.primary_metric, *experiment.secondary_metrics, *experiment.guardrail_metrics]
    order += [metric for metric in METRICS if metric not in order]
    role = {
        experiment.primary_metric: "primary",
        **{m: "secondary" for m in experiment.secondary_metrics},
        **{m: "guardrail" for m in experiment.guardrail_metrics},
    }
    as_of = results[0][14].isoformat() if results else "–"
    out.append(
        f"<h2>Results as of {as_of}</h2><table><tr><th>metric</th><th>variant</th><th>listeners</th>"
        "<th>control mean</th><th>variant mean</th><th>lift [95 % CI]</th><th>CUPED lift [95 % CI]</th>"
        "<th>variance kept by CUPED</th></tr>"
    )
    for metric in order:
        for row in sorted(r for r in results if r[0] == metric):
            _, variant, n, control_mean, mean, lift, low, high, cuped, cuped_low, cuped_high, var, cuped_var, sig, _ = (
                row
            )
            kept = f"{cuped_var / var:.0%}" if var else "–"
            cls = ' class="sig"' if sig else ""
            out.append(
                f"<tr><td>{esc(metric)} <small>({role.get(metric, 'other')}: {esc(METRIC_WORDS[metric])})</small></td>"
                f"<td>{esc(variant)}</td><td>{n:,}</td><td>{_number(control_mean)}</td><td>{_number(mean)}</td>"
                f"<td>{_percent(lift)} [{_percent(low)}, {_percent(high)}]</td>"
                f"<td{cls}>{_percent(cuped)} [{_percent(cuped_low)}, {_percent(cuped_high)}]</td><td>{kept}</td></tr>"
            )
    out.append(
        "</table><p>Bold: the CUPED interval excludes 0 (α = 0.05 for that metric alone; with several "
        "metrics and variants some will by chance). Decide on the primary metric; a guardrail that "
        "moves the wrong way blocks a launch.</p>"
    )
    out.append(
        "<h2>Lift over the days</h2><p>The CUPED lift as of each day since the first exposure "
        "(all data up to that day), and its 95 % interval: early days are noisy, and an interval that "
        "only just excludes 0 on one day may not on the next.</p>"
    )
    for metric in order:
        for variant in sorted({row[1] for row in series if row[0] == metric}):
            points = [tuple(row[2:]) for row in series if row[0] == metric and row[1] == variant]
            out.append(band_chart(points, f"{metric} ({role.get(metric, 'other')}): {variant} against the control"))
    if not series:
        out.append("<p>No lift to plot yet (the control's means are 0, or no day has a result).</p>")
    out.append("</body></html>")
    return "".join(out)


def write_reports(con: duckdb.DuckDBPyConnection, out: Path, experiments=None) -> list[Path]:
    """A page per experiment of the seeds that has started, and index.html; the paths written."""
    experiments = read_experiments() if experiments is None else experiments
    out.mkdir(parents=True, exist_ok=True)
    written, links = [], []
    for experiment in experiments.values():
        path = out / f"{experiment.experiment_id}.html"
        page = experiment_page(con, experiment).encode()
        write_whole(path, page)
        written.append(path)
        links.append(f'<li><a href="{html.escape(path.name)}">{html.escape(experiment.experiment_id)}</a></li>')
    index = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Experiments</title></head>'
        f"<body><h1>Experiments</h1><ul>{''.join(links)}</ul></body></html>"
    ).encode()
    write_whole(out / "index.html", index)
    return [*written, out / "index.html"]
