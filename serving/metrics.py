"""Prometheus metrics of one server process: requests per route and status, latency histograms
per route, and the age of the loaded snapshot (text exposition format 0.0.4)."""

from __future__ import annotations

import threading
from collections import defaultdict

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, int], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = defaultdict(lambda: [0] * len(BUCKETS))
        self._sums: dict[str, float] = defaultdict(float)
        self._counts: dict[str, int] = defaultdict(int)

    def observe(self, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(route, status)] += 1
            buckets = self._buckets[route]
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            self._sums[route] += seconds
            self._counts[route] += 1

    def render(self, snapshot_age_seconds: float | None) -> str:
        lines = ["# HELP tunesday_http_requests_total HTTP requests by route and status.",
                 "# TYPE tunesday_http_requests_total counter"]
        with self._lock:
            for (route, status), count in sorted(self._requests.items()):
                lines.append(f'tunesday_http_requests_total{{route="{route}",status="{status}"}} {count}')
            lines += ["# HELP tunesday_http_request_duration_seconds Request latency by route.",
                      "# TYPE tunesday_http_request_duration_seconds histogram"]
            for route in sorted(self._counts):
                for bound, count in zip(BUCKETS, self._buckets[route]):
                    lines.append(f'tunesday_http_request_duration_seconds_bucket{{route="{route}",le="{bound}"}} {count}')
                lines.append(f'tunesday_http_request_duration_seconds_bucket{{route="{route}",le="+Inf"}} '
                             f"{self._counts[route]}")
                lines.append(f'tunesday_http_request_duration_seconds_sum{{route="{route}"}} {self._sums[route]:.6f}')
                lines.append(f'tunesday_http_request_duration_seconds_count{{route="{route}"}} {self._counts[route]}')
        lines += ["# HELP tunesday_snapshot_age_seconds Age of the loaded serving snapshot (NaN: none).",
                  "# TYPE tunesday_snapshot_age_seconds gauge",
                  f"tunesday_snapshot_age_seconds {snapshot_age_seconds if snapshot_age_seconds is not None else 'NaN'}"]
        return "\n".join(lines) + "\n"


METRICS = Metrics()
