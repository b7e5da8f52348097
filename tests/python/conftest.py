"""Shared fixtures: a small generated dataset with injected bad rows, built into a DuckDB file."""

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tunesday import dbt, settings
from tunesday.dbt import DbtResult

PROJECT_DIR = Path(__file__).resolve().parents[2]
SHARED_DATA = PROJECT_DIR.parent / "shared" / "data"

# The test dataset is pinned in time, so results do not depend on the day the tests run.
END_DATE = "2026-11-01"  # exclusive: the last day with plays is RUN_DATE
RUN_DATE = "2026-10-31"
EARLIER_RUN_DATE = "2026-10-24"  # the BigQuery path builds this first, then RUN_DATE incrementally

# Apps the tests create log their experiment exposures here, not into the project's target/
# (a test that reads the log gives its app its own folder).
os.environ.setdefault(settings.EXPOSURE_LOG, tempfile.mkdtemp(prefix="tunesday-test-exposures-"))


@dataclass
class Warehouse:
    """A dbt build of a generated dataset: where everything is, and how to run dbt on it."""

    data_dir: Path
    duckdb_path: Path
    env: dict

    @property
    def env_target_path(self) -> Path:
        return Path(self.env["DBT_TARGET_PATH"])

    @property
    def manifest(self) -> dict:
        return json.loads((self.data_dir / "manifest.json").read_text())

    def dbt(self, *args: str) -> DbtResult:
        return run_dbt(list(args), self.env)

    def dbt_with(self, env: dict, *args: str) -> DbtResult:
        """dbt on the same raw data with another environment (another warehouse file)."""
        return run_dbt(list(args), env)

    def env_in(self, work: Path, duckdb_name: str = "warehouse.duckdb") -> dict:
        """The environment of dbt on this raw data into another warehouse file under `work`."""
        return dbt.duckdb_env(work, self.data_dir / "raw", work / duckdb_name)


def on_day(env: dict, day: dt.date | str) -> dict:
    """`env` for a dbt run that computes `day`: the run date in TUNESDAY_RUN_DATE, as `tunesday
    daily` passes it (tunesday/job/stages.py), rather than in `--vars`. A change of vars makes dbt
    parse the whole project again (~10 s); the run date in the environment is read only when a
    node runs (macro run_date), so a run of another day reuses the last parse."""
    return {**env, settings.RUN_DATE: str(day)}


def run_dbt(args: list[str], env: dict) -> DbtResult:
    return dbt.run(args, env, timeout=1200)


def generate(out: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "tunesday.generate", "--out", str(out), *args],
        cwd=PROJECT_DIR,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )


def raw_copy(raw: Path, copy: Path) -> Path:
    """A raw folder of links to `raw`'s files, so that files can be taken out and added."""
    for table in raw.iterdir():
        (copy / table.name).mkdir(parents=True)
        for part in table.glob("*.parquet"):
            (copy / table.name / part.name).symlink_to(part)
    return copy


def hold_back_late_plays(events: Path, day: str) -> pa.Table:
    """Take plays of `day` out of a listening_events folder (its files rewritten whole without
    them), to load them late: every tenth play of each listener (their event ids count up), so
    late plays close gaps between sessions, extend others and touch state already folded."""
    where = f"cast(played_at as date) = date '{day}' and event_id like '%7'"
    held = []
    for part in sorted(events.glob("*.parquet")):
        plays = pq.read_table(part)  # noqa: F841 (DuckDB reads it by name in the SQL below)
        taken = duckdb.sql(f"select * from plays where coalesce({where}, false)").to_arrow_table()
        kept = duckdb.sql(f"select * from plays where not coalesce({where}, false)").to_arrow_table()
        part.unlink()
        pq.write_table(kept, part)
        held.append(taken)
    return pa.concat_tables(held)


def arriving_now(plays: pa.Table) -> pa.Table:
    """Plays as a loader files them when they arrive: loaded_at is now (UTC). A run takes a
    listener's plays of a day it had already loaded as new by their loaded_at, so held-back plays
    that arrive late must carry their arrival (the generator stamps every row when it writes)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    index = plays.schema.get_field_index("loaded_at")
    return plays.set_column(
        index, plays.schema.field(index), pa.array([now] * plays.num_rows, plays.schema.field(index).type)
    )


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory) -> Warehouse:
    """300 listeners, 3 weeks, 1 % bad rows per table, built with `dbt build` (all tests)."""
    root = tmp_path_factory.mktemp("warehouse")
    data_dir = root / "data"
    generate(
        data_dir,
        "--users",
        "300",
        "--tracks",
        "3000",
        "--days",
        "21",
        "--seed",
        "7",
        "--bad-share",
        "0.01",
        "--end-date",
        END_DATE,
    )
    env = dbt.duckdb_env(root, data_dir / "raw", root / "warehouse.duckdb")
    wh = Warehouse(data_dir=data_dir, duckdb_path=root / "warehouse.duckdb", env=env)
    build = wh.dbt("build", "--vars", f"{{run_date: '{RUN_DATE}'}}")
    assert build.success, build.describe(6000)
    return wh


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not present at {SHARED_DATA}")
    return SHARED_DATA


# tryfirst: pytest-xdist reads the groups in its own pytest_collection_modifyitems, so they must
# be set before it runs (else each test is scheduled alone and a fixture is built in both processes).
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """`make pytest` runs the tests in two processes (pytest-xdist, `--dist loadgroup`): each
    group below runs whole in one of them, so an expensive fixture is built once per group. The
    BigQuery emulator's tests and the other users of `warehouse` are two groups (the warehouse is
    built in each: cheaper than waiting for each other); every other test file is a group of its
    own, since its module fixtures (a week of daily runs, real listeners) must not be split."""
    for item in items:
        module = item.path.stem
        if module == "test_bigquery_path":
            group = "bigquery"
        elif "warehouse" in getattr(item, "fixturenames", ()):
            group = "warehouse"
        else:
            group = module
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    """Under `--dist loadgroup`, xdist marks each test's group in its node id (`…@group`). If it did
    not (pytest-xdist#1386: with pytest 9.2 the mark is lost), the groups are silently split across
    processes and the expensive fixtures are built twice: stop at once instead."""
    if node.config.getvalue("dist") == "loadgroup" and ids and "@" not in ids[0]:
        pytest.exit(
            "pytest-xdist did not mark the test groups in the node ids (pytest-xdist#1386): "
            "install the pinned pytest (pip install -e '.[dev]')",
            returncode=4,
        )
