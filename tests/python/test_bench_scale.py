"""CI's smoke run of the scale benchmark (bench/scale.py) at its smallest scale: a full build
through `tunesday daily`, its figures, and the report with its plots."""

import datetime as dt
import json
import subprocess
import sys

from conftest import PROJECT_DIR

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_the_scale_benchmark_measures_a_full_build_and_writes_its_report(tmp_path):
    done = subprocess.run(
        [sys.executable, "bench/scale.py", "--scale", "S", "--only", "full", "--report", "--out", str(tmp_path)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "S.json").read_text())
    full = results["full"]
    assert results["events"] > 50_000 and results["events_scan_seconds"] > 0
    assert full["seconds"] > 0 and full["peak_rss_mib"] > 100
    assert set(full["stages"]) == {"lock", "build", "freshness", "export", "publish"}
    assert f"full build / one scan of the events: {full['seconds'] / results['events_scan_seconds']:.0f}" in done.stdout
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_DIR, capture_output=True, text=True
    ).stdout.strip()
    assert results["commit"].split()[0] == head  # the checkout measured ("… with changes" when dirty)
    report = (tmp_path / "report.md").read_text()
    assert "| S | 300 | 31 |" in report
    assert f"- S: at {results['commit']}." in report
    for plot in ("stages_by_events.png", "cost_in_scans.png"):
        assert f"]({plot})" in report
        assert (tmp_path / plot).read_bytes()[:8] == PNG_MAGIC


def bench_scale():
    """bench/scale.py as a module (bench/ is not a package)."""
    sys.path.insert(0, str(PROJECT_DIR / "bench"))
    try:
        import scale
    finally:
        sys.path.pop(0)
    return scale


def test_the_history_stage_names_what_grew_most():
    grew_most = bench_scale().grew_most
    early = [
        {"node_seconds": {"a": 1.0, "b": 2.0, "c": 5.0}},
        {"node_seconds": {"a": 3.0, "b": 2.0, "c": 5.0}},
        {"node_seconds": {"a": 2.0, "b": 2.0, "c": 5.0}},
    ]
    late = [
        {"node_seconds": {"a": 2.5, "b": 9.0, "c": 4.0, "new": 1.0}},
        {"node_seconds": {"a": 2.5, "b": 1.0, "c": 4.0, "new": 1.0}},
        {"node_seconds": {"a": 2.5, "b": 8.0, "c": 4.0, "new": 1.0}},
    ]
    # medians: a 2 -> 2.5, b 2 -> 8, c 5 -> 4, new 0 -> 1
    assert grew_most(early, late, count=3) == [["b", 2.0, 8.0], ["new", 0.0, 1.0], ["a", 2.0, 2.5]]


def test_the_history_stage_alternates_its_days_so_drift_falls_on_both():
    scale = bench_scale()
    history_order, history_state_days, paired_ratios = (
        scale.history_order,
        scale.history_state_days,
        scale.paired_ratios,
    )
    order = history_order(4)
    assert order == ["early", "late", "late", "early", "early", "late", "late", "early"]
    # a machine that slows down by a second a run: both days' runs see the same drift on average
    position = {label: [i for i, name in enumerate(order) if name == label] for label in ("early", "late")}
    assert sum(position["early"]) == sum(position["late"])
    assert history_order(3).count("early") == history_order(3).count("late") == 3
    early = [{"stages": {"build": seconds}} for seconds in (10.0, 20.0)]
    late = [{"stages": {"build": seconds}} for seconds in (11.0, 30.0)]
    assert paired_ratios(early, late) == [1.1, 1.5]
    # the state of a run of Oct 31: the full build of the day before, or one settled by daily runs
    assert history_state_days(dt.date(2026, 10, 31), 0) == [dt.date(2026, 10, 30)]
    assert history_state_days(dt.date(2026, 10, 31), 3) == [
        dt.date(2026, 10, 27),
        dt.date(2026, 10, 28),
        dt.date(2026, 10, 29),
        dt.date(2026, 10, 30),
    ]
