"""Command line: tunesday-generate / python -m tunesday.generate."""

import argparse
import datetime as dt
import json
import sys

from tunesday.command import Parser
from tunesday.generate.config import GeneratorConfig, today_utc
from tunesday.generate.pipeline import generate
from tunesday.generate.writer import FolderNotOurs


def utc_time(text: str) -> dt.datetime:
    """An ISO date and time, UTC unless it says otherwise, as naive UTC."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date and time (e.g. 2026-11-01T06:00:00Z)") from None
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def parse_args(argv: list[str] | None = None) -> GeneratorConfig:
    parser = Parser(
        prog="tunesday-generate",
        description="Generate a synthetic Tunesday raw dataset (Parquet), its ground truth and a manifest.",
    )
    parser.add_argument("--users", type=int, required=True, help="number of listeners")
    parser.add_argument("--tracks", type=int, required=True, help="number of tracks in the catalogue")
    parser.add_argument("--days", type=int, required=True, help="days of listening before --end-date")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--end-date",
        type=dt.date.fromisoformat,
        default=today_utc(),
        help="first day after the window, YYYY-MM-DD (default: today, UTC)",
    )
    parser.add_argument("--out", default="target/data", help="output folder (default: target/data)")
    parser.add_argument(
        "--bad-share",
        type=float,
        default=0.001,
        help="share of each table's rows injected as bad rows (default: 0.001)",
    )
    parser.add_argument("--artists", type=int, default=None, help="number of artists (default: tracks / 10)")
    parser.add_argument(
        "--loaded-at",
        type=utc_time,
        default=None,
        help="when the rows count as loaded, ISO date and time, UTC (default: now); pin it to get the same files twice",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes generating chunks of listeners; the output does not depend on it",
    )
    parser.add_argument(
        "--experiment-effect",
        type=float,
        default=0.0,
        help="simulate a treatment that changes its listeners' plays after their first "
        "exposure by this share (-0.1: a tenth fewer; default: 0, an A/A world)",
    )
    parser.add_argument(
        "--lose-treatment-exposures",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="lose the exposures of this share of treatment listeners (a broken assignment "
        "the sample ratio check must catch; default: 0)",
    )
    args = parser.parse_args(argv)
    try:
        return GeneratorConfig(
            users=args.users,
            tracks=args.tracks,
            days=args.days,
            seed=args.seed,
            end_date=args.end_date,
            out=args.out,
            bad_share=args.bad_share,
            artists=args.artists,
            workers=args.workers,
            loaded_at=args.loaded_at,
            experiment_effect=args.experiment_effect,
            lost_treatment_exposures=args.lose_treatment_exposures,
        )
    except ValueError as problem:
        parser.error(str(problem))


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    try:
        manifest = generate(config, progress=lambda line: print(line, file=sys.stderr, flush=True))
    except FolderNotOurs as refused:
        print(f"tunesday-generate: {refused}", file=sys.stderr)
        return 1
    summary = {"rows": manifest["rows"], "generation_seconds": manifest["generation_seconds"]}
    json.dump(summary, sys.stdout, indent=2)
    print()
    return 0
