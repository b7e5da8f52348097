"""pre-commit hook: refuse to commit build output or the shared real data (its licences forbid
copying it into the repository; ../shared/data/SOURCES.md).

    python ci/check_staged.py [--shared DIR] FILE...

A file is refused when:
- it is build output: under target/, logs/, dbt_packages/, a virtual environment or __pycache__,
  or a DuckDB database, a Python bytecode file or an egg-info;
- it is named like a file of the real exports (an MPD slice, a Spotify streaming history);
- its bytes are those of a file under the shared data folder (../shared/data beside the
  repository, or --shared DIR): compared by size, then by SHA-256.
One line per refused file, exit 1.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
BUILD_DIRS = {"target", "logs", "dbt_packages", "__pycache__", ".venv", ".venv-bqemu"}
BUILD_FILES = re.compile(r"\.(duckdb|duckdb\.wal|duckdb\.tmp|pyc)$|\.egg-info(/|$)")
REAL_EXPORTS = re.compile(
    r"(^|/)(mpd\.slice\.\d+-\d+\.json|StreamingHistory\w*\.json|Streaming_History_\w*\.json"
    r"|endsong_\d+\.json)$"
)


SHARED_DATA = PROJECT_DIR.parent / "shared" / "data"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def refusals(paths: list[str], folder: Path = SHARED_DATA) -> list[str]:
    found = []
    by_size: dict[int, list[Path]] = {}
    if folder.is_dir():
        for shared in folder.rglob("*"):
            if shared.is_file():
                by_size.setdefault(shared.stat().st_size, []).append(shared)
    for name in paths:
        parts = Path(name).parts
        if BUILD_DIRS & set(parts) or BUILD_FILES.search(name):
            found.append(f"{name}: build output, not source (see .gitignore)")
        elif REAL_EXPORTS.search(name):
            found.append(f"{name}: named like a real export; the shared data must not be copied here")
        elif os.path.isfile(name) and (same_size := by_size.get(os.path.getsize(name))):
            digest = _sha256(Path(name))
            copies = [shared for shared in same_size if _sha256(shared) == digest]
            if copies:
                found.append(f"{name}: a copy of {copies[0]}; the shared data must not be copied here")
    return found


def main(argv: list[str]) -> int:
    folder = SHARED_DATA
    if argv[:1] == ["--shared"]:
        folder, argv = Path(argv[1]), argv[2:]
    found = refusals(argv, folder)
    for line in found:
        print(f"check_staged: {line}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
