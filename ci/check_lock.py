"""CI: each virtual environment holds exactly its lock, no more, no less (CONTRIBUTING.md, "The lock").

    python ci/check_lock.py VENV LOCK [VENV LOCK ...]

For each pair: `pip freeze --all` of VENV (less pip itself and editable installs: the project)
against the `name==version` lines of LOCK whose environment markers hold for VENV's Python. Prints
one line per difference and exits 1 if there is any.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")
# pip vendors packaging: every venv can evaluate markers for its own interpreter.
MARKERS = """
import json, sys
from pip._vendor.packaging.markers import Marker
print(json.dumps([Marker(m).evaluate() if m else True for m in json.loads(sys.stdin.read())]))
"""


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(lock: Path, python: Path) -> dict[str, str]:
    """The lock's pins that apply to `python` (name -> version)."""
    pins = [match.groups() for match in map(PIN.match, lock.read_text().splitlines()) if match]
    applies = json.loads(
        subprocess.run(
            [str(python), "-c", MARKERS],
            input=json.dumps([m for _, _, m in pins]),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    return {normalized(name): version for (name, version, _), ok in zip(pins, applies, strict=True) if ok}


def installed(python: Path) -> dict[str, str]:
    frozen = subprocess.run(
        [str(python), "-m", "pip", "freeze", "--all", "--exclude-editable"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    pins = {}
    for line in frozen:
        if " @ " in line:  # installed from a file or URL, not the index the lock's hashes are for
            name, _, source = line.partition(" @ ")
            pins[name] = f"(from {source})"
        elif "==" in line:
            name, _, version = line.partition("==")
            pins[name] = version
    return {normalized(name): version for name, version in pins.items() if normalized(name) != "pip"}


def differences(venv: Path, lock: Path) -> list[str]:
    python = venv / "bin" / "python"
    want, have = locked(lock, python), installed(python)
    found = []
    for name in sorted(set(want) | set(have)):
        if name not in have:
            found.append(f"{venv}: {name}=={want[name]} is locked in {lock} but not installed")
        elif name not in want:
            found.append(f"{venv}: {name}=={have[name]} is installed but not in {lock}")
        elif want[name] != have[name]:
            found.append(f"{venv}: {name} is {have[name]}, {lock} locks {want[name]}")
    return found


def main(argv: list[str]) -> int:
    if not argv or len(argv) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    found = [
        line for venv, lock in zip(argv[::2], argv[1::2], strict=True) for line in differences(Path(venv), Path(lock))
    ]
    for line in found:
        print(f"check_lock: {line}", file=sys.stderr)
    if found:
        print(
            "check_lock: reinstall from the lock (rm -rf the venv; make test), or regenerate it (make lock)",
            file=sys.stderr,
        )
        return 1
    print(f"check_lock: {', '.join(argv[::2])} hold exactly their locks")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
