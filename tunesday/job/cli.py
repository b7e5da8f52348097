"""tunesday: the daily job.

    tunesday daily [--run-date YYYY-MM-DD] [--full-refresh] [--vars YAML]
    tunesday daily --run-date D --stage build|freshness|export|publish [--run-id ID] [--snapshot-id ID]
    tunesday backfill --from D1 --to D2 [--force]
    tunesday report [--duckdb FILE] [--out FILE] [--user ID]
    tunesday real DATA [--workspace DIR] [--run-date YYYY-MM-DD]

`daily` runs one day (default: yesterday, UTC): lock, build, freshness, export, publish, stopping at
the first failure. `--stage` runs one stage alone (an orchestrator's task: Flyte runs each stage as
its own task with the same --run-id, and hands export's snapshot id to publish).
`backfill` runs the days from D1 to D2 oldest first, skipping days already published unless --force.
`report` writes the analysts' HTML report from the built warehouse (tunesday/report.py).

The warehouse, store and target come from the environment like dbt's (TUNESDAY_TARGET,
TUNESDAY_DUCKDB_PATH, TUNESDAY_SERVING_STORE, ...; see the README's settings table).

Progress goes to stdout, a line per stage with its time; stderr carries the JSON-line log
(tunesday/logs.py: one `stage` event per stage, with its status, duration, run date, run id and
snapshot id) and, last, the one-line reason of a failure.

Exit status: 0 done; 2 bad arguments; 3 another run holds the warehouse's lock; 4 build failed
(a model or a test); 5 the events are stale (freshness error); 6 export failed; 7 publish failed.
A failure prints one line saying which stage and why; nothing is published.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys

import yaml

from tunesday import logs, settings
from tunesday import report as report_module
from tunesday.command import Parser
from tunesday.job import stages
from tunesday.job.target import from_env


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _vars(text: str) -> dict:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise argparse.ArgumentTypeError(f"--vars is not YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("--vars must be a mapping, e.g. '{rebuild_published_weeks: true}'")
    if "run_date" in value:
        raise argparse.ArgumentTypeError("give the run date with --run-date, not in --vars")
    return value


def _yesterday() -> dt.date:
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


def parser() -> argparse.ArgumentParser:
    top = Parser(prog="tunesday", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True)
    daily = commands.add_parser("daily", help="build, check, export and publish one day")
    daily.add_argument("--run-date", type=_date, default=None, help="the day to compute (default: yesterday, UTC)")
    daily.add_argument("--stage", choices=stages.STAGES, help="run this stage alone")
    daily.add_argument("--run-id", help="the run this stage belongs to (with --stage)")
    daily.add_argument("--snapshot-id", help="the snapshot to publish (with --stage publish)")
    backfill = commands.add_parser("backfill", help="run the days from --from to --to, oldest first")
    backfill.add_argument("--from", dest="first", type=_date, required=True)
    backfill.add_argument("--to", dest="last", type=_date, required=True)
    backfill.add_argument("--force", action="store_true", help="run days already published again")
    report = commands.add_parser(
        "report",
        help="write the analysts' HTML report (or one listener's page)",
        description=report_module.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report_module.add_arguments(report)
    real = commands.add_parser("real", add_help=False, help="your own listening history in a warehouse of its own")
    real.add_argument("rest", nargs=argparse.REMAINDER)
    for command in (daily, backfill):
        command.add_argument(
            "--full-refresh",
            action="store_true",
            help="rebuild incremental models from scratch (the first day only, for backfill)",
        )
        command.add_argument("--vars", type=_vars, default={}, help="more dbt vars, YAML, e.g. '{eval_test_days: 7}'")
        command.add_argument("--keep", type=int, default=3, help="snapshots kept in the store (default 3)")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "report":
        return report_module.run(args)
    if args.command == "real":
        from tunesday.job import real as real_module

        return real_module.main(args.rest)
    try:
        logs.configure()
        target = from_env(os.environ)
    except (ValueError, settings.SettingMissing) as error:  # LogLevelError included
        print(f"tunesday {args.command}: {error}", file=sys.stderr)
        return 2
    progress = lambda line: print(line, flush=True)  # noqa: E731
    if args.command == "daily":
        day = stages.Day(
            target=target,
            run_date=args.run_date or _yesterday(),
            command="stage" if args.stage else "daily",
            full_refresh=args.full_refresh,
            dbt_vars=args.vars,
            snapshot_id=args.snapshot_id,
            keep=args.keep,
            progress=progress,
        )
        if args.run_id:
            day.run_id = args.run_id
        code, reason = stages.daily(day, (args.stage,) if args.stage else stages.STAGES)
    else:
        template = stages.Day(
            target=target,
            run_date=args.first,
            command="backfill",
            full_refresh=args.full_refresh,
            dbt_vars=args.vars,
            keep=args.keep,
            progress=progress,
        )
        code, reason = stages.backfill(template, args.first, args.last, force=args.force)
    if reason:
        logs.event("run_failed", level="error", command=args.command, exit_code=code, reason=reason)
        print(f"tunesday {args.command}: {reason}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
