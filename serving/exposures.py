"""The shim's exposure log: which variant of which experiment a listener was served, on which
surface, when, and from which snapshot (issue 19; README, "Experiments").

serving/api.py records an exposure each time it serves a surface that an experiment's variant
ordered (the snapshot says which: serving/documents.py). Recording never blocks a request and costs
it next to nothing: `record` appends a tuple to this process's in-memory queue (a deque append,
atomic under the GIL), and a background thread writes the queue out every FLUSH_SECONDS as JSON
lines, with one write() per flush. When the queue holds MAX_PENDING records (the disk stalled, or
failed) new ones are dropped and counted (tunesday_exposures_dropped_total) rather than held
without bound or waited for; a write that fails is logged and its records counted as dropped.

Files, one per process and UTC hour, in TUNESDAY_EXPOSURE_LOG (default target/exposures):

    exposures-<YYYYmmddTHH>Z-<host>-<pid>-<start>.jsonl.open   being appended to: never shipped while young
    exposures-<YYYYmmddTHH>Z-<host>-<pid>-<start>.jsonl        closed: complete and fsynced

The writer closes a file (fsync, rename) at its first flush in a later hour, and at exit. A
process killed with SIGKILL leaves its `.open` file behind: the loader ships one once it has not
been written to for tunesday.experiments.ABANDONED_SECONDS (a live writer would have closed it),
its torn last line, if any, set aside as malformed. The file names are tunesday.experiments'.
Lines are records of the raw contract's `exposures` table (tunesday.contract);
`tunesday-load exposures DIR` ships them (tunesday/load/exposures.py), and the exposure id makes a
line shipped twice one exposure (staging drops the duplicate).

Fork-safe: the writer thread starts at the first record of each process (gunicorn forks its workers
after importing the app).
"""

from __future__ import annotations

import atexit
import collections
import datetime as dt
import json
import os
import socket
import threading
from pathlib import Path

from serving.metrics import EXPOSURES_DROPPED as DROPPED
from serving.metrics import EXPOSURES_WRITTEN as WRITTEN
from tunesday import logs
from tunesday.experiments import CLOSED_SUFFIX, EXPOSURE_FILE_PREFIX, OPEN_SUFFIX
from tunesday.files import sync_directory

FLUSH_SECONDS = 0.5
MAX_PENDING = 100_000


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ExposureLog:
    """One process's exposure log in `directory` (see the module's doc)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._pending: collections.deque = collections.deque()
        self._pid: int | None = None
        self._lock = threading.Lock()  # starting the writer, and flushing
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sequence = 0
        self._file: tuple[str, int, Path] | None = None  # (hour, fd, path of the .open file)

    def record(self, user_id: str, experiment_id: str, variant: str, surface: str, snapshot_id: str) -> None:
        """Queue one exposure (never blocks: a full queue drops it and counts it)."""
        if self._pid != os.getpid():
            self._start()
        if len(self._pending) >= MAX_PENDING:
            DROPPED.inc()
            return
        self._pending.append((_utc_now(), user_id, experiment_id, variant, surface, snapshot_id))

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            # After a fork: the parent's queue, thread and file are not this process's.
            self._pending.clear()
            self._file, self._sequence, self._stop = None, 0, threading.Event()
            # <host>-<pid>-<start µs>: this log's own, even beside another log of the same process
            # (an app made twice) writing to the same folder in the same hour.
            host = socket.gethostname().split(".")[0] or "host"
            self._id_prefix = f"{host}-{os.getpid()}-{int(_utc_now().timestamp() * 1e6)}"
            self._thread = threading.Thread(target=self._run, name="exposure-log", daemon=True)
            self._thread.start()
            self._pid = os.getpid()
            atexit.register(self.close)

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        """Write what is queued (and close the file of an hour that is over)."""
        with self._lock:
            if self._pid != os.getpid():
                return
            hour = _utc_now().strftime("%Y%m%dT%HZ")
            if self._file is not None and self._file[0] != hour:
                self._close_file()
            lines = []
            while self._pending:
                exposed_at, user_id, experiment_id, variant, surface, snapshot_id = self._pending.popleft()
                self._sequence += 1
                lines.append(
                    json.dumps(
                        {
                            "exposure_id": f"{self._id_prefix}-{self._sequence}",
                            "user_id": user_id,
                            "experiment_id": experiment_id,
                            "variant": variant,
                            "surface": surface,
                            "exposed_at": exposed_at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
                            "snapshot_id": snapshot_id,
                        },
                        separators=(",", ":"),
                    )
                )
            if not lines:
                return
            data = ("\n".join(lines) + "\n").encode()
            try:
                if self._file is None:
                    self._open_file(hour)
                assert self._file is not None
                fd = self._file[1]
                written = os.write(fd, data)
                if written != len(data):
                    # A full disk: end the line cut short (the loader sets it aside), so that the
                    # next write starts a whole line. The batch counts as dropped, though its
                    # first lines may be whole.
                    try:
                        os.write(fd, b"\n")
                    except OSError:
                        pass
                    raise OSError(f"wrote {written} of {len(data)} bytes")
            except OSError as error:
                DROPPED.inc(len(lines))
                logs.event(
                    "exposure_log_write_failed",
                    level="warning",
                    exposures=len(lines),
                    directory=str(self.directory),
                    error=str(error),
                )
                return
            WRITTEN.inc(len(lines))

    def close(self) -> None:
        """Flush and close this process's file (at exit). Exposures recorded after it are written by
        the next flush or close: the one at exit, at the latest."""
        if self._pid != os.getpid():
            return
        self._stop.set()
        self.flush()
        with self._lock:
            self._close_file()

    def _open_file(self, hour: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{EXPOSURE_FILE_PREFIX}{hour}-{self._id_prefix}{OPEN_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._file = (hour, fd, path)

    def _close_file(self) -> None:
        """fsync the file and rename it closed: a closed file is complete."""
        if self._file is None:
            return
        _, fd, path = self._file
        self._file = None
        try:
            os.fsync(fd)
            os.close(fd)
            closed = path.with_name(path.name.removesuffix(OPEN_SUFFIX) + CLOSED_SUFFIX)
            os.replace(path, closed)
            sync_directory(path.parent)
        except OSError as error:
            logs.event("exposure_log_close_failed", level="warning", path=str(path), error=str(error))
