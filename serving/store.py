"""The snapshot store: where exports publish snapshots and the request side finds the current one.

Layout (one directory, `TUNESDAY_SERVING_STORE`, default target/serving):
    snapshots/<snapshot_id>.sqlite          one per export; <snapshot_id> = <run_date>_<UTC export time>
    snapshots/<snapshot_id>.manifest.json   its manifest
    snapshots/<snapshot_id>.sqlite.partial  an export or pull in progress (or killed): never read
    .<name>.<pid>.tmp                       a file being written (`tunesday.files.write_whole`): never read
    CURRENT                                 JSON: the published snapshot's manifest
    PULLED                                  JSON: what this host's puller last did (serving/remote.py)

A remote (serving/remote.py) has the same layout, without PULLED: a fleet's hosts pull from it.

What keeps it whole, whatever stops a writer (a kill, a full disk, a crash):
- every file is written whole or not at all (`tunesday.files.write_whole`: temporary file, fsync, rename,
  fsync of the directory), so a reader finds the old version or the new one, never a part;
- a published snapshot file is never written again: an export writes a new file and renames it
  into place once it is complete, validated and fsynced;
- its manifest records the file's sha256 (computed once, by the export) and its stat when it was
  published (`file_stat`: inode, size, mtime and ctime; no write can leave all four as they were,
  and ctime cannot be set back). `verify` trusts a file with that same stat without reading it,
  and hashes any other in full. So a swap costs each worker a stat() (10 µs) instead of a read of
  every byte: 6 s warm, 9 s cold for the 3.3 GB snapshot of 100,000 listeners here, during which
  a sync worker answers nothing, at every publish (bench/store_verify_bench.py); a file written
  to since it was published is still caught by its checksum. The export hashes the file while it
  validates it, so the checksum costs the export little;
- one export, rollback or pull (serving/remote.py) at a time (`exclusive`): what one writes another
  never deletes as a leftover.

A malformed CURRENT or manifest (not JSON, `null`, `[]`, keys missing, a snapshot id that is not
one) is a StoreError with a one-line reason; `published` skips such manifests with a warning, so
one bad file never hides the others.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from serving.contract import SERVING_TABLES
from serving.documents import SCHEMA_VERSION
from tunesday.files import sync_directory, write_whole

#: A snapshot id: a file name without a path (exports give <run_date>_<UTC export time>, which
#: sort by age; serving/snapshot.py).
SNAPSHOT_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_:-]{0,127}")
SNAPSHOT_FILE = re.compile(rf"({SNAPSHOT_ID.pattern})\.(sqlite|manifest\.json)")
#: The store's layout, also that of a remote (serving/remote.py).
SNAPSHOTS_DIR = "snapshots"
CURRENT_FILE = "CURRENT"


def snapshot_file(snapshot_id: str) -> str:
    return f"{snapshot_id}.sqlite"


def manifest_file(snapshot_id: str) -> str:
    return f"{snapshot_id}.manifest.json"


#: The settings a manifest carries: serving_settings' columns but its run_date.
_SETTINGS = set(SERVING_TABLES["serving_settings"]) - {"run_date"}


class StoreError(Exception):
    """A store file is missing, malformed, or not what its manifest says (a one-line reason)."""


def warn_on_stderr(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr)


# Checksums -----------------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()  # releases the GIL while it hashes


def file_stat(path: Path | str) -> dict[str, int]:
    """What changes whenever a file is written to, truncated or replaced."""
    stat = os.stat(path)
    return {"bytes": stat.st_size, "inode": stat.st_ino, "mtime_ns": stat.st_mtime_ns, "ctime_ns": stat.st_ctime_ns}


# Manifests -------------------------------------------------------------------------------------


def parse_manifest(text: str, where: str) -> dict:
    """A manifest with what every reader of it needs, or StoreError saying what is wrong."""
    try:
        manifest = json.loads(text)
    except ValueError as error:
        raise StoreError(f"{where} is not JSON ({error})") from error
    if not isinstance(manifest, dict):
        raise StoreError(f"{where} holds {json.dumps(manifest)[:40]}, not a manifest")
    problems = [f"{key} {problem}" for key, problem in _manifest_problems(manifest).items() if problem]
    if problems:
        raise StoreError(f"{where} is not a valid manifest: {', '.join(problems)}")
    return manifest


def _manifest_problems(manifest: dict) -> dict[str, str | None]:
    def check(key: str, test: Callable[[object], bool], wanted: str) -> str | None:
        if key not in manifest:
            return "is missing"
        return None if test(manifest[key]) else f"is not {wanted}"

    return {
        "snapshot_id": check(
            "snapshot_id", lambda v: isinstance(v, str) and bool(SNAPSHOT_ID.fullmatch(v)), "a snapshot id"
        ),
        "run_date": check("run_date", lambda v: _parses(dt.date.fromisoformat, v), "a date"),
        "built_at": check(
            "built_at",
            lambda v: (
                isinstance(v, str)
                and _parses(dt.datetime.fromisoformat, v)
                and dt.datetime.fromisoformat(v).tzinfo is not None
            ),
            "a time with its zone",
        ),
        "schema_version": check("schema_version", lambda v: type(v) is int, "an integer"),
        "checksum_sha256": check(
            "checksum_sha256", lambda v: isinstance(v, str) and bool(re.fullmatch(r"[0-9a-f]{64}", v)), "a sha256"
        ),
        "row_counts": check("row_counts", lambda v: isinstance(v, dict), "an object"),
        "settings": check(
            "settings",
            lambda v: isinstance(v, dict) and set(v) == _SETTINGS,
            f"an object of {', '.join(sorted(_SETTINGS))}",
        ),
    }


def _parses(parse: Callable[[str], object], value: object) -> bool:
    try:
        return isinstance(value, str) and parse(value) is not None
    except ValueError:
        return False


# The store -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Store:
    root: Path

    @property
    def snapshots(self) -> Path:
        return self.root / SNAPSHOTS_DIR

    @property
    def current_file(self) -> Path:
        return self.root / CURRENT_FILE

    def snapshot_path(self, snapshot_id: str) -> Path:
        return self.snapshots / snapshot_file(snapshot_id)

    def manifest_path(self, snapshot_id: str) -> Path:
        return self.snapshots / manifest_file(snapshot_id)

    def partial_path(self, snapshot_id: str) -> Path:
        return self.snapshots / f"{snapshot_id}.sqlite.partial"

    # Reading

    def current(self) -> dict | None:
        """The published snapshot's manifest (with its file's `path`); None when nothing was
        published; StoreError when CURRENT is unreadable or malformed."""
        try:
            text = self.current_file.read_bytes().decode()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise StoreError(f"CURRENT cannot be read ({error})") from error
        manifest = parse_manifest(text, "CURRENT")
        manifest["path"] = str(self.snapshot_path(manifest["snapshot_id"]))
        return manifest

    def published(self, warn: Callable[[str], None] = warn_on_stderr) -> list[dict]:
        """The manifests of the snapshots on disk, newest first. A manifest that cannot be read, is
        malformed, names another snapshot than its file name or has no snapshot file beside it is
        skipped, with a one-line warning."""
        manifests = []
        for path in sorted(self.snapshots.glob("*.manifest.json"), reverse=True):
            try:
                manifests.append(self._manifest(path))
            except StoreError as error:
                warn(f"skipped {path.name}: {error}")
        return manifests

    def _manifest(self, path: Path) -> dict:
        named = SNAPSHOT_FILE.fullmatch(path.name)
        if not named:
            raise StoreError("not the name of a snapshot's manifest")
        try:
            manifest = parse_manifest(path.read_bytes().decode(), "it")
        except (OSError, UnicodeDecodeError) as error:
            raise StoreError(f"cannot read it ({error})") from error
        if manifest["snapshot_id"] != named[1]:
            raise StoreError(f"it is the manifest of {manifest['snapshot_id']}")
        if not self.snapshot_path(named[1]).exists():
            raise StoreError("its snapshot file is missing")
        return manifest

    # Writing (exports and rollbacks)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the store for one writer: an export, rollback or pull running meanwhile is an error
        (a lock on the store's directory, released when the process ends, however it ends)."""
        descriptor = os.open(self.root, os.O_RDONLY)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as error:
                raise StoreError(f"another export, rollback or pull is writing to {self.root}") from error
            yield
        finally:
            os.close(descriptor)

    def remove_leftovers(self) -> None:
        """Files a killed writer left: partial snapshots and temporary files (call while exclusive)."""
        for leftover in [*self.snapshots.glob("*.partial"), *self.snapshots.glob(".*.tmp"), *self.root.glob(".*.tmp")]:
            leftover.unlink(missing_ok=True)

    def add(self, partial: Path, manifest: dict) -> dict:
        """Move a complete, fsynced snapshot file into place and write its manifest, with the file's
        stat (`file_stat`); returns the manifest. Not published yet."""
        path = self.snapshot_path(manifest["snapshot_id"])
        os.replace(partial, path)
        sync_directory(self.snapshots)
        return self.seal(manifest, file_stat(path))

    def seal(self, manifest: dict, stat: dict[str, int]) -> dict:
        """The manifest with `stat` as its file's, its file rewritten if that changed: for a file
        whose checksum was just computed (an export) or verified in full (a rollback)."""
        if manifest.get("file_stat") == stat:
            return manifest
        manifest = {**manifest, "file_stat": stat}
        write_whole(self.manifest_path(manifest["snapshot_id"]), json.dumps(manifest, indent=2).encode())
        return manifest

    def publish(self, manifest: dict) -> None:
        """Point CURRENT at the snapshot (atomically)."""
        manifest = {key: value for key, value in manifest.items() if key != "path"}
        write_whole(self.current_file, json.dumps(manifest).encode())

    def discard(self, snapshot_id: str) -> None:
        """Remove what a failed export wrote of its snapshot, unless CURRENT already names it."""
        try:
            if (self.current() or {}).get("snapshot_id") == snapshot_id:
                return
        except StoreError:
            pass
        for path in (self.partial_path(snapshot_id), self.snapshot_path(snapshot_id), self.manifest_path(snapshot_id)):
            path.unlink(missing_ok=True)

    def prune(self, keep: int, warn: Callable[[str], None] = warn_on_stderr) -> None:
        """Delete the files of every snapshot older than the newest `keep` ones (never CURRENT's),
        damaged or orphaned files of such old snapshots included. Newer damaged files stay, with
        `published`'s warning, for someone to look at."""
        newest_first = [manifest["snapshot_id"] for manifest in self.published(warn)]
        try:
            current_id = (self.current() or {}).get("snapshot_id")
        except StoreError as error:
            warn(str(error))
            current_id = None
        for name in outdated([path.name for path in self.snapshots.iterdir()], newest_first, current_id, keep):
            try:
                (self.snapshots / name).unlink()
            except OSError as error:
                warn(f"could not delete {name}: {error}")


