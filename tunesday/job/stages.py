"""The stages of a day's run, in order, each recorded in ops_run_log and the metrics textfile:

    lock       one run per warehouse (tunesday/job/lock.py)
    build      dbt build --selector daily: every model of the day and its tests (selectors.yml)
    freshness  dbt source freshness: the events must have arrived (warn after 26 h, error after 48 h)
    export     the serving tables to a snapshot, validated and sealed, not yet published
    publish    CURRENT points at the snapshot: reached only when every stage before passed (with
               TUNESDAY_SNAPSHOT_REMOTE, uploaded there first: serving/remote.py)

The first stage that fails stops the run with its own exit code (EXIT_CODES) and a one-line
reason. Every stage is safe to run again: dbt's incremental models recompute the run's days, an
export writes a new snapshot, publishing points CURRENT at it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tunesday import dbt, logs, settings
from tunesday.command import one_line
from tunesday.contract import SCHEMAS
from tunesday.job import textfile
from tunesday.job.lock import JobLocked, Lock
from tunesday.job.run_log import RunLog, RunLogRow
from tunesday.job.target import Target

STAGES = ("build", "freshness", "export", "publish")
EXIT_CODES = {"lock": 3, "build": 4, "freshness": 5, "export": 6, "publish": 7}
DAILY_SELECTOR = "daily"


class StageFailed(Exception):
    """A stage failed: the message is its one-line reason; `outcome` what it got to (a failed
    build's dbt invocation id, to find its logs)."""

    def __init__(self, reason: str, outcome: Outcome | None = None) -> None:
        super().__init__(reason)
        self.outcome = outcome


@dataclass
class Outcome:
    status: str = "success"  # success, warn, failed
    rows: int | None = None
    dbt_invocation_id: str | None = None
    snapshot_id: str | None = None
    error: str | None = None
    detail: str = ""  # for the progress line


@dataclass
class Day:
    """One run of one day: what every stage needs."""

    target: Target
    run_date: dt.date
    command: str = "daily"
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    full_refresh: bool = False
    dbt_vars: dict = field(default_factory=dict)
    snapshot_id: str | None = None  # set by export, read by publish
    error: str | None = None  # the failed stage's one-line reason (an orchestrator's task fails with it)
    keep: int = 3
    progress: Callable[[str], None] = print

    def dbt_args(self, *args: str) -> list[str]:
        if not self.dbt_vars:
            return list(args)
        rendered = ", ".join(f"{key}: {_yaml_scalar(value)}" for key, value in self.dbt_vars.items())
        return [*args, "--vars", "{" + rendered + "}"]

    def progress_within(self, line: str) -> None:
        """A line of a stage's own progress (dbt's line per node, the export's per stage), indented
        under the stage lines."""
        self.progress(f"    {line.strip()}")

    def dbt_env(self) -> dict[str, str]:
        """The run date goes to dbt as TUNESDAY_RUN_DATE, not as a var: a change of vars makes dbt
        parse the whole project again, a changed environment variable only the files that read it."""
        return {**self.target.environ, settings.RUN_DATE: self.run_date.isoformat()}


def _yaml_scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


# The stages -----------------------------------------------------------------------------------


def build(day: Day) -> Outcome:
    if day.target.is_duckdb:
        _check_raw_folder(day.target.raw_dir)
    args = day.dbt_args("build", "--selector", DAILY_SELECTOR)
    if day.full_refresh:
        args.append("--full-refresh")
    result = dbt.run(args, day.dbt_env(), echo=day.progress_within)
    models = [node for node in result.nodes if node.resource_type == "model"]
    tests = [node for node in result.nodes if node.resource_type in {"test", "unit_test"}]
    outcome = Outcome(
        dbt_invocation_id=result.invocation_id,
        rows=_rows_built(day.target, result),
        detail=f"{len(models)} models, {len(tests)} tests",
    )
    if not result.success:
        raise StageFailed(_dbt_failure(result), outcome)
    return outcome


def _check_raw_folder(raw_dir: Path) -> None:
    """Every contract table has a file in the raw folder; what dbt would otherwise say is a raw
    view's "No files found", in an on-run-start hook."""
    missing = [table for table in SCHEMAS if not any((raw_dir / table).glob("*.parquet"))]
    if "listening_events" in missing:
        raise StageFailed(
            f"no raw plays in {raw_dir}: generate data (make generate), load your exports "
            "(make real DATA=folder), or point TUNESDAY_RAW_DIR at a raw folder"
        )
    if missing:
        raise StageFailed(
            f"the raw folder {raw_dir} has no files for {', '.join(missing)}: every contract table needs one "
            "(tunesday-load writes an empty file with the contract's schema where a table has none)"
        )


def freshness(day: Day) -> Outcome:
    result = dbt.run(day.dbt_args("source", "freshness"), day.dbt_env(), echo=day.progress_within)
    checked = [node for node in result.nodes if node.resource_type == "source"]
    late = [node for node in checked if node.status != "pass"]
    outcome = Outcome(dbt_invocation_id=result.invocation_id, detail=f"{len(checked)} sources checked")
    if (
        result.error
        or any(node.status not in {"pass", "warn"} for node in checked)
        or (not result.success and not late)
    ):
        raise StageFailed(_dbt_failure(result), outcome)
    if late:
        outcome.status = "warn"
        outcome.error = "; ".join(f"{node.name}: {node.status} ({node.message or 'late'})" for node in late)
    return outcome


def export(day: Day) -> Outcome:
    from serving.snapshot import export as export_snapshot
    from serving.store import Store, StoreError
    from serving.warehouse import BigQueryWarehouse, DuckDBWarehouse, ExportError, Warehouse

    try:
        warehouse: Warehouse
        if day.target.is_duckdb:
            warehouse = DuckDBWarehouse(str(day.target.duckdb_path))
        else:
            warehouse = BigQueryWarehouse(day.target.bq_project, day.target.bq_dataset, day.target.bq_endpoint)
        try:
            manifest = export_snapshot(
                warehouse,
                Store(day.target.store),
                day.run_date.isoformat(),
                keep=day.keep,
                progress=day.progress_within,
                publish=False,
            )
        finally:
            warehouse.close()
    except (ExportError, StoreError, OSError) as error:
        raise StageFailed(str(error)) from error
    day.snapshot_id = manifest["snapshot_id"]
    return Outcome(
        rows=sum(manifest["row_counts"].values()), snapshot_id=day.snapshot_id, detail=f"snapshot {day.snapshot_id}"
    )


def publish(day: Day) -> Outcome:
    """CURRENT -> the exported snapshot; with TUNESDAY_SNAPSHOT_REMOTE set, the remote's CURRENT
    first, the snapshot uploaded there (serving/remote.py): the fleet's hosts pull it from there."""
    from serving import remote as remotes
    from serving.snapshot import publish_exported
    from serving.store import Store, StoreError
    from serving.warehouse import ExportError

    if not day.snapshot_id:
        raise StageFailed("no snapshot to publish: the export stage has not run (give --snapshot-id)")
    try:
        remote = remotes.configured(day.target.environ)
        manifest = publish_exported(
            Store(day.target.store),
            day.snapshot_id,
            keep=day.keep,
            warn=lambda line: day.progress(f"  warning: {line}"),
            remote=remote,
        )
    except (ExportError, StoreError, OSError) as error:
        raise StageFailed(str(error)) from error
    if manifest["run_date"] != day.run_date.isoformat():
        raise StageFailed(f"snapshot {day.snapshot_id} is of run_date {manifest['run_date']}, not {day.run_date}")
    return Outcome(
        rows=sum(manifest["row_counts"].values()),
        snapshot_id=day.snapshot_id,
        detail=f"CURRENT -> {day.snapshot_id}" + (f", uploaded to {remote.url}" if remote else ""),
    )


RUNNERS: dict[str, Callable[[Day], Outcome]] = {
    "build": build,
    "freshness": freshness,
    "export": export,
    "publish": publish,
}


# Running them ---------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _dbt_failure(result: dbt.DbtResult) -> str:
    if result.error:
        return f"dbt failed: {result.error.splitlines()[0]}"
    failed = result.failed()
    if not failed:
        lines = [line for line in result.output.splitlines() if line.strip()]
        return f"dbt exited {result.exit_code}: {lines[-1].strip() if lines else 'no output'}"
    first = failed[0]
    failing_rows = first.failures and first.resource_type in {"test", "unit_test"}
    what = f"{first.failures} failing rows" if failing_rows else one_line(first.message or first.status, 400)
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return f"{len(failed)} of {len(result.nodes)} nodes failed: {first.resource_type} {first.name}: {what}{more}"


def _rows_built(target: Target, result: dbt.DbtResult) -> int | None:
    """Rows in the tables the build wrote: the DuckDB catalog's count (exact for tables), or on
    BigQuery what the adapter reported per model."""
    built = [
        node
        for node in result.nodes
        if node.resource_type == "model" and node.status == "success" and node.materialized != "view"
    ]
    if not target.is_duckdb:
        reported = [node.rows_affected for node in built if node.rows_affected is not None]
        return sum(reported) if reported else None
    if not target.duckdb_path.exists():
        return None
    import duckdb

    names = {node.name for node in built}
    with duckdb.connect(str(target.duckdb_path), read_only=True) as con:
        sizes = con.execute("select table_name, estimated_size from duckdb_tables()").fetchall()
    return sum(size for name, size in sizes if name in names)


class Recorder:
    """Writes each stage's row to ops_run_log and the metrics textfile, and says it on one line."""

    def __init__(self, day: Day, lock: Lock) -> None:
        self.day, self.lock = day, lock
        self.log = RunLog(day.target)
        self.metrics = textfile_path(day.target)

    def killed(self, unfinished: dict) -> None:
        """The stage a killed run left unfinished (the lock file names it): a row of its own."""
        try:
            started = dt.datetime.fromisoformat(unfinished["stage_started_at"])
            run_date = dt.date.fromisoformat(unfinished["run_date"])
        except (KeyError, TypeError, ValueError):
            return
        self.append(
            [
                RunLogRow(
                    run_id=str(unfinished.get("run_id")),
                    command=str(unfinished.get("command", "daily")),
                    run_date=run_date,
                    stage=str(unfinished["stage"]),
                    started_at=started,
                    finished_at=None,
                    seconds=None,
                    status="killed",
                    rows=None,
                    dbt_invocation_id=None,
                    snapshot_id=None,
                    error=f"the run (pid {unfinished.get('pid')}) ended in this stage without finishing it; "
                    f"noticed by run {self.day.run_id}",
                )
            ]
        )
        self.day.progress(
            f"  noticed run {unfinished.get('run_id')} killed in stage {unfinished['stage']} "
            f"(run_date {run_date}): recorded as killed"
        )
        logs.event(
            "stage",
            level="warning",
            stage=str(unfinished["stage"]),
            status="killed",
            run_date=run_date.isoformat(),
            run_id=str(unfinished.get("run_id")),
            noticed_by=self.day.run_id,
        )

    def append(self, rows: list[RunLogRow]) -> str | None:
        """Append to ops_run_log; None, or why it could not be written (one line)."""
        try:
            self.log.append(rows)
        except Exception as error:  # noqa: BLE001 - any failure to record becomes the run's one-line reason
            return f"ops_run_log could not be written: {type(error).__name__}: {str(error).splitlines()[0]}"
        return None

    def stage(self, name: str, started: dt.datetime, outcome: Outcome) -> str | None:
        """Record the stage; None, or why it could not be recorded."""
        finished = _now()
        seconds = (finished - started).total_seconds()
        unrecorded = self.append(
            [
                RunLogRow(
                    run_id=self.day.run_id,
                    command=self.day.command,
                    run_date=self.day.run_date,
                    stage=name,
                    started_at=started,
                    finished_at=finished,
                    seconds=round(seconds, 3),
                    status=outcome.status,
                    rows=outcome.rows,
                    dbt_invocation_id=outcome.dbt_invocation_id,
                    snapshot_id=outcome.snapshot_id,
                    error=outcome.error,
                )
            ]
        )
        textfile.record(
            self.metrics,
            name,
            outcome.status in {"success", "warn"},
            finished,
            self.day.run_date if name == "publish" and outcome.status == "success" else None,
        )
        detail = outcome.error if outcome.status != "success" else outcome.detail
        self.day.progress(f"{self.day.run_date}  {name:<9} {outcome.status:<7} {seconds:7.1f} s  {detail}")
        logs.event(
            "stage",
            level="info" if outcome.status == "success" else "warning" if outcome.status == "warn" else "error",
            stage=name,
            status=outcome.status,
            duration_ms=round(seconds * 1000, 1),
            run_date=self.day.run_date.isoformat(),
            run_id=self.day.run_id,
            command=self.day.command,
            snapshot_id=outcome.snapshot_id,
            rows=outcome.rows,
            dbt_invocation_id=outcome.dbt_invocation_id,
            error=outcome.error or unrecorded,
        )
        return unrecorded


def textfile_path(target: Target) -> Path:
    return Path(settings.required(settings.JOB_METRICS_FILE, target.environ))


@contextmanager
def locked(target: Target) -> Iterator[Lock]:
    """The warehouse's lock, or JobLocked at once."""
    lock = Lock(target.lock_path).acquire()
    try:
        yield lock
    finally:
        lock.release()


def run_day(day: Day, lock: Lock, stages: tuple[str, ...] = STAGES) -> str | None:
    """Run `stages` of `day` in order under `lock`; None, or "<stage> failed for run_date D: why"."""
    recorder = Recorder(day, lock)
    if lock.unfinished:
        recorder.killed(lock.unfinished)
        lock.unfinished = None
    if stages == STAGES:
        unrecorded = recorder.stage("lock", _now(), Outcome(detail=f"{lock.path}"))
        if unrecorded:
            return f"lock failed for run_date {day.run_date}: {unrecorded}"
    for name in stages:
        started = _now()
        lock.note(
            run_id=day.run_id,
            command=day.command,
            run_date=day.run_date.isoformat(),
            stage=name,
            stage_started_at=started.isoformat(),
        )
        try:
            outcome = RUNNERS[name](day)
        except StageFailed as error:
            outcome = error.outcome or Outcome(snapshot_id=day.snapshot_id)
            outcome.status, outcome.error = "failed", str(error)
        except Exception as error:  # noqa: BLE001 - an unforeseen error fails the stage in one line, not a traceback
            outcome = Outcome(
                status="failed",
                error=f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}",
                snapshot_id=day.snapshot_id,
            )
        unrecorded = recorder.stage(name, started, outcome)
        if outcome.status == "failed" or unrecorded:
            lock.note(run_id=day.run_id, run_date=day.run_date.isoformat(), stage=None)
            why = outcome.error if outcome.status == "failed" else f"it ran, but {unrecorded}"
            day.error = why
            return f"{name} failed for run_date {day.run_date}: {why}"
    lock.note(run_id=day.run_id, run_date=day.run_date.isoformat(), stage=None)
    return None


