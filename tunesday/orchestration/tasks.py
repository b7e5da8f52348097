"""The stages of the daily job as Flyte tasks.

Each stage task runs its stage alone through the job's Python API, as `tunesday daily --stage S
--run-id ID` would: it takes the warehouse's lock, runs the stage, appends its ops_run_log row
(command `stage`) and releases the lock. The tasks pass the run id along, so every row of one
execution shares it, and export's snapshot id reaches publish. The warehouse, store and target
come from the task's environment (TUNESDAY_*, see the README's settings table), as for the CLI.

Retries are for transient faults only. A stage that fails (a model or a data test, stale
events, an export that breaks the serving contract) fails the same way when run again, so its
task raises `StageFailed` with the stage's one-line reason, which Flyte does not retry (a
non-recoverable user error). Retried, up to `RETRIES` times: a warehouse locked by another run
(`FlyteRecoverableException`) and what Flyte itself counts as a system fault (a pod evicted or
its node lost). A retried stage is safe: every stage can run again (tunesday/job/stages.py), and
a stage killed midway is recorded as `killed` by the next one to take the lock.

Nothing is cached: every task reads or writes the warehouse or the store, whose contents change
between runs with the same inputs.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import NamedTuple

from flytekit import Resources, task
from flytekit.exceptions.user import FlyteRecoverableException

from tunesday import settings
from tunesday.job import stages
from tunesday.job.target import Target, from_env

RETRIES = 2


class Run(NamedTuple):
    """What every stage task of one day needs: the day it computes and the run it belongs to."""

    run_date: str
    run_id: str


# The plain functions the tasks call ------------------------------------------------------------


def _target() -> Target:
    try:
        return from_env(os.environ)
    except (ValueError, settings.SettingMissing) as error:
        raise stages.StageFailed(str(error)) from None


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise stages.StageFailed(f"run date {text!r} is not a date (YYYY-MM-DD)") from None


def run_date_of(run_date: str, kickoff_time: dt.datetime | None, now: dt.datetime) -> dt.date:
    """The day to compute: `run_date` if given; else the day before the schedule's kickoff time
    (UTC), so a late or relaunched scheduled execution, or a backfill of the launch plan, still
    computes its own day; else yesterday (UTC) of `now`."""
    if run_date:
        return _date(run_date)
    if kickoff_time is not None:
        if kickoff_time.tzinfo is not None:
            kickoff_time = kickoff_time.astimezone(dt.UTC)
        return kickoff_time.date() - dt.timedelta(days=1)
    return now.astimezone(dt.UTC).date() - dt.timedelta(days=1)


def new_run(run_date: str, kickoff_time: dt.datetime | None = None) -> Run:
    """The run's day and a new run id; a bad date or target fails here, before any stage."""
    day = stages.Day(target=_target(), run_date=run_date_of(run_date, kickoff_time, dt.datetime.now(dt.UTC)))
    return Run(run_date=day.run_date.isoformat(), run_id=day.run_id)


def run_stage(stage: str, run_date: str, run_id: str, snapshot_id: str = "") -> str:
    """Run one stage of the run `run_id`; the snapshot id it exported or published ("" before).
    A failed stage raises StageFailed with its reason; a locked warehouse a recoverable error."""
    day = stages.Day(
        target=_target(), run_date=_date(run_date), command="stage", run_id=run_id, snapshot_id=snapshot_id or None
    )
    code, reason = stages.daily(day, (stage,))
    if code == stages.EXIT_CODES["lock"]:
        raise FlyteRecoverableException(f"{stage} for run_date {run_date} not started: {reason}")
    if code:
        raise stages.StageFailed(f"{stage} failed for run_date {run_date} (run {run_id}): {day.error or reason}")
    return day.snapshot_id or ""


def days_to_run(first: str, last: str, force: bool = False) -> list[str]:
    """The days `first`..`last` to run, oldest first: those `tunesday backfill` would run
    (stages.days_to_backfill: published days and days a later run caught up are skipped unless `force`)."""
    start, end = _date(first), _date(last)
    if end < start:
        raise stages.StageFailed(f"first {start} is after last {end}")
    return [
        day.isoformat()
        for day in stages.days_to_backfill(
            _target(), start, end, force, progress=lambda line: print(line.replace("--force", "force=True"), flush=True)
        )
    ]


# The tasks ------------------------------------------------------------------------------------


@task(retries=RETRIES, cache=False, timeout=dt.timedelta(minutes=10), requests=Resources(cpu="250m", mem="256Mi"))
def start(run_date: str, kickoff_time: dt.datetime | None, after: str) -> Run:
    """The run's day and id. `after`: the snapshot the day before published, in a backfill, so
    that the days run one after another."""
    return new_run(run_date, kickoff_time)


@task(
    retries=RETRIES,
    cache=False,
    timeout=dt.timedelta(hours=3),
    requests=Resources(cpu="2", mem="4Gi"),
    limits=Resources(cpu="2", mem="8Gi"),
)
def build(run_date: str, run_id: str) -> str:
    """dbt build --selector daily for the day. Returns the run id, for the next stage to wait on."""
    run_stage("build", run_date, run_id)
    return run_id


@task(retries=RETRIES, cache=False, timeout=dt.timedelta(minutes=20), requests=Resources(cpu="1", mem="1Gi"))
def freshness(run_date: str, run_id: str) -> str:
    """dbt source freshness: the events must have arrived. Returns the run id."""
    run_stage("freshness", run_date, run_id)
    return run_id


@task(
    retries=RETRIES,
    cache=False,
    timeout=dt.timedelta(hours=1),
    requests=Resources(cpu="1", mem="2Gi"),
    limits=Resources(cpu="1", mem="4Gi"),
)
def export(run_date: str, run_id: str) -> str:
    """The serving tables into a sealed snapshot, not published. Returns its id."""
    return run_stage("export", run_date, run_id)


@task(retries=RETRIES, cache=False, timeout=dt.timedelta(minutes=10), requests=Resources(cpu="250m", mem="512Mi"))
def publish(run_date: str, run_id: str, snapshot_id: str) -> str:
    """CURRENT points at the exported snapshot. Returns its id."""
    return run_stage("publish", run_date, run_id, snapshot_id)


STAGE_TASKS = {"build": build, "freshness": freshness, "export": export, "publish": publish}
