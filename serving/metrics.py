"""Prometheus metrics of the server: requests per route and status, latency histograms per route,
and the age of the loaded snapshot.

Under gunicorn the counts are the whole server's, summed over its worker processes (dead ones
included): gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR at a fresh directory before the
workers start, each worker writes its counters to memory-mapped files there (prometheus_client's
multiprocess mode) and /metrics adds them up. Without it (Flask's test client, the development
server) a process counts for itself.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

_REGISTRY = CollectorRegistry()
REQUESTS = Counter("tunesday_http_requests", "HTTP requests by route and status.", ["route", "status"],
                   registry=_REGISTRY)
LATENCY = Histogram("tunesday_http_request_duration_seconds", "Request latency by route.", ["route"],
                    buckets=BUCKETS, registry=_REGISTRY)


def observe(route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, str(status)).inc()
    LATENCY.labels(route).observe(seconds)


def render(snapshot_age_seconds: float | None) -> str:
    """The text exposition (format 0.0.4). The snapshot age is this worker's: every worker swaps on
    its own, and a worker still on an older snapshot shows as an older age."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = _REGISTRY
    age = "NaN" if snapshot_age_seconds is None else f"{snapshot_age_seconds:.3f}"
    return (generate_latest(registry).decode()
            + "# HELP tunesday_snapshot_age_seconds Age of the serving snapshot this worker serves (NaN: none).\n"
            + "# TYPE tunesday_snapshot_age_seconds gauge\n"
            + f"tunesday_snapshot_age_seconds {age}\n")
