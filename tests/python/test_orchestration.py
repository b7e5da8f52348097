"""The daily job as a Flyte workflow (tunesday/orchestration/): run locally with `pyflyte run` on a
tiny generated dataset, packaged with `pyflyte package` as a cluster would receive it, and its
failure and retry rules."""

import datetime as dt
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import END_DATE, PROJECT_DIR, RUN_DATE, generate
from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2
from flytekit.exceptions.user import FlyteRecoverableException

from serving.store import Store
from tunesday import dbt, settings
from tunesday.job.lock import Lock
from tunesday.job.run_log import RunLog, RunLogRow
from tunesday.job.stages import STAGES, StageFailed
from tunesday.job.target import from_env
from tunesday.orchestration import tasks
from tunesday.orchestration.workflows import SCHEDULE

PYFLYTE = Path(sys.executable).parent / "pyflyte"  # beside this venv's python
WORKFLOWS = "tunesday/orchestration/workflows.py"


def job_env(work: Path, raw_dir: Path) -> dict:
    """A daily job's environment with everything under `work`: warehouse, store, metrics, dbt's
    target and logs, and flytekit's local scratch folders (TMPDIR)."""
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    return {
        **dbt.duckdb_env(work, raw_dir, work / "warehouse.duckdb"),
        settings.SERVING_STORE: str(work / "store"),
        settings.JOB_METRICS_FILE: str(work / "job.prom"),
        "TMPDIR": str(work / "tmp"),
        "COLUMNS": "250",  # pyflyte's error panel wraps at the terminal width
    }


def pyflyte(env: dict, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(PYFLYTE), *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )


def said(result: subprocess.CompletedProcess) -> str:
    """What pyflyte printed, on one line (its panels wrap and indent)."""
    return " ".join((result.stdout + result.stderr).split())


def run_log(env: dict) -> list[dict]:
    return RunLog(from_env(env)).rows()


@pytest.fixture(scope="module")
def flyte_day(tmp_path_factory):
    """`pyflyte run ... daily_workflow` once, on 30 listeners and 8 days without bad rows."""
    work = tmp_path_factory.mktemp("flyte")
    generate(
        work / "data",
        "--users",
        "30",
        "--tracks",
        "500",
        "--days",
        "8",
        "--seed",
        "3",
        "--bad-share",
        "0",
        "--end-date",
        END_DATE,
    )
    env = job_env(work, work / "data" / "raw")
    result = pyflyte(env, "run", WORKFLOWS, "daily_workflow", "--run_date", RUN_DATE)
    return env, result


def test_the_daily_workflow_runs_each_stage_as_a_task_and_publishes_the_day(flyte_day):
    env, result = flyte_day
    assert result.returncode == 0, said(result)[-3000:]
    current = Store(Path(env[settings.SERVING_STORE])).current()
    assert current["run_date"] == RUN_DATE
    assert result.stdout.strip().splitlines()[-1] == current["snapshot_id"]  # the workflow's output

    rows = run_log(env)
    assert [row["stage"] for row in rows] == list(STAGES)
    assert {row["status"] for row in rows} == {"success"}
    assert {row["command"] for row in rows} == {"stage"}
    assert len({row["run_id"] for row in rows}) == 1
    assert {row["run_date"] for row in rows} == {dt.date.fromisoformat(RUN_DATE)}
    by_stage = {row["stage"]: row for row in rows}
    assert by_stage["export"]["snapshot_id"] == by_stage["publish"]["snapshot_id"] == current["snapshot_id"]


def test_the_backfill_workflow_skips_a_published_day(flyte_day):
    env, _ = flyte_day
    before = run_log(env)
    result = pyflyte(env, "run", WORKFLOWS, "backfill_workflow", "--first", RUN_DATE, "--last", RUN_DATE)
    assert result.returncode == 0, said(result)[-3000:]
    assert f"{RUN_DATE} skipped: already published" in said(result)
    assert run_log(env) == before


