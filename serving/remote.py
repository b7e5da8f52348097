"""The shared location a fleet of serving hosts pulls snapshots from: an export publishes each
snapshot there once, and a puller beside each server brings the one it names into that host's store.

A remote is an fsspec URL, TUNESDAY_SNAPSHOT_REMOTE: a folder (a plain path or file:///…, a
network mount), gs://bucket/prefix (extra [gcs]) or s3://bucket/prefix (extra [s3]). It is laid
out like a store (serving/store.py):

    snapshots/<snapshot_id>.sqlite          a sealed snapshot, byte for byte
    snapshots/<snapshot_id>.manifest.json   its manifest: its sha256 and its size (`bytes`) included
    CURRENT                                 the manifest of the snapshot the fleet serves

Publishing (`upload`) writes the snapshot, then its manifest, then CURRENT, each whole or not at
all, so a reader of CURRENT finds what it names complete. In a folder each file goes through
tunesday.files.write_whole (a temporary name, fsync, rename). In an object store each object is
one upload, and what this relies on is what GCS and S3 guarantee: an object (multipart and
resumable uploads included) becomes visible only once it is complete, and a read after a write
sees it (strong read-after-write consistency; S3 since December 2020), so a reader of the new
CURRENT finds the objects written before it. Nothing is renamed there: object stores rename by
copying. One publisher per remote: the daily job (its lock keeps it to one run).

Pulling (`pull`) reads CURRENT and, when the host's store does not publish that snapshot yet,
downloads it into the store's partial file (never read), hashing the bytes as they are written,
checks their count and sha256 against the manifest, adds the file to the store and publishes it
with the store's own atomic publish; the server's workers swap to it as to any publish
(serving/store_reader.py). A download that is short, long or does not match its checksum is
deleted and the store's CURRENT stays as it was, so the last good snapshot keeps serving; a
killed pull leaves only the partial file, which the store's next writer deletes. Each pull's
outcome goes to the store's PULLED file, which the server's /metrics reports (serving/metrics.py).

The puller is a process of its own beside gunicorn (`tunesday-serving pull --every SECONDS`), not
a thread of the server: a download of tens of GB must not hold a worker's GIL or die when gunicorn
recycles a worker, a host downloads once rather than once per worker, and killing the puller never
touches what is served.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from serving.store import (
    CURRENT_FILE,
    SNAPSHOT_FILE,
    SNAPSHOTS_DIR,
    Store,
    StoreError,
    check_schema,
    manifest_file,
    outdated,
    parse_manifest,
    snapshot_file,
    verify,
    warn_on_stderr,
)
from tunesday import logs, settings
from tunesday.files import write_whole

#: Bytes per read and write of a snapshot (and an object store file's read-ahead).
CHUNK_BYTES = 8 << 20
#: The file of a store that records what its puller did (serving/metrics.py reports it).
PULLED_FILE = "PULLED"
#: Keys of a store's manifest that describe its local file, not the snapshot: never shared.
_LOCAL_KEYS = ("file_stat", "path")
#: After failed pulls in a row, the next waits 1, 2, 4, … times the interval, up to this many times.
MAX_BACKOFF = 10


class RemoteError(StoreError):
    """The remote cannot be used, read or written, or holds what is not a whole, sealed snapshot
    (a one-line reason)."""


def _reason(error: BaseException) -> str:
    """An error in one line, whoever raised it (the OS, gcsfs and s3fs each have their own types)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _shared_manifest(text: bytes, where: str) -> dict:
    """A remote manifest: a store's manifest (parse_manifest) with its file's size, `bytes`."""
    try:
        manifest = parse_manifest(text.decode(), where)
    except UnicodeDecodeError as error:
        raise RemoteError(f"{where} is not text ({error})") from error
    except StoreError as error:
        raise RemoteError(str(error)) from error
    if not (type(manifest.get("bytes")) is int and manifest["bytes"] >= 0):
        raise RemoteError(f"{where} is not a valid manifest: bytes is missing or not a size")
    return manifest