def daily(day: Day, stages: tuple[str, ...] = STAGES) -> tuple[int, str | None]:
    """The whole day (or the `stages` given): (exit code, one-line reason of a failure)."""
    try:
        with locked(day.target) as lock:
            failed = run_day(day, lock, stages)
            if failed:
                return EXIT_CODES[failed.split()[0]], f"{failed}; nothing published"
    except JobLocked as error:
        return EXIT_CODES["lock"], str(error)
    return 0, None


def days_to_backfill(
    target: Target, first: dt.date, last: dt.date, force: bool = False, progress: Callable[[str], None] = print
) -> list[dt.date]:
    """The days `first`..`last` a backfill runs, oldest first. Without `force` a day is skipped
    when it was published, or when a later day was: that run caught the day up (its incremental
    models load every day after the last one loaded), and running an earlier day after a later
    one would take the warehouse back in time."""
    published = set() if force else RunLog(target).published_run_dates()
    latest = max(published, default=None)
    days = []
    for offset in range((last - first).days + 1):
        day = first + dt.timedelta(days=offset)
        if day in published:
            progress(f"{day}  skipped: already published (--force runs it again)")
        elif latest and day < latest:
            progress(f"{day}  skipped: caught up by the run of {latest} (--force runs it again)")
        else:
            days.append(day)
    return days


def backfill(template: Day, first: dt.date, last: dt.date, force: bool = False) -> tuple[int, str | None]:
    """The days `days_to_backfill` gives, oldest first under one lock, stopping at the first failure."""
    if last < first:
        return 2, f"--from {first} is after --to {last}"
    try:
        with locked(template.target) as lock:
            for day in days_to_backfill(template.target, first, last, force, template.progress):
                this = Day(
                    target=template.target,
                    run_date=day,
                    command="backfill",
                    full_refresh=template.full_refresh and day == first,
                    dbt_vars=template.dbt_vars,
                    keep=template.keep,
                    progress=template.progress,
                )
                failed = run_day(this, lock)
                if failed:
                    return EXIT_CODES[failed.split()[0]], f"{failed}; the backfill stopped there"
    except JobLocked as error:
        return EXIT_CODES["lock"], str(error)
    return 0, None
