"""One run at a time per warehouse: an exclusive `fcntl` lock on a file beside it.

The lock file also says what the holder is doing (run id, run date, stage, since when), so that
a second run is refused with a message naming the first, and a run that was killed mid-stage is
noticed by the next one (the file still names a stage: `Lock.unfinished`). The kernel releases
the lock when the holder's process ends, however it ends, so a killed run never blocks the next.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path


class JobLocked(Exception):
    """Another run holds the lock."""


@dataclass
class Lock:
    path: Path
    unfinished: dict | None = None  # what the file named when taken: the stage a killed run left
    _fd: int | None = field(default=None, repr=False)

    def acquire(self) -> Lock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise JobLocked(f"another run holds {self.path}: {_describe(holder)}") from None
        self._fd = fd
        previous = _read(fd)
        self.unfinished = previous if previous.get("stage") else None
        return self

    def note(self, **state: object) -> None:
        """Record what the holder does now (stage=None when it finished cleanly)."""
        assert self._fd is not None, "note() before acquire()"
        data = json.dumps({**state, "pid": os.getpid()}).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)
        os.fsync(self._fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> Lock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read(fd: int) -> dict:
    try:
        data = json.loads(os.pread(fd, 65536, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _describe(holder: dict) -> str:
    if not holder:
        return "a run that has not said what it does yet"
    parts = [f"run {holder.get('run_id', '?')}", f"run_date {holder.get('run_date', '?')}"]
    if holder.get("stage"):
        parts.append(f"stage {holder['stage']} since {holder.get('stage_started_at', '?')}")
    parts.append(f"pid {holder.get('pid', '?')}")
    return ", ".join(parts)
