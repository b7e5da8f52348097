"""Where the job's dbt target keeps things: the warehouse it builds, the store it publishes to, the
lock file and the run log. One place that turns the TUNESDAY_* settings of a target into those."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tunesday import settings


@dataclass(frozen=True)
class Target:
    name: str  # dev (DuckDB), bigquery, bq_emulator
    environ: Mapping[str, str]  # the environment dbt and the export run with

    @property
    def is_duckdb(self) -> bool:
        return self.name == "dev"

    @property
    def duckdb_path(self) -> Path:
        return Path(settings.required(settings.DUCKDB_PATH, self.environ))

    @property
    def raw_dir(self) -> Path:
        """The raw Parquet folder the DuckDB build reads (BigQuery reads its raw dataset)."""
        return Path(settings.required(settings.RAW_DIR, self.environ))

    @property
    def store(self) -> Path:
        return Path(settings.required(settings.SERVING_STORE, self.environ))

    @property
    def lock_path(self) -> Path:
        """Beside the warehouse file on DuckDB; in the serving store for BigQuery (whose warehouse
        is no file): one run at a time per warehouse either way."""
        if self.is_duckdb:
            return self.duckdb_path.with_name(self.duckdb_path.name + ".lock")
        return self.store / "daily.lock"

    @property
    def bq_project(self) -> str:
        if self.name == "bq_emulator":
            return settings.required(settings.BQ_EMULATOR_PROJECT, self.environ)
        return settings.required(settings.BQ_PROJECT, self.environ)

    @property
    def bq_endpoint(self) -> str | None:
        return settings.value(settings.BQ_EMULATOR_ENDPOINT, self.environ) if self.name == "bq_emulator" else None

    @property
    def bq_dataset(self) -> str:
        return settings.required(settings.BQ_DATASET, self.environ)


def from_env(environ: Mapping[str, str]) -> Target:
    name = settings.value(settings.TARGET, environ)
    if name not in {"dev", "bigquery", "bq_emulator"}:
        raise ValueError(f"TUNESDAY_TARGET {name!r} is not dev, bigquery or bq_emulator")
    target = Target(name, environ)
    if name == "bigquery":
        target.bq_project  # noqa: B018 - the one setting without a default: missing, it is said at once
    return target


def duckdb_job_env(work: Path, raw_dir: Path, name: str) -> dict[str, str]:
    """The environment of a daily job of its own on DuckDB (tests, benchmarks): warehouse
    `work/NAME.duckdb`, store `work/NAME-store`, metrics `work/NAME.prom`, dbt's target and logs
    under `work/NAME`, and no TUNESDAY_RUN_DATE (the job sets it)."""
    from tunesday import dbt

    env = dbt.duckdb_env(work / name, raw_dir, work / f"{name}.duckdb")
    env[settings.SERVING_STORE] = str(work / f"{name}-store")
    env[settings.JOB_METRICS_FILE] = str(work / f"{name}.prom")
    env.pop(settings.RUN_DATE, None)
    return env
