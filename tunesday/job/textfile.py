"""The job's Prometheus metrics, as a node_exporter textfile (TUNESDAY_JOB_METRICS_FILE):

    tunesday_job_last_success_timestamp_seconds{stage="build"}   when the stage last succeeded
    tunesday_job_last_run_timestamp_seconds{stage="build"}       when the stage last finished
    tunesday_job_last_run_success{stage="build"}                 1 if that last run succeeded, else 0
    tunesday_job_published_run_date_timestamp_seconds            the published run_date (00:00 UTC)

The alert rules in deploy/prometheus/ read these. The file is rewritten whole after each stage
(temporary file and rename: the collector never reads half a file); values of stages that did not
run this time are carried over from the previous file.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from tunesday.files import write_whole

_HELP = {
    "tunesday_job_last_success_timestamp_seconds": "Unix time the stage of the daily job last succeeded.",
    "tunesday_job_last_run_timestamp_seconds": "Unix time the stage of the daily job last finished.",
    "tunesday_job_last_run_success": "1 if the stage's last run succeeded, 0 if it failed.",
    "tunesday_job_published_run_date_timestamp_seconds": "The run_date of the last published snapshot, 00:00 UTC.",
}
_LINE = re.compile(r'^(tunesday_job_\w+)(?:\{stage="(\w+)"\})? (\S+)$')


def read(path: Path) -> dict[tuple[str, str | None], float]:
    values: dict[tuple[str, str | None], float] = {}
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return values
    for line in text.splitlines():
        matched = _LINE.match(line)
        if matched:
            try:
                values[(matched[1], matched[2])] = float(matched[3])
            except ValueError:
                pass
    return values


def record(
    path: Path, stage: str, succeeded: bool, finished: dt.datetime, published_run_date: dt.date | None = None
) -> None:
    values = read(path)
    now = finished.timestamp()
    values[("tunesday_job_last_run_timestamp_seconds", stage)] = now
    values[("tunesday_job_last_run_success", stage)] = 1.0 if succeeded else 0.0
    if succeeded:
        values[("tunesday_job_last_success_timestamp_seconds", stage)] = now
    if published_run_date is not None:
        midnight = dt.datetime.combine(published_run_date, dt.time(), tzinfo=dt.UTC)
        values[("tunesday_job_published_run_date_timestamp_seconds", None)] = midnight.timestamp()
    lines = []
    for name, help_text in _HELP.items():
        series = sorted((stage_, value) for (metric, stage_), value in values.items() if metric == name)
        if not series:
            continue
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        lines += [
            f'{name}{{stage="{stage_}"}} {value:.3f}' if stage_ else f"{name} {value:.3f}" for stage_, value in series
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_whole(path, ("\n".join(lines) + "\n").encode())
