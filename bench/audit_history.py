"""The audits' share of a daily run on DuckDB as the history grows: day 30 against day 90.

    python bench/audit_history.py [--users 5000] [--days 90] [--early-day 30] [--repeat 3]

Generates --users listeners' --days days of plays (0.1 % bad rows), then for the early day and the
last day, each in its own warehouse: the audits and what they read built in full for the day
before (`dbt run --full-refresh --select +<audits>`, not timed), then the daily run of that day
(`dbt run`, the same selection) --repeat times (a rerun of a day recomputes the same days), and
the audits' data tests once. Prints, per day, the seconds of the audit models (models/audit/:
`audit_raw__*` and the `int_audit_*` they add up) as dbt timed each node (the median of the
repeats), of their tests, and of base_raw__listening_events for scale; then the ratio late / early
(1.0: the audits cost the same whatever the history; issue 17 asks at most 1.1 of the daily run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from tunesday import dbt  # noqa: E402

END_DATE = dt.date(2026, 11, 1)
AUDITS = [
    "audit_raw__row_counts",
    "audit_raw__late_events",
    "audit_raw__rejections",
    "audit_raw__defaults",
    "audit_raw__listener_oddities",
    "audit_raw__row_counts_history",
]


def is_audit(node: dbt.NodeResult) -> bool:
    return node.name.startswith(("audit_raw__", "int_audit_"))


def run(env: dict, *args: str) -> dbt.DbtResult:
    result = dbt.run(list(args), env)
    if not result.success:
        sys.exit(result.describe())
    return result


def measure(env: dict, day: dt.date, repeat: int) -> dict:
    select = ["--select", *[f"+{audit}" for audit in AUDITS]]
    run(env, "seed")
    run(env, "run", "--full-refresh", *select, "--vars", f"{{run_date: '{day - dt.timedelta(days=1)}'}}")
    audits, base = [], []
    for _ in range(repeat):
        daily = run(env, "run", *select, "--vars", f"{{run_date: '{day}'}}")
        audits.append(sum(node.seconds for node in daily.nodes if node.resource_type == "model" and is_audit(node)))
        base.append(next(node.seconds for node in daily.nodes if node.name == "base_raw__listening_events"))
    tests = run(env, "test", "--select", "group:audit", "--vars", f"{{run_date: '{day}'}}")
    return {
        "audits": statistics.median(audits),
        "base": statistics.median(base),
        "tests": sum(node.seconds for node in tests.nodes if node.resource_type == "test"),
        "models": sorted(node.name for node in daily.nodes if is_audit(node)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--early-day", type=int, default=30)
    parser.add_argument("--tracks", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    first_day = END_DATE - dt.timedelta(days=args.days)
    days = {"early": first_day + dt.timedelta(days=args.early_day - 1), "late": END_DATE - dt.timedelta(days=1)}
    with tempfile.TemporaryDirectory(prefix="tunesday-audit-history-") as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tunesday.generate",
                "--users",
                str(args.users),
                "--tracks",
                str(args.tracks),
                "--days",
                str(args.days),
                "--seed",
                str(args.seed),
                "--end-date",
                END_DATE.isoformat(),
                "--out",
                str(tmp / "data"),
                "--workers",
                "2",
                "--bad-share",
                "0.001",
            ],
            cwd=PROJECT_DIR,
            check=True,
            capture_output=True,
        )
        print(f"{args.users:,} listeners, {args.days} days (generated in {time.perf_counter() - started:.0f} s)")
        results = {}
        for label, day in days.items():
            env = dbt.duckdb_env(tmp / label, tmp / "data" / "raw")
            results[label] = measure(env, day, args.repeat)
            number = (day - first_day).days + 1
            print(
                f"daily run of day {number:>3}: audits {results[label]['audits']:6.2f} s (median of {args.repeat}), "
                f"their tests {results[label]['tests']:6.2f} s; base_raw__listening_events "
                f"{results[label]['base']:6.2f} s"
            )
        print(f"audit models: {', '.join(results['late']['models'])}")
        print(
            f"late / early: audits {results['late']['audits'] / results['early']['audits']:.2f}, "
            f"their tests {results['late']['tests'] / results['early']['tests']:.2f}"
        )


if __name__ == "__main__":
    main()
