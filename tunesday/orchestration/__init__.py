"""The daily job on Flyte: one task per stage of `tunesday daily`, a daily schedule, a backfill.

    tasks.py       the tasks: `start` (the run date and run id), then build, freshness, export,
                   publish, each running its stage through the job's own Python API
                   (`tunesday.job.stages.daily(day, (stage,))`: lock, ops_run_log row, metrics)
    workflows.py   `daily_workflow`, `backfill_workflow` and the launch plan `tunesday_daily`
                   (every day at 02:00 UTC, the run date taken from the kickoff time)

Flyte adds scheduling, retries and a UI; what a stage does, and how it records itself, stays in
`tunesday/job/`, so `tunesday daily` on cron and this workflow write the same ops_run_log rows.
Needs the optional extra `[flyte]` (flytekit 1.13.15: the newest that installs beside dbt-core
1.11, see the README's "Scheduling it"); nothing else in the package imports this one.
"""
