"""For tests of the real server: `running_gunicorn` starts the production server on loopback, and a
raw HTTP/1.1 client sends exactly the bytes it is given (a client library would refuse or repair
most of what the HTTP tests send) on a new connection and reads the answer to the end."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]


@contextmanager
def running_gunicorn(
    store_root: Path, log_path: Path, workers: int, env: dict | None = None, timeout: float = 60
) -> Iterator[int]:
    """gunicorn with serving/gunicorn.conf.py serving the store at `store_root` on a free loopback
    port, with `env` added to its environment and its output in `log_path`; yields the port once
    /readyz answers 200, and stops the server after."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "TUNESDAY_SERVING_STORE": str(store_root),
        "TUNESDAY_SERVING_BIND": f"127.0.0.1:{port}",
        "TUNESDAY_SERVING_WORKERS": str(workers),
        **(env or {}),
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "-c", "serving/gunicorn.conf.py"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + timeout
        while not _ready(port):
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"gunicorn did not start: {log_path.read_text()}")
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def refused_start(store_root: Path, env: dict) -> list[str]:
    """Start the production server with `env` added, expecting it to refuse: its stderr's lines."""
    env = {**os.environ, "TUNESDAY_SERVING_STORE": str(store_root), "TUNESDAY_SERVING_BIND": "127.0.0.1:0", **env}
    started = subprocess.run(
        [str(Path(sys.executable).with_name("gunicorn")), "-c", "serving/gunicorn.conf.py"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0, started.stderr[-2000:]
    return started.stderr.strip().splitlines()


def _ready(port: int) -> bool:
    try:
        return request(port, "GET", "/readyz").status == 200
    except OSError:
        return False


@dataclass
class Answer:
    status: int  # 0: no answer at all
    headers: dict[str, str]  # names lower-cased
    body: bytes


def exchange(port: int, raw: bytes, timeout: float = 10) -> Answer:
    """Send `raw` and read until the server closes."""
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed before reading all of it: the answer is still there to read
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return parse(bytes(received))


def request(
    port: int,
    method: str,
    target: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10,
) -> Answer:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return exchange(port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""), timeout)


def parse(received: bytes) -> Answer:
    head, _, body = received.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1."):
        return Answer(0, {}, received)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split(" ")[1]), headers, body)
