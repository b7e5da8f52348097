"""Prometheus metrics of the server: requests per route and status, latency histograms per route,
exposures logged and dropped (serving/exposures.py),
when the loaded snapshot was built and how old it is (deploy/prometheus/alerts.yml reads them), and,
on a host that pulls its snapshots from a remote, what its puller last did (serving/remote.py).

Latency is the app's time for a request (Flask's first hook to its last): it leaves out the time a
request waits for a worker thread and the network, which the client sees on top.

Under gunicorn the counts are the whole server's, summed over its worker processes (dead ones
included): gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR at a fresh directory before the
workers start, each worker writes its counters to memory-mapped files there (prometheus_client's
multiprocess mode) and /metrics adds them up. Without it (Flask's test client, the development
server) a process counts for itself.
"""

from __future__ import annotations

import datetime as dt
import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

from serving.store import SNAPSHOT_ID

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

_REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "tunesday_http_requests", "HTTP requests by route and status.", ["route", "status"], registry=_REGISTRY
)
LATENCY = Histogram(
    "tunesday_http_request_duration_seconds",
    "Request latency by route.",
    ["route"],
    buckets=BUCKETS,
    registry=_REGISTRY,
)
#: The exposure log (serving/exposures.py).
EXPOSURES_WRITTEN = Counter("tunesday_exposures_written", "Exposures written to the exposure log.", registry=_REGISTRY)
EXPOSURES_DROPPED = Counter(
    "tunesday_exposures_dropped",
    "Exposures not logged: the log's queue was full, or a write failed.",
    registry=_REGISTRY,
)


def observe(route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, str(status)).inc()
    LATENCY.labels(route).observe(seconds)


def render(snapshot_built_at: dt.datetime | None, pulled: dict | None = None) -> str:
    """The text exposition (format 0.0.4). The snapshot gauges are this worker's (NaN when it serves
    none): every worker swaps on its own, and a worker still on an older snapshot shows as older.
    `pulled`: the store's PULLED record (serving.remote.read_pulled), None where nothing pulls."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = _REGISTRY
    built = age = "NaN"
    if snapshot_built_at is not None:
        built = f"{snapshot_built_at.timestamp():.3f}"
        age = f"{(dt.datetime.now(dt.UTC) - snapshot_built_at).total_seconds():.3f}"
    return (
        generate_latest(registry).decode()
        + _gauge(
            "tunesday_snapshot_built_timestamp_seconds",
            "When the serving snapshot this worker serves was built (unix time; NaN: none).",
            built,
        )
        + _gauge("tunesday_snapshot_age_seconds", "Age of the serving snapshot this worker serves (NaN: none).", age)
        + _pull_metrics(pulled)
    )


def _pull_metrics(pulled: dict | None) -> str:
    """The puller's record as metrics: when it last tried and last succeeded (reached the remote and
    left the store publishing what the remote names), its failures, and the snapshot it pulled."""
    if pulled is None:
        return ""
    failures = pulled.get("failures_total")
    in_a_row = pulled.get("consecutive_failures")
    text = (
        _gauge(
            "tunesday_snapshot_pull_last_attempt_timestamp_seconds",
            "When this host's puller last tried to pull (unix time).",
            _timestamp(pulled.get("last_attempt_at")),
        )
        + _gauge(
            "tunesday_snapshot_pull_last_success_timestamp_seconds",
            "When this host's puller last succeeded (unix time; NaN: never).",
            _timestamp(pulled.get("last_success_at")),
        )
        + _metric(
            "tunesday_snapshot_pull_failures_total",
            "counter",
            "Pulls that failed on this host.",
            f"{failures}" if type(failures) is int else "NaN",
        )
        + _gauge(
            "tunesday_snapshot_pull_consecutive_failures",
            "Pulls that failed in a row, up to the last one.",
            f"{in_a_row}" if type(in_a_row) is int else "NaN",
        )
        + _gauge(
            "tunesday_snapshot_pulled_built_timestamp_seconds",
            "When the snapshot this host last pulled was built (unix time; NaN: none).",
            _timestamp(pulled.get("built_at")),
        )
    )
    if isinstance(pulled.get("snapshot_id"), str) and SNAPSHOT_ID.fullmatch(pulled["snapshot_id"]):
        text += _metric(
            "tunesday_snapshot_pulled_info",
            "gauge",
            "The snapshot this host last pulled (its id).",
            "1",
            f'{{snapshot_id="{pulled["snapshot_id"]}"}}',
        )
    return text


def _timestamp(value: object) -> str:
    try:
        return f"{dt.datetime.fromisoformat(value).timestamp():.3f}" if isinstance(value, str) else "NaN"
    except ValueError:
        return "NaN"


def _gauge(name: str, help_text: str, value: str) -> str:
    return _metric(name, "gauge", help_text, value)


def _metric(name: str, kind: str, help_text: str, value: str, labels: str = "") -> str:
    return f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n{name}{labels} {value}\n"
