"""deploy/prometheus/alerts.yml: valid rules (promtool check rules), whose unit tests pass (promtool
test rules: each alert fires on series that break its SLO and stays silent on healthy ones), and
which read only metrics the shim really exposes."""

import re
import shutil
import subprocess

import pytest
from conftest import PROJECT_DIR

from serving import metrics

RULES = PROJECT_DIR / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = PROJECT_DIR / "deploy" / "prometheus" / "alerts_test.yml"

promtool = pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool is not installed (apt-get install prometheus); `make lint` fails without it",
)


def run_promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120)


@promtool
def test_the_rules_are_valid():
    checked = run_promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr


@promtool
def test_every_alert_fires_when_broken_and_not_when_healthy():
    tested = run_promtool("test", "rules", str(RULE_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    alerts = set(re.findall(r"^\s+- alert: (\w+)", RULES.read_text(), re.M))
    tests = RULE_TESTS.read_text()
    for alert in alerts:  # each alert is asked to fire (exp_alerts with labels) and to stay silent (exp_alerts: [])
        assert re.search(rf"alertname: {alert}\n\s+exp_alerts:\n\s+- exp_labels", tests), f"{alert} never fires"
        assert re.search(rf"alertname: {alert}, exp_alerts: \[\]", tests), f"{alert} is never silent"


def test_the_rules_read_only_metrics_the_shim_exposes():
    """A renamed metric would leave its alert silent for good: every shim metric the rules name is
    in /metrics (the job's tunesday_job_* come from its textfile, tunesday/job/)."""
    metrics.observe("test_alerts", 200, 0.001)  # a route of its own: other tests count theirs
    exposed = {
        line.split("{")[0].split(" ")[0] for line in metrics.render(None).splitlines() if not line.startswith("#")
    }
    named = set(re.findall(r"\b(tunesday_[a-z_]+)", RULES.read_text()))
    assert {name for name in named - exposed if not name.startswith("tunesday_job_")} == set()
    assert {"tunesday_snapshot_built_timestamp_seconds", "tunesday_snapshot_age_seconds"} <= exposed
