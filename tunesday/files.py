"""Files written whole or not at all: the one home of temporary file + fsync + rename, used by the
loaders (tunesday/load/stores.py) and the snapshot store (serving/store.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def sync_directory(path: Path) -> None:
    """fsync a directory: the renames and deletions in it survive a crash."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_whole(path: Path, content: bytes | Callable[[BinaryIO], None]) -> None:
    """Write `path` whole or not at all: into a temporary file beside it (`.<name>.<pid>.tmp`, never
    read), fsynced, renamed over `path`, the directory fsynced. `content` is the bytes, or a function
    that writes them to the open file. On any error (a full disk) the temporary file is removed and
    `path` is as it was."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as file:
            if callable(content):
                content(file)
            else:
                file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    sync_directory(path.parent)