def test_a_held_lock_fails_the_workflow_naming_the_holder(tmp_path):
    env = job_env(tmp_path, tmp_path / "raw")
    target = from_env(env)
    with Lock(target.lock_path) as lock:
        lock.note(run_id="holder0000000000", run_date="2026-10-30", stage=None)
        result = pyflyte(env, "run", WORKFLOWS, "daily_workflow", "--run_date", RUN_DATE)
    assert result.returncode == 1
    out = said(result)
    assert "FlyteRecoverableException" in out  # retried on a cluster: the other run may be ending
    holder = f"another run holds {target.lock_path}: run holder0000000000"
    assert f"build for run_date {RUN_DATE} not started: {holder}" in out
    assert Store(target.store).current() is None
    assert run_log(env) == []


def test_a_failed_stage_fails_its_task_with_the_stages_reason_and_is_not_retried(tmp_path, monkeypatch):
    env = job_env(tmp_path, tmp_path / "raw")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "store").mkdir()
    with pytest.raises(StageFailed) as failed:
        tasks.run_stage("publish", RUN_DATE, "run0000000000001", "no-such-snapshot")
    assert not isinstance(failed.value, FlyteRecoverableException)  # Flyte does not retry it
    assert str(failed.value) == (
        f"publish failed for run_date {RUN_DATE} (run run0000000000001): "
        f"no snapshot no-such-snapshot in {tmp_path / 'store'} to publish"
    )
    [row] = run_log(env)
    assert (row["run_id"], row["stage"], row["status"], row["command"]) == (
        "run0000000000001",
        "publish",
        "failed",
        "stage",
    )


