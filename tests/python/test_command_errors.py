"""A newcomer's first mistakes, made with each command in a real process against an empty
workspace: every one ends in one line that names the command and says what to do, never a
traceback nor a page of usage."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import PROJECT_DIR

from tunesday.contract import SCHEMAS
from tunesday.job.real import workspace_env

BIN = Path(sys.executable).parent


def clean_env(work: Path) -> dict[str, str]:
    """A workspace of its own under `work` (the layout `tunesday real` gives one), over this
    process's environment without its tunesday and dbt settings, nor make's own variables: under
    `make test`, the `make serve` run here would join the outer make's job server and say so."""
    outer = ("TUNESDAY_", "DBT_", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    return workspace_env(work, base={key: value for key, value in os.environ.items() if not key.startswith(outer)})


def empty_warehouse(work: Path) -> None:
    duckdb.connect(str(work / "tunesday.duckdb")).close()


def raw_plays_only(work: Path) -> None:
    (work / "data" / "raw" / "listening_events").mkdir(parents=True)
    pq.write_table(SCHEMAS["listening_events"].empty_table(), work / "data" / "raw" / "listening_events" / "a.parquet")


# (what is run, what sets the workspace up first (and returns settings to add), the line's start,
# what it must say)
MISTAKES = {
    "generate without sizes": (
        [BIN / "tunesday-generate", "--users", "10"],
        None,
        "tunesday-generate: ",
        "the following arguments are required: --tracks, --days (see tunesday-generate --help)",
    ),
    "a daily run before any data": ([BIN / "tunesday", "daily"], None, "tunesday daily: ", "make generate"),
    "a daily run on a raw folder with plays alone": (
        [BIN / "tunesday", "daily"],
        raw_plays_only,
        "tunesday daily: ",
        "has no files for tracks, artists",
    ),
    "a bad run date": (
        [BIN / "tunesday", "daily", "--run-date", "2026-13-01"],
        None,
        "tunesday daily: ",
        "is not a date (YYYY-MM-DD)",
    ),
    "a daily run on BigQuery without a project": (
        [BIN / "tunesday", "daily"],
        lambda work: {"TUNESDAY_TARGET": "bigquery"},
        "tunesday daily: TUNESDAY_BQ_PROJECT is not set",  # at once, not as the first stage's failure
        "BigQuery project",
    ),
    "the report before a build": ([BIN / "tunesday", "report"], None, "tunesday report: ", "is not built"),
    "make real on a folder that is not there": (
        [BIN / "tunesday", "real", "no-such-export"],
        None,
        "tunesday real: ",
        "is not a folder",
    ),
    "an export before a build": (
        [BIN / "tunesday-serving", "export"],
        None,
        "tunesday-serving export: ",
        "does not exist: run make run or tunesday daily first",
    ),
    "an export of an empty warehouse": (
        [BIN / "tunesday-serving", "export"],
        empty_warehouse,
        "tunesday-serving export: ",
        "the warehouse has no serving tables: build it first",
    ),
    "an export from BigQuery without a project": (
        [BIN / "tunesday-serving", "export", "--source", "bigquery"],
        None,
        "tunesday-serving export: ",
        "TUNESDAY_BQ_PROJECT is not set",
    ),
    "serve as a subcommand": ([BIN / "tunesday-serving", "serve"], None, "tunesday-serving: ", "invalid choice"),
    "a BigQuery load without a project": (
        [BIN / "tunesday-load", "raw", "target/data/raw", "--bigquery"],
        None,
        "tunesday-load: ",
        "set TUNESDAY_BQ_PROJECT or pass --project",
    ),
    "a loader that does not exist": ([BIN / "tunesday-load", "spotify"], None, "tunesday-load: ", "invalid choice"),
    "recsys without a command": ([BIN / "tunesday-recsys"], None, "tunesday-recsys: ", "required: command"),
    "make serve before anything is published": (
        ["make", "--no-print-directory", "serve"],
        None,
        "make serve: ",
        "make run",
    ),
    "the offline evaluation without data": (
        [sys.executable, "bench/offline_eval.py", "--data", "no-such-folder"],
        None,
        "offline_eval: ",
        "make run",
    ),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_mistake_is_one_line_that_says_what_to_do(mistake, tmp_path):
    command, prepare, start, says = MISTAKES[mistake]
    more_env = prepare(tmp_path) if prepare else None
    done = subprocess.run(
        [str(part) for part in command],
        cwd=PROJECT_DIR,
        env={**clean_env(tmp_path), **(more_env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    # The daily job also logs its run as JSON lines; the export prints its progress; make adds its own.
    lines = [
        line
        for line in done.stderr.splitlines()
        if not line.startswith(("{", "exporting ", "make: *** ", "make[1]: *** "))
    ]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(start) and says in lines[0], lines[0]