def outdated(names: Iterable[str], newest_first: list[str], current_id: str | None, keep: int) -> list[str]:
    """The snapshot files among `names` that pruning deletes: those of snapshots older than the newest
    `keep` (`newest_first`: ids) and than CURRENT's. The rule of a store and of a remote alike."""
    oldest = min(filter(None, [*newest_first[: max(keep, 1)], current_id]), default=None)
    if oldest is None:
        return []
    return [name for name in names if (named := SNAPSHOT_FILE.fullmatch(name)) and named[1] < oldest]


def check_schema(manifest: dict) -> None:
    """StoreError unless this version reads the snapshot's schema."""
    if manifest["schema_version"] != SCHEMA_VERSION:
        raise StoreError(
            f"snapshot {manifest['snapshot_id']} has schema {manifest['schema_version']}, "
            f"this version reads {SCHEMA_VERSION}"
        )


def verify(store: Store, manifest: dict, *, trust_seal: bool = False) -> dict[str, int]:
    """The snapshot file is whole and the one the manifest describes, else StoreError saying why;
    returns the file's stat.

    With `trust_seal`, a file whose stat is still the one recorded when it was published is taken
    as its checksum says without reading it (the request side, on every swap); otherwise every
    byte is hashed (a rollback, a file whose stat changed, a snapshot that failed a read)."""
    snapshot_id = manifest["snapshot_id"]
    check_schema(manifest)
    path = store.snapshot_path(snapshot_id)
    try:
        stat = file_stat(path)
    except FileNotFoundError as error:
        raise StoreError(f"snapshot {snapshot_id} is not on disk") from error
    if trust_seal and stat == manifest.get("file_stat"):
        return stat
    if sha256_of(path) != manifest["checksum_sha256"]:
        raise StoreError(f"snapshot {snapshot_id} is damaged: it does not match its checksum")
    return stat
