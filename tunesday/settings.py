"""Every ``TUNESDAY_*`` environment variable, its default and what it means: the one place Python
reads them, so a default is written once.

dbt reads the same variables itself (``profiles.yml``, ``env_var()`` in macros and sources);
``tests/python/test_settings.py`` checks that its defaults are these. Values are read when asked
for, not at import, because tests and benchmarks point child processes at other warehouse files
through the environment.

    settings.value(DUCKDB_PATH)     # the environment's value, else the default
    settings.required(BQ_PROJECT)   # SettingMissing (a one-line message) when unset
    settings.given(BQ_EMULATOR_ENDPOINT)   # the environment's value, None when unset
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None  # None: no default (required where used, or computed, see `what`)
    what: str


class SettingMissing(Exception):
    """A setting with no default is needed and not set."""


def _define(*settings: Setting) -> dict[str, Setting]:
    return {setting.name: setting for setting in settings}


SETTINGS = _define(
    Setting("TUNESDAY_TARGET", "dev", "dbt target: `dev` (DuckDB), `bigquery`, or `bq_emulator` (CI)"),
    Setting("TUNESDAY_DUCKDB_PATH", "target/tunesday.duckdb", "the DuckDB warehouse file"),
    Setting(
        "TUNESDAY_DUCKDB_MEMORY_LIMIT",
        "40%",
        "DuckDB's memory limit (`8GB`, or a share of the RAM); past it DuckDB spills to the temp folder",
    ),
    Setting(
        "TUNESDAY_DBT_THREADS",
        "1",
        "models dbt builds at once on DuckDB (each query already uses every "
        "core; concurrent ones share the memory limit)",
    ),
    Setting("TUNESDAY_DUCKDB_TEMP_DIR", None, "where DuckDB spills (default: `<warehouse file>.tmp`, beside it)"),
    Setting("TUNESDAY_RAW_DIR", "target/data/raw", "folder of raw Parquet files (DuckDB)"),
    Setting(
        "TUNESDAY_BQ_PROJECT",
        None,
        "BigQuery project (required for target `bigquery`, "
        "`tunesday-load --bigquery` and `tunesday-serving export --source bigquery`)",
    ),
    Setting("TUNESDAY_BQ_DATASET", "tunesday", "BigQuery datasets of the models: each stage in `<this>_<stage>`"),
    Setting("TUNESDAY_BQ_RAW_DATASET", "tunesday_raw", "BigQuery dataset of the raw tables"),
    Setting("TUNESDAY_BQ_LOCATION", "EU", "BigQuery location"),
    Setting("TUNESDAY_BQ_MAX_BYTES_BILLED", "100000000000", "per-query cap on bytes billed (100 GB)"),
    Setting("TUNESDAY_BQ_EMULATOR_PROJECT", "test-project", "the emulator's project (target `bq_emulator`)"),
    Setting(
        "TUNESDAY_BQ_EMULATOR_ENDPOINT",
        "http://127.0.0.1:9050",
        "the emulator's REST endpoint (target `bq_emulator`); when set, `tunesday-serving export "
        "--source bigquery` reads from the emulator",
    ),
    Setting("TUNESDAY_SERVING_STORE", "target/serving", "the serving snapshot store"),
    Setting(
        "TUNESDAY_EXPOSURE_LOG",
        "target/exposures",
        "where the serving shim logs experiment exposures "
        "(serving/exposures.py), for `tunesday-load exposures` to ship",
    ),
    Setting("TUNESDAY_SERVING_BIND", "127.0.0.1:8080", "address gunicorn listens on"),
    Setting("TUNESDAY_SERVING_WORKERS", None, "gunicorn workers (default: one per core)"),
    Setting(
        "TUNESDAY_SNAPSHOT_REMOTE",
        None,
        "where a fleet of serving hosts gets its snapshots: a folder, "
        "`file:///…`, `gs://bucket/prefix` or `s3://bucket/prefix` (fsspec); when set, publishing uploads "
        "the snapshot there and `tunesday-serving pull` brings it to each host (default: none, a host "
        "serves what it exports)",
    ),
    Setting(
        "TUNESDAY_RUN_DATE",
        None,
        "the day a dbt run computes (YYYY-MM-DD) when `--vars` gives no "
        "`run_date`; `tunesday daily` sets it (default: the day the run started, UTC)",
    ),
    Setting(
        "TUNESDAY_JOB_METRICS_FILE",
        "target/tunesday_job.prom",
        "the daily job's Prometheus metrics (node_exporter textfile): last success per stage",
    ),
    Setting(
        "TUNESDAY_API_TOKENS",
        None,
        "comma-separated API tokens; when this or the tokens file is set, "
        "every `/v1` request needs `Authorization: Bearer <token>` (default: no tokens, the API is open)",
    ),
    Setting(
        "TUNESDAY_API_TOKENS_FILE",
        None,
        "a file of API tokens, one a line, re-read within a second when it changes (rotation without a restart)",
    ),
    Setting(
        "TUNESDAY_LOG_LEVEL",
        "info",
        "level of the JSON-lines logs of the serving shim and the daily job: "
        "debug, info (the shim logs every request), warning, error or critical",
    ),
)

TARGET = "TUNESDAY_TARGET"
DUCKDB_PATH = "TUNESDAY_DUCKDB_PATH"
RAW_DIR = "TUNESDAY_RAW_DIR"
DUCKDB_MEMORY_LIMIT = "TUNESDAY_DUCKDB_MEMORY_LIMIT"
DBT_THREADS = "TUNESDAY_DBT_THREADS"
DUCKDB_TEMP_DIR = "TUNESDAY_DUCKDB_TEMP_DIR"
BQ_PROJECT = "TUNESDAY_BQ_PROJECT"
BQ_DATASET = "TUNESDAY_BQ_DATASET"
BQ_RAW_DATASET = "TUNESDAY_BQ_RAW_DATASET"
BQ_LOCATION = "TUNESDAY_BQ_LOCATION"
BQ_EMULATOR_PROJECT = "TUNESDAY_BQ_EMULATOR_PROJECT"
BQ_EMULATOR_ENDPOINT = "TUNESDAY_BQ_EMULATOR_ENDPOINT"
SERVING_STORE = "TUNESDAY_SERVING_STORE"
SERVING_BIND = "TUNESDAY_SERVING_BIND"
EXPOSURE_LOG = "TUNESDAY_EXPOSURE_LOG"
SERVING_WORKERS = "TUNESDAY_SERVING_WORKERS"
SNAPSHOT_REMOTE = "TUNESDAY_SNAPSHOT_REMOTE"
API_TOKENS = "TUNESDAY_API_TOKENS"
JOB_METRICS_FILE = "TUNESDAY_JOB_METRICS_FILE"
RUN_DATE = "TUNESDAY_RUN_DATE"
API_TOKENS_FILE = "TUNESDAY_API_TOKENS_FILE"
LOG_LEVEL = "TUNESDAY_LOG_LEVEL"


def given(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The environment's value, None when unset or empty: for a setting whose presence switches
    something on (an emulator endpoint)."""
    _known(name)
    return (os.environ if environ is None else environ).get(name) or None


def value(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The environment's value, else the default (None for a setting without one)."""
    found = given(name, environ)
    return found if found is not None else SETTINGS[name].default


def required(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The value; SettingMissing, with what the setting is, when it is neither set nor defaulted."""
    found = value(name, environ)
    if found is None:
        raise SettingMissing(f"{name} is not set ({SETTINGS[name].what})")
    return found


def _known(name: str) -> None:
    if name not in SETTINGS:
        raise KeyError(f"{name} is not a tunesday setting (see tunesday/settings.py)")
