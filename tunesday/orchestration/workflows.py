"""The daily job's workflows and its schedule.

    pyflyte run tunesday/orchestration/workflows.py daily_workflow --run_date 2026-11-24
    pyflyte run tunesday/orchestration/workflows.py backfill_workflow --first 2026-11-01 --last 2026-11-24
    pyflyte --pkgs tunesday.orchestration package --image IMAGE    # what `pyflyte register` sends

`daily_workflow`: start -> build -> freshness -> export -> publish for one day, each a task
(tunesday/orchestration/tasks.py); a stage that fails stops the execution, nothing published.
`backfill_workflow`: the days from `first` to `last` oldest first, each day's chain waiting on the
day before's publish, days already published skipped unless `force` (as `tunesday backfill`).
`daily_launch_plan` (`tunesday_daily`) runs `daily_workflow` every day at 02:00 UTC with the
kickoff time as input, so each execution computes the day before its scheduled time, whenever
it actually runs; `pyflyte backfill` of this launch plan (on a cluster) relies on that.
"""

from __future__ import annotations

import datetime as dt

from flytekit import CronSchedule, LaunchPlan, dynamic, workflow

from tunesday.orchestration.tasks import RETRIES, build, days_to_run, export, freshness, publish, start

SCHEDULE = "0 2 * * *"  # 02:00 UTC: the day before is complete, its events loaded


def _day(run_date, kickoff_time, after):
    """The chain of one day's tasks; the published snapshot id. Each stage takes the one
    before's output, so Flyte runs them in order and skips the rest when one fails."""
    run = start(run_date=run_date, kickoff_time=kickoff_time, after=after)
    built = build(run_date=run.run_date, run_id=run.run_id)
    checked = freshness(run_date=run.run_date, run_id=built)
    snapshot_id = export(run_date=run.run_date, run_id=checked)
    return publish(run_date=run.run_date, run_id=checked, snapshot_id=snapshot_id)


@workflow
def daily_workflow(run_date: str = "", kickoff_time: dt.datetime | None = None) -> str:
    """One day: `run_date` (YYYY-MM-DD), else the day before `kickoff_time` (the schedule's),
    else yesterday (UTC). Returns the published snapshot id."""
    return _day(run_date, kickoff_time, "")


# No timeout: a dynamic node's deadline may cover the nodes it launches (days of builds); each of
# those has its own.
@dynamic(retries=RETRIES, cache=False)
def backfill_days(first: str, last: str, force: bool) -> list[str]:
    """The chains of the days to run, each started after the day before published."""
    published: list = []
    after = ""
    for day in days_to_run(first, last, force):
        after = _day(day, None, after)
        published.append(after)
    return published


@workflow
def backfill_workflow(first: str, last: str, force: bool = False) -> list[str]:
    """Days `first`..`last` (YYYY-MM-DD) oldest first, stopping at the first failure. Returns the
    published snapshot ids."""
    return backfill_days(first=first, last=last, force=force)


daily_launch_plan = LaunchPlan.get_or_create(
    daily_workflow,
    name="tunesday_daily",
    schedule=CronSchedule(schedule=SCHEDULE, kickoff_time_input_arg="kickoff_time"),
)
