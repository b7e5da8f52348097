"""Experiments: which variant of a ranking each listener gets, the same in Python and in the warehouse.

The experiments are data (seeds/experiments: experiments.csv, experiment_variants.csv), read here
and by dbt. A listener's bucket in an experiment is the first 8 hex digits of md5(salt ":" user_id)
as an integer, mod BUCKETS (macro experiment_bucket gives the same on DuckDB and BigQuery; the
vectors of seeds/macro_tests/experiment_bucket_expected.csv are checked on both and here). The
variants, in name order, own consecutive ranges of buckets in proportion to their weights:
variant k owns [floor(BUCKETS × W_<k> / W), floor(BUCKETS × W_≤k / W)), W_<k the weights before it.

An assignment depends on the salt, the user id and the weights only: it never changes while an
experiment runs. Changing a weight moves the range boundaries, so the listeners of the buckets
that change hands switch variant mid-experiment and their exposures mix both: stop the experiment
and start a new one (a new id and salt) instead.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from tunesday.dbt import PROJECT_DIR

BUCKETS = 10_000
SEEDS = PROJECT_DIR / "seeds" / "experiments"
RANKINGS = ("ranker", "blend")  # what var listener_ranking accepts
#: The metrics every experiment is analysed on (macro experiment_metrics, the same list:
#: tests/python/test_experiment_analysis.py checks it).
METRICS = ("recommended_streams", "streams", "listening_minutes", "new_artists_stuck", "skip_rate")


def bucket(salt: str, user_id: str) -> int:
    """The listener's bucket, 0 to BUCKETS - 1."""
    return int(hashlib.md5(f"{salt}:{user_id}".encode()).hexdigest()[:8], 16) % BUCKETS


@dataclass(frozen=True)
class Variant:
    name: str
    weight: int
    is_control: bool
    ranking: str  # the value of var listener_ranking this variant's lists are ranked by


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    salt: str
    surface: str
    start_date: dt.date
    end_date: dt.date | None  # None: runs until stopped
    primary_metric: str
    secondary_metrics: tuple[str, ...]
    guardrail_metrics: tuple[str, ...]
    variants: tuple[Variant, ...]  # in name order
    description: str = ""

    def ranges(self) -> list[tuple[Variant, int, int]]:
        """Each variant's buckets [low, high), in name order."""
        total = sum(variant.weight for variant in self.variants)
        made, before = [], 0
        for variant in self.variants:
            made.append((variant, BUCKETS * before // total, BUCKETS * (before + variant.weight) // total))
            before += variant.weight
        return made

    def variant_of(self, user_id: str) -> Variant:
        b = bucket(self.salt, user_id)
        return next(variant for variant, low, high in self.ranges() if low <= b < high)

    def is_running(self, day: dt.date) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)


def _metrics(text: str) -> tuple[str, ...]:
    return tuple(name for name in text.split(";") if name)


def read_experiments(folder: Path = SEEDS) -> dict[str, Experiment]:
    """The experiments of the seeds, checked: a wrong file is a ValueError naming the row."""
    variants: dict[str, list[Variant]] = {}
    with open(folder / "experiment_variants.csv", newline="") as stream:
        for line, row in enumerate(csv.DictReader(stream), 2):
            where = f"experiment_variants.csv line {line}"
            if not row["weight"].isdigit() or int(row["weight"]) <= 0:
                raise ValueError(f"{where}: weight must be a positive integer, not {row['weight']!r}")
            if row["is_control"] not in ("true", "false"):
                raise ValueError(f"{where}: is_control must be true or false, not {row['is_control']!r}")
            if row["ranking"] not in RANKINGS:
                raise ValueError(f"{where}: ranking must be one of {RANKINGS}, not {row['ranking']!r}")
            variants.setdefault(row["experiment_id"], []).append(
                Variant(row["variant"], int(row["weight"]), row["is_control"] == "true", row["ranking"])
            )
    experiments = {}
    with open(folder / "experiments.csv", newline="") as stream:
        for line, row in enumerate(csv.DictReader(stream), 2):
            where = f"experiments.csv line {line} ({row['experiment_id']})"
            mine = sorted(variants.pop(row["experiment_id"], []), key=lambda variant: variant.name)
            if len(mine) < 2 or len({variant.name for variant in mine}) != len(mine):
                raise ValueError(f"{where}: needs two or more variants with distinct names")
            if sum(variant.is_control for variant in mine) != 1:
                raise ValueError(f"{where}: needs exactly one control variant")
            if not row["salt"]:
                raise ValueError(f"{where}: the salt is empty")
            start = dt.date.fromisoformat(row["start_date"])
            end = dt.date.fromisoformat(row["end_date"]) if row["end_date"] else None
            if end is not None and end < start:
                raise ValueError(f"{where}: ends before it starts")
            named = [row["primary_metric"], *_metrics(row["secondary_metrics"]), *_metrics(row["guardrail_metrics"])]
            if unknown := [metric for metric in named if metric not in METRICS]:
                raise ValueError(f"{where}: unknown metrics {unknown} (the metrics are {', '.join(METRICS)})")
            experiments[row["experiment_id"]] = Experiment(
                row["experiment_id"],
                row["salt"],
                row["surface"],
                start,
                end,
                row["primary_metric"],
                _metrics(row["secondary_metrics"]),
                _metrics(row["guardrail_metrics"]),
                tuple(mine),
                row["description"],
            )
    if variants:
        raise ValueError(f"experiment_variants.csv: variants of unknown experiments {sorted(variants)}")
    if len({experiment.salt for experiment in experiments.values()}) != len(experiments):
        raise ValueError("experiments.csv: two experiments share a salt (their assignments would be the same)")
    return experiments


# The exposure log (serving/exposures.py writes it, tunesday/load/exposures.py ships it) --------

#: A log file being written: exposures-<YYYYmmddTHH>Z-<host>-<pid>-<start>.jsonl.open; closed: .jsonl.
EXPOSURE_FILE_PREFIX = "exposures-"
OPEN_SUFFIX = ".jsonl.open"
CLOSED_SUFFIX = ".jsonl"
#: An `.open` file not written to for this long belongs to a process that is gone (a writer closes
#: its file within the hour after it opened it).
ABANDONED_SECONDS = 2 * 3600


def shippable_exposure_files(directory: Path, now: float) -> list[Path]:
    """The exposure log files of `directory` that are complete: the closed ones, and the `.open`
    ones a process left behind (not written to for ABANDONED_SECONDS)."""
    closed = sorted(directory.glob(f"{EXPOSURE_FILE_PREFIX}*{CLOSED_SUFFIX}"))
    abandoned = sorted(
        path
        for path in directory.glob(f"{EXPOSURE_FILE_PREFIX}*{OPEN_SUFFIX}")
        if now - path.stat().st_mtime > ABANDONED_SECONDS
    )
    return closed + abandoned