@dataclass(frozen=True)
class Pulled:
    """What a pull did: the snapshot the store now publishes (None: nothing on the remote yet), its
    manifest, and the bytes downloaded for it (0: the store had it)."""

    manifest: dict | None
    downloaded: int = 0
    seconds: float = 0.0

    @property
    def snapshot_id(self) -> str | None:
        return None if self.manifest is None else self.manifest["snapshot_id"]


def configured(environ: Mapping[str, str] | None = None) -> Remote | None:
    """The remote TUNESDAY_SNAPSHOT_REMOTE names; None when it is unset (one host serves what it
    exports)."""
    url = settings.given(settings.SNAPSHOT_REMOTE, environ)
    return Remote(url) if url else None


class Remote:
    def __init__(self, url: str) -> None:
        import fsspec
        from fsspec.implementations.local import LocalFileSystem

        self.url = url
        try:
            self.fs, root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as error:  # an unknown protocol, or its extra is not installed
            raise RemoteError(f"the remote {url!r} cannot be used: {_reason(error)}") from error
        self.root = root.rstrip("/")
        self.is_folder = isinstance(self.fs, LocalFileSystem)

    def _path(self, *names: str) -> str:
        return "/".join([self.root, *names])

    def current(self) -> dict | None:
        """The manifest the remote's CURRENT holds; None when nothing was published there yet."""
        try:
            text = self.fs.cat_file(self._path(CURRENT_FILE))
        except FileNotFoundError:
            return None
        except Exception as error:  # noqa: BLE001 - each backend raises its own types
            raise RemoteError(f"{self.url}: CURRENT cannot be read ({_reason(error)})") from error
        return _shared_manifest(text, f"{self.url} CURRENT")

    # Publishing (the daily job, `tunesday-serving export` and `rollback`)

    def upload(self, store: Store, manifest: dict, keep: int = 3, warn: Callable[[str], None] = warn_on_stderr) -> None:
        """Publish the sealed snapshot of `manifest` (in `store`) to the remote: its file (unless the
        remote holds it already), its manifest, then CURRENT; then delete the remote's snapshots
        older than the newest `keep` (never CURRENT's). RemoteError when it could not: the remote's
        CURRENT then is as it was."""
        snapshot_id = manifest["snapshot_id"]
        path = store.snapshot_path(snapshot_id)
        shared = {key: value for key, value in manifest.items() if key not in _LOCAL_KEYS}
        shared["bytes"] = path.stat().st_size
        try:
            self._sweep()
            if not self._holds(shared):
                self._write(self._path(SNAPSHOTS_DIR, snapshot_file(snapshot_id)), path)
            self._write(self._path(SNAPSHOTS_DIR, manifest_file(snapshot_id)), json.dumps(shared, indent=2).encode())
            self._write(self._path(CURRENT_FILE), json.dumps(shared).encode())
        except Exception as error:  # noqa: BLE001 - each backend raises its own types
            raise RemoteError(f"nothing published to {self.url}: {_reason(error)}") from error
        self._prune(snapshot_id, keep, warn)

    def _write(self, path: str, content: Path | bytes) -> None:
        """One file or object, whole or not at all (see the module's docstring)."""
        if self.is_folder:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                write_whole(target, content)
            else:
                with content.open("rb") as source:
                    write_whole(target, lambda out: shutil.copyfileobj(source, out, CHUNK_BYTES))
        elif isinstance(content, bytes):
            self.fs.pipe_file(path, content)
        else:
            self.fs.put_file(str(content), path)

    def _sweep(self) -> None:
        """In a folder: the temporary files of an upload that was killed (write_whole's)."""
        if self.is_folder:
            for folder in (Path(self.root), Path(self._path(SNAPSHOTS_DIR))):
                for leftover in folder.glob(".*.tmp"):
                    leftover.unlink(missing_ok=True)

    def _holds(self, shared: dict) -> bool:
        """The remote holds this snapshot already (a publish tried again, a rollback): its manifest
        with the same checksum and its file of the same size."""
        snapshot_id = shared["snapshot_id"]
        self.fs.invalidate_cache()  # object stores cache listings
        try:
            theirs = json.loads(self.fs.cat_file(self._path(SNAPSHOTS_DIR, manifest_file(snapshot_id))))
            size = self.fs.size(self._path(SNAPSHOTS_DIR, snapshot_file(snapshot_id)))
        except (FileNotFoundError, ValueError):
            return False
        return (
            isinstance(theirs, dict)
            and theirs.get("checksum_sha256") == shared["checksum_sha256"]
            and (size == shared["bytes"])
        )

    def _prune(self, current_id: str, keep: int, warn: Callable[[str], None]) -> None:
        """The store's rule (serving.store.outdated) on the remote; a failure is a warning: CURRENT
        has moved already."""
        try:
            self.fs.invalidate_cache()
            names = [path.rsplit("/", 1)[-1] for path in self.fs.ls(self._path(SNAPSHOTS_DIR), detail=False)]
            manifests = [
                named[1] for name in names if (named := SNAPSHOT_FILE.fullmatch(name)) and named[2] == "manifest.json"
            ]
            for name in outdated(names, sorted(manifests, reverse=True), current_id, keep):
                self.fs.rm_file(self._path(SNAPSHOTS_DIR, name))
        except Exception as error:  # noqa: BLE001 - each backend raises its own types
            warn(f"{self.url}: old snapshots not deleted: {_reason(error)}")

    # Pulling (each serving host)

    def pull(self, store: Store, keep: int = 3) -> Pulled:
        """Make `store` publish the snapshot the remote's CURRENT names, downloading and checking it
        unless the store holds it intact already (a copy damaged on this disk is downloaded again).
        RemoteError (StoreError) when it cannot: the store's CURRENT is then as it was, and nothing
        of the download is left."""
        started = time.perf_counter()
        shared = self.current()
        if shared is None:
            return Pulled(None)
        check_schema(shared)  # before downloading what this version cannot serve
        snapshot_id, downloaded = shared["snapshot_id"], 0
        store.snapshots.mkdir(parents=True, exist_ok=True)
        with store.exclusive():
            manifest = _intact_copy(store, shared)
            if manifest is not None and _published_id(store) == snapshot_id:
                return Pulled(manifest)
            if manifest is None:  # not here, or damaged here: downloaded (again)
                store.remove_leftovers()  # of a killed pull, export or rollback
                try:
                    downloaded = self._download(shared, store.partial_path(snapshot_id))
                    manifest = store.add(store.partial_path(snapshot_id), shared)
                except BaseException:
                    store.discard(snapshot_id)
                    raise
            store.publish(manifest)
            store.prune(keep, warn=lambda line: logs.event("store_warning", level="warning", problem=line))
        return Pulled(manifest, downloaded, time.perf_counter() - started)

    def _download(self, shared: dict, partial: Path) -> int:
        """The snapshot's bytes into `partial`, fsynced; its size. RemoteError unless they are as many
        as the manifest says and match its checksum."""
        snapshot_id, expected = shared["snapshot_id"], shared["bytes"]
        digest, size = hashlib.sha256(), 0
        try:
            with (
                self._open(self._path(SNAPSHOTS_DIR, snapshot_file(snapshot_id))) as source,
                partial.open("wb") as target,
            ):
                while size <= expected and (chunk := source.read(CHUNK_BYTES)):
                    size += len(chunk)
                    digest.update(chunk)  # releases the GIL, as the reads and writes do
                    target.write(chunk)
                target.flush()
                os.fsync(target.fileno())
        except Exception as error:  # noqa: BLE001 - each backend raises its own types
            raise RemoteError(
                f"snapshot {snapshot_id} could not be pulled from {self.url}: {_reason(error)}"
            ) from error
        if size != expected:
            got = f"more than {expected:,} bytes" if size > expected else f"{size:,} bytes of {expected:,}"
            raise RemoteError(f"snapshot {snapshot_id} on {self.url} is damaged: {got}")
        if digest.hexdigest() != shared["checksum_sha256"]:
            raise RemoteError(f"snapshot {snapshot_id} on {self.url} is damaged: it does not match its checksum")
        return size

    def _open(self, path: str) -> BinaryIO:
        """A file of the remote to read from start to end: a plain file in a folder (as it is written
        there), else the backend's file with CHUNK_BYTES of read-ahead."""
        if self.is_folder:
            return open(path, "rb")
        return self.fs.open(path, "rb", block_size=CHUNK_BYTES)


