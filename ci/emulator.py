"""Start and stop the local BigQuery emulator (bqemulator) on loopback.

It lives in its own virtual environment, `.venv-bqemu` (made by `make .venv-bqemu/.installed`),
because its pins clash with dbt-duckdb's. Used by the BigQuery-path tests:

    with running_emulator() as endpoint:      # "http://127.0.0.1:<port>"
        ...
"""

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tunesday import settings

PROJECT_DIR = Path(__file__).resolve().parents[1]
EMULATOR_VENV = PROJECT_DIR / ".venv-bqemu"
# The project dbt's bq_emulator target uses (profiles.yml reads the same setting).
EMULATOR_PROJECT = settings.value(settings.BQ_EMULATOR_PROJECT)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_emulator(workdir: Path, timeout: float = 60.0) -> Iterator[str]:
    """Run bqemulator on free loopback ports for the duration of the block; yield its endpoint."""
    binary = EMULATOR_VENV / "bin" / "bqemulator"
    if not binary.exists():
        raise RuntimeError(f"{binary} is missing: run `make .venv-bqemu/.installed` first")
    rest_port, grpc_port = free_port(), free_port()
    endpoint = f"http://127.0.0.1:{rest_port}"
    workdir.mkdir(parents=True, exist_ok=True)
    log = (workdir / "bqemulator.log").open("wb")
    # HOME: where its DuckDB finds the spatial extension installed with the venv.
    env = {**os.environ, "HOME": str(EMULATOR_VENV / "home")}
    process = subprocess.Popen(
        [
            str(binary),
            "start",
            "--rest-host",
            "127.0.0.1",
            "--rest-port",
            str(rest_port),
            "--grpc-port",
            str(grpc_port),
            "--project",
            EMULATOR_PROJECT,
        ],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_until_ready(endpoint, process, timeout, workdir / "bqemulator.log")
        yield endpoint
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _wait_until_ready(endpoint: str, process: subprocess.Popen, timeout: float, log: Path) -> None:
    url = f"{endpoint}/bigquery/v2/projects/{EMULATOR_PROJECT}/datasets"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"bqemulator exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"bqemulator did not answer on {url} within {timeout:.0f} s")