def test_the_run_date_is_the_input_else_the_day_before_the_kickoff_else_yesterday():
    now = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
    assert tasks.run_date_of("2026-11-01", dt.datetime(2026, 11, 20, 2), now) == dt.date(2026, 11, 1)
    assert tasks.run_date_of("", dt.datetime(2026, 11, 20, 2, 0, 3), now) == dt.date(2026, 11, 19)
    # 01:30 in UTC+3 is 22:30 UTC the day before: the day before that is computed.
    kickoff = dt.datetime(2026, 11, 20, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    assert tasks.run_date_of("", kickoff, now) == dt.date(2026, 11, 18)
    assert tasks.run_date_of("", None, now) == dt.date(2026, 11, 24)
    with pytest.raises(StageFailed, match=r"^run date '2026-13-01' is not a date \(YYYY-MM-DD\)$"):
        tasks.run_date_of("2026-13-01", None, now)


def test_backfill_days_skip_published_days_unless_forced(tmp_path, monkeypatch):
    env = job_env(tmp_path, tmp_path / "raw")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    at = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    RunLog(from_env(env)).append(
        [
            RunLogRow(
                run_id="r1",
                command="daily",
                run_date=dt.date(2026, 10, 30),
                stage=stage,
                started_at=at,
                finished_at=at,
                seconds=0.0,
                status=status,
                rows=None,
                dbt_invocation_id=None,
                snapshot_id=None,
                error=None,
            )
            for stage, status in (("build", "success"), ("publish", "success"))
        ]
        + [
            RunLogRow(
                run_id="r2",
                command="daily",
                run_date=dt.date(2026, 10, 31),
                stage="publish",
                started_at=at,
                finished_at=at,
                seconds=0.0,
                status="failed",
                rows=None,
                dbt_invocation_id=None,
                snapshot_id=None,
                error="x",
            )
        ]
    )
    # 10-30 was published; 10-29 was caught up by its run; 10-31's publish failed: it runs again.
    assert tasks.days_to_run("2026-10-29", "2026-10-31") == ["2026-10-31"]
    assert tasks.days_to_run("2026-10-29", "2026-10-31", force=True) == ["2026-10-29", "2026-10-30", "2026-10-31"]
    with pytest.raises(StageFailed, match="^first 2026-10-31 is after last 2026-10-30$"):
        tasks.days_to_run("2026-10-31", "2026-10-30")


def _compiled_backfill(first: str, last: str) -> list:
    """The nodes the backfill's dynamic task hands a cluster for these days (force: no warehouse read)."""
    from flytekit.configuration import Image, ImageConfig, SerializationSettings
    from flytekit.core.context_manager import ExecutionState, FlyteContextManager
    from flytekit.core.type_engine import TypeEngine

    from tunesday.orchestration.workflows import backfill_days

    image = Image(name="default", fqn="tunesday", tag="test")
    serialization = SerializationSettings(
        image_config=ImageConfig(default_image=image), project="p", domain="d", version="v"
    )
    ctx = FlyteContextManager.current_context().with_serialization_settings(serialization)
    with FlyteContextManager.with_context(ctx) as ctx:
        task_mode = ctx.execution_state.with_params(mode=ExecutionState.Mode.TASK_EXECUTION)
        with FlyteContextManager.with_context(ctx.with_execution_state(task_mode)) as ctx:
            inputs = TypeEngine.dict_to_literal_map(
                ctx, {"first": first, "last": last, "force": True}, {"first": str, "last": str, "force": bool}
            )
            return backfill_days.dispatch_execute(ctx, inputs).nodes


def test_the_backfill_runs_each_day_after_the_day_before_published():
    nodes = _compiled_backfill("2026-10-29", "2026-10-31")
    names = [node.task_node.reference_id.name.rsplit(".", 1)[1] for node in nodes]
    assert names == ["start", *STAGES] * 3
    for day in range(3):
        chain = nodes[day * 5 : (day + 1) * 5]
        run_date = chain[0].inputs[[b.var for b in chain[0].inputs].index("run_date")].binding.scalar.primitive
        assert run_date.string_value == f"2026-10-{29 + day}"
        for before, after in zip(chain, chain[1:]):
            assert before.id in after.upstream_node_ids, f"{after.id} does not wait for {before.id}"
        if day:
            assert chain[0].upstream_node_ids == [nodes[day * 5 - 1].id]  # the day before's publish


def test_the_package_compiles_with_the_schedule_retries_and_nothing_cached(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path), "COLUMNS": "250"}
    package = tmp_path / "flyte-package.tgz"
    result = pyflyte(
        env,
        "--pkgs",
        "tunesday.orchestration",
        "package",
        "--image",
        "tunesday:test",
        "--output",
        str(package),
        timeout=300,
    )
    assert result.returncode == 0, said(result)[-3000:]
    with tarfile.open(package) as tar:
        files = {member.name: tar.extractfile(member).read() for member in tar.getmembers()}

    [plan_file] = [name for name in files if "tunesday_daily" in name]
    plan = launch_plan_pb2.LaunchPlan.FromString(files[plan_file])
    schedule = plan.spec.entity_metadata.schedule
    assert (schedule.cron_schedule.schedule, schedule.kickoff_time_input_arg) == (SCHEDULE, "kickoff_time")
    assert plan.spec.workflow_id.name == "tunesday.orchestration.workflows.daily_workflow"

    specs = {name: task_pb2.TaskSpec.FromString(data) for name, data in files.items() if name.endswith("_1.pb")}
    assert {spec.template.id.name.rsplit(".", 1)[1] for spec in specs.values()} == {"start", *STAGES, "backfill_days"}
    for spec in specs.values():
        metadata = spec.template.metadata
        assert metadata.retries.retries == tasks.RETRIES, spec.template.id.name
        assert not metadata.discoverable, f"{spec.template.id.name} is cached"
        if not spec.template.id.name.endswith(".backfill_days"):  # see its decorator
            assert metadata.timeout.seconds > 0, spec.template.id.name
        assert spec.template.container.image == "tunesday:test"

    # flytekit names each file after the entity and its kind: _1 task, _2 workflow, _3 launch plan.
    [daily_file] = [name for name in files if "daily_workflow" in name and name.endswith("_2.pb")]
    daily = workflow_pb2.WorkflowSpec.FromString(files[daily_file]).template
    order = {
        node.id: node.task_node.reference_id.name.rsplit(".", 1)[1]
        for node in daily.nodes
        if node.HasField("task_node")
    }
    upstream = {
        order[node.id]: {order[up] for up in node.upstream_node_ids} for node in daily.nodes if node.id in order
    }
    assert upstream == {
        "start": set(),
        "build": {"start"},
        "freshness": {"start", "build"},
        "export": {"start", "freshness"},
        "publish": {"start", "freshness", "export"},
    }
