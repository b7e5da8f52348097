"""Run dbt: the one way the tests, the benchmarks and `tunesday-recsys continue` start it.

    result = dbt.run(["build", "--vars", "{run_date: '2026-10-31'}"], env)
    result.success, result.exit_code, result.nodes[0].status, result.peak_rss_mib

Each call runs dbt in a child process, ``python -m tunesday.dbt ARGS``, which calls dbt's Python
API (``dbtRunner``) and hands back what it returned as JSON. Why a child and not ``dbtRunner`` in
the caller's process:

- the warehouse file, raw folder and target are environment variables that ``profiles.yml`` reads
  when dbt starts; callers run dbt on several warehouse files side by side (tests, benchmarks),
  each with its own environment, and must not change their own ``os.environ`` to do it;
- dbt keeps global state (flags, adapters, the DuckDB connection that holds the file's write
  lock) for the life of its process: a child leaves nothing behind;
- a benchmark wants the peak memory of one dbt call, which is the child's own.

Why ``dbtRunner`` inside rather than the ``dbt`` command: the per-node results (status, timing,
message, failures) come as objects, so no caller parses dbt's console output. The console output
is still kept, for the messages of a failure.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from tunesday import settings

PROJECT_DIR = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class NodeResult:
    """One model, test, seed or snapshot of an invocation, as dbtRunner reported it."""

    unique_id: str
    name: str
    resource_type: str
    materialized: str | None
    status: str  # success, error, pass, fail, warn, skipped
    seconds: float
    message: str | None
    failures: int | None  # failing rows of a data test
    rows_affected: int | None = None  # rows the statement wrote, as the adapter reported it


@dataclass(frozen=True)
class DbtResult:
    args: tuple[str, ...]
    success: bool
    exit_code: int  # as the dbt command's: 0 ok, 1 a node failed, 2 dbt itself failed
    output: str  # dbt's console output (stdout and stderr)
    nodes: tuple[NodeResult, ...]
    seconds: float
    peak_rss_mib: float | None  # of the child that ran dbt; None if it died before reporting
    error: str | None = None  # the exception dbt raised, if any
    invocation_id: str | None = None  # dbt's id of this invocation (run_results.json, logs)

    def failed(self) -> list[NodeResult]:
        return [node for node in self.nodes if node.status in {"error", "fail"}]

    def describe(self, chars: int = 4000) -> str:
        """What went wrong, for an assertion or an exit message: the command and the output's end."""
        return f"dbt {' '.join(self.args)} exited {self.exit_code}:\n{self.output[-chars:]}"


def duckdb_env(
    work: Path, raw_dir: Path, duckdb_path: Path | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of dbt on DuckDB with its own warehouse file, target and log folders under
    `work`, so that runs side by side share no lock, manifest or log."""
    return {
        **(os.environ if base is None else base),
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
        settings.TARGET: "dev",
        settings.RAW_DIR: str(raw_dir),
        settings.DUCKDB_PATH: str(duckdb_path or work / "warehouse.duckdb"),
    }


def run(
    args: list[str],
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    echo: Callable[[str], None] | None = None,
) -> DbtResult:
    """dbt ARGS in a child process with `env` (default: this process's), from the project folder;
    each line dbt prints goes to `echo` as it comes (dbt's progress, a line per node), and all of
    them to the result's output. Past `timeout` seconds the child is killed (TimeoutExpired)."""
    environ = dict(os.environ if env is None else env)
    environ.setdefault("DBT_PROFILES_DIR", str(PROJECT_DIR))
    environ.setdefault("DBT_USE_COLORS", "false")  # its output is read as text, not on a terminal
    environ.setdefault("PYTHONUNBUFFERED", "1")  # each line as dbt prints it, not a pipe's buffer later
    with tempfile.TemporaryDirectory(prefix="tunesday-dbt-") as tmp:
        report = Path(tmp) / "result.json"
        started = time.perf_counter()
        command = [sys.executable, "-m", "tunesday.dbt", "--parent", str(os.getpid()), "--report", str(report), *args]
        with subprocess.Popen(
            command, cwd=PROJECT_DIR, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as child:
            timed_out = threading.Event()

            def kill() -> None:
                timed_out.set()
                child.kill()

            timer = threading.Timer(timeout, kill) if timeout else None
            if timer:
                timer.start()
            lines = []
            try:
                assert child.stdout is not None
                for line in child.stdout:
                    lines.append(line)
                    if echo and line.strip():
                        echo(line.rstrip("\n"))
                child.wait()
            finally:
                if timer:
                    timer.cancel()
            if timed_out.is_set():
                raise subprocess.TimeoutExpired(command, timeout or 0, output="".join(lines))
        seconds = time.perf_counter() - started
        reported = json.loads(report.read_text()) if report.exists() else {}
    return DbtResult(
        args=tuple(args),
        success=child.returncode == 0 and reported.get("success", False),
        exit_code=child.returncode,
        output="".join(lines),
        nodes=tuple(NodeResult(**node) for node in reported.get("nodes", [])),
        seconds=seconds,
        peak_rss_mib=reported.get("peak_rss_mib"),
        error=reported.get("error"),
        invocation_id=reported.get("invocation_id"),
    )


def _die_with_parent(parent: int) -> None:
    """In the child, first thing: the kernel kills it when its parent dies (Linux's
    PR_SET_PDEATHSIG), so a killed daily job leaves no dbt behind writing to the warehouse. A
    parent that died before this ran has left the child to init: it stops at once.

    Set here, not in a `preexec_fn` between fork and exec: that is unsafe in a parent with threads
    (the exposure log's writer, a test's server), whose locks the forked child may inherit held."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # not Linux: the child may outlive a killed caller
    if os.getppid() != parent:
        os._exit(1)


def _node_result(result) -> NodeResult:
    node = result.node
    return NodeResult(
        unique_id=node.unique_id,
        name=node.name,
        resource_type=str(node.resource_type),
        materialized=getattr(getattr(node, "config", None), "materialized", None),
        status=str(result.status),
        seconds=float(result.execution_time or 0.0),
        message=result.message,
        failures=getattr(result, "failures", None),
        rows_affected=_rows_affected(getattr(result, "adapter_response", None)),
    )


def _rows_affected(response) -> int | None:
    rows = (response or {}).get("rows_affected") if isinstance(response, dict) else None
    return rows if isinstance(rows, int) and rows >= 0 else None


def _peak_rss_mib() -> float:
    """This process's peak RSS (and any child's), in MiB: Linux reports KiB."""
    return max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024


def main(argv: list[str] | None = None) -> int:
    """The child: `[--parent PID] [--report FILE] DBT_ARGS...`; dbt's exit code, and its results as JSON in FILE."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--parent"]:
        _die_with_parent(int(argv[1]))
        argv = argv[2:]
    from dbt.cli.main import dbtRunner  # here: importing dbt costs a second the parent never pays
    from dbt_common.invocation import get_invocation_id

    report = None
    if argv[:1] == ["--report"]:
        report, argv = Path(argv[1]), argv[2:]
    outcome = dbtRunner().invoke(argv)
    exit_code = 0 if outcome.success else 2 if outcome.exception else 1
    if report:
        results = getattr(outcome.result, "results", None) or []
        report.write_text(
            json.dumps(
                {
                    "success": outcome.success,
                    "error": None
                    if outcome.exception is None
                    else f"{type(outcome.exception).__name__}: {outcome.exception}",
                    "nodes": [asdict(_node_result(result)) for result in results if hasattr(result, "node")],
                    "peak_rss_mib": _peak_rss_mib(),
                    "invocation_id": get_invocation_id(),
                }
            )
        )
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
