"""`tunesday report`: the analysts' HTML report and a listener's page, from the test warehouse,
through the command as a user runs it. That the file opens offline in a real browser is
tests/python/test_browser.py's; the quality-over-days chart with days in it, test_daily_job.py's."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import PROJECT_DIR

from tunesday.report import measured_bloom_false_positives
from tunesday.warehouse import connect as connect_warehouse

SECTIONS = [
    "Recommendation quality over days",
    "Where recommendations come from",
    "Discovery",
    "Tempo and key: listening against recommendations",
    "Bloom filters of heard tracks",
    "Raw rows rejected, per source over runs",
]


def report(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tunesday.job.cli", "report", *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_report_is_one_self_contained_file_with_every_chart(warehouse, tmp_path):
    done = report("--duckdb", str(warehouse.duckdb_path), "--out", str(tmp_path / "report.html"))
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "report.html").read_text()
    assert [h2 for h2 in re.findall(r"<h2>(.*?)</h2>", page)] == SECTIONS
    # Every chart is inline SVG: the source mix, first listens, discoveries, tempo, keys, filter
    # sizes, rejections (the quality charts need a day after a list was made: one build has none).
    assert page.count("<svg") >= 7
    assert "no data yet" in page.split("<h2>Where")[0]
    # Nothing to fetch: no script, no image or stylesheet file, no link out but the experiments'.
    assert "<script" not in page and "<img" not in page and "<link" not in page
    assert not re.findall(r'(?:src|href)="(?!experiments/)', page)
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    [experiment_link] = re.findall(r'href="(experiments/[^"]+)"', page)
    assert (tmp_path / experiment_link).is_file()
    # The rejected-row table is the audit's.
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        sources = [row[0] for row in con.execute("select source_table from audit_raw__row_counts").fetchall()]
    rejections = page.split("<h2>Raw rows rejected")[1]
    assert all(f'<td class="text">{source}</td>' in rejections for source in sources)


def test_the_measured_bloom_rate_probes_only_unheard_tracks(warehouse):
    """Probing with unheard tracks measures about the rate the filters were sized for (1 %); a filter
    never answers 'absent' for a track it holds, so probing with heard tracks would give 100 %."""
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        positives, probed, expected = measured_bloom_false_positives(con, listeners=100, probes=200)
    assert probed >= 100 * 150
    assert 0 < positives / probed < 3 * expected, (positives, probed, expected)


def test_a_listeners_page_has_their_discover_weekly_in_words(warehouse, tmp_path):
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        [(user_id,)] = con.execute("select min(user_id) from fct_discover_weekly").fetchall()
    done = report("--duckdb", str(warehouse.duckdb_path), "--user", user_id, "--out", str(tmp_path / "user.html"))
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "user.html").read_text()
    assert "<h2>Top artists</h2>" in page and "Tempo around" in page and page.count("<svg") == 2
    weekly = page.split("<h2>Discover Weekly (30 tracks)</h2>")[1]
    rows = re.findall(r"<tr>(.*?)</tr>", weekly)[1:]
    assert len(rows) == 30
    # Every reason is in words: no code of the warehouse is left (`similar_artists:art_…`, `tempo_match`).
    reasons = [re.findall(r"<td[^>]*>(.*?)</td>", row)[-1] for row in rows]
    assert all(reasons) and not [reason for reason in reasons if re.search(r"[a-z]_[a-z]|:", reason)], reasons


@pytest.mark.parametrize("user_id", ["usr_missing", "<script>alert(1)</script>"])
def test_an_unknown_listener_is_a_one_line_error(warehouse, tmp_path, user_id):
    done = report("--duckdb", str(warehouse.duckdb_path), "--user", user_id, "--out", str(tmp_path / "user.html"))
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "no listener" in done.stderr, done.stderr
    assert not (tmp_path / "user.html").exists()


def test_a_warehouse_not_built_is_a_one_line_error(tmp_path):
    import duckdb

    duckdb.connect(str(tmp_path / "empty.duckdb")).close()
    for path in (tmp_path / "empty.duckdb", tmp_path / "missing.duckdb"):
        done = report("--duckdb", str(path), "--out", str(tmp_path / "report.html"))
        assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
        assert "Traceback" not in done.stderr and not (tmp_path / "report.html").exists()