def _published_id(store: Store) -> str | None:
    try:
        return (store.current() or {}).get("snapshot_id")
    except StoreError:
        return None


def _intact_copy(store: Store, shared: dict) -> dict | None:
    """The store's own manifest of the snapshot `shared` describes, if its file is on disk and intact
    (verify: its sealed stat, else its sha256): the one it publishes, or one pulled before."""
    for manifest in store.published(warn=lambda line: None):
        if (manifest["snapshot_id"], manifest["checksum_sha256"]) == (shared["snapshot_id"], shared["checksum_sha256"]):
            try:
                verify(store, manifest, trust_seal=True)
            except StoreError:
                return None
            return manifest
    return None


# The puller: pulls, logged and recorded --------------------------------------------------------


def read_pulled(store: Store) -> dict | None:
    """What the store's puller last did (its PULLED file); None when nothing pulls into the store."""
    try:
        pulled = json.loads((store.root / PULLED_FILE).read_bytes())
    except (OSError, ValueError):
        return None
    return pulled if isinstance(pulled, dict) else None


def pull_once(remote: Remote, store: Store, keep: int = 3) -> tuple[Pulled | None, str | None]:
    """One pull, logged (`snapshot_pulled`, or `snapshot_pull_failed` with its one-line reason) and
    recorded in the store's PULLED file: (what it did, None) or (None, why it failed)."""
    attempted = dt.datetime.now(dt.UTC).isoformat()
    before = read_pulled(store) or {}
    record: dict[str, Any] = {
        "remote": remote.url,
        "last_attempt_at": attempted,
        "last_success_at": before.get("last_success_at"),
        "snapshot_id": before.get("snapshot_id"),
        "built_at": before.get("built_at"),
        "failures_total": int(before.get("failures_total") or 0),
        "consecutive_failures": 0,
        "last_error": None,
    }
    try:
        pulled = remote.pull(store, keep)
    except (StoreError, OSError) as error:
        record.update(
            failures_total=record["failures_total"] + 1,
            last_error=str(error),
            consecutive_failures=int(before.get("consecutive_failures") or 0) + 1,
        )
        logs.event(
            "snapshot_pull_failed",
            level="warning",
            remote=remote.url,
            error=str(error),
            consecutive_failures=record["consecutive_failures"],
        )
        _write_pulled(store, record)
        return None, str(error)
    record["last_success_at"] = attempted
    if pulled.manifest is not None:
        record.update(snapshot_id=pulled.snapshot_id, built_at=pulled.manifest["built_at"])
    if pulled.downloaded and pulled.manifest is not None:
        logs.event(
            "snapshot_pulled",
            remote=remote.url,
            snapshot_id=pulled.snapshot_id,
            run_date=pulled.manifest["run_date"],
            built_at=pulled.manifest["built_at"],
            bytes=pulled.downloaded,
            seconds=round(pulled.seconds, 3),
        )
    else:
        logs.event("snapshot_pull_up_to_date", level="debug", remote=remote.url, snapshot_id=pulled.snapshot_id)
    _write_pulled(store, record)
    return pulled, None


def _write_pulled(store: Store, record: dict) -> None:
    try:
        store.root.mkdir(parents=True, exist_ok=True)
        write_whole(store.root / PULLED_FILE, json.dumps(record).encode())
    except OSError as error:
        logs.event("store_warning", level="warning", problem=f"{PULLED_FILE} not written: {_reason(error)}")


def pull_every(remote: Remote, store: Store, seconds: float, keep: int = 3) -> None:
    """Pull every `seconds`, forever; after the second failure in a row 2, 4, … times as long (up
    to MAX_BACKOFF times), so a damaged snapshot is not downloaded again at every poll."""
    failures = 0
    while True:
        _, failed = pull_once(remote, store, keep)
        failures = failures + 1 if failed else 0
        time.sleep(seconds * min(2 ** max(failures - 1, 0), MAX_BACKOFF))
