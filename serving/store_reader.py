"""Reads the published snapshot for the HTTP API, and swaps to a newer one without a restart.

Each request asks `SnapshotReader.get()` for the current snapshot. At most every 0.1 s that costs
one stat() of the CURRENT file; when it changed, the new snapshot is opened and checked (schema version, manifest
matching CURRENT) before it replaces the old one, so a missing or invalid snapshot never replaces a
good one. Connections are per thread and read-only.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from serving.documents import SCHEMA_VERSION
from serving.store import Store


#: How often a worker looks for a newly published snapshot (a stat of CURRENT).
CHECK_SECONDS = 0.1
#: Tracks cached per snapshot and process; past this many the cache starts over.
TRACK_CACHE_SIZE = 500_000


@dataclass
class Snapshot:
    manifest: dict
    path: str
    _fields: dict[str, bytes] = field(default_factory=dict)

    def connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        con.execute("pragma query_only = on")
        con.execute("pragma mmap_size = 68719476736")  # pages read in place, not copied
        return con

    def tracks(self, con: sqlite3.Connection) -> SnapshotTracks:
        return SnapshotTracks(self, con)


class SnapshotTracks:
    """A snapshot's tracks table (documents.Tracks), read through the snapshot's cache: a snapshot
    never changes."""

    def __init__(self, snapshot: Snapshot, con: sqlite3.Connection) -> None:
        self._snapshot, self._con = snapshot, con

    def ensure(self, track_ids: list[str]) -> None:
        fields = self._snapshot._fields
        missing = set(track_ids).difference(fields)
        if not missing:
            return
        if len(fields) + len(missing) > TRACK_CACHE_SIZE:
            fields.clear()
            missing = set(track_ids)
        missing_ids = list(missing)
        for start in range(0, len(missing_ids), 500):
            chunk = missing_ids[start:start + 500]
            sql = f"select track_id, fields from tracks where track_id in ({','.join('?' * len(chunk))})"
            fields.update(self._con.execute(sql, chunk))

    def fields(self, track_ids: list[str]) -> list[bytes]:
        return self._lookup(self._snapshot._fields, track_ids)

    def _lookup(self, cache: dict, track_ids: list[str]) -> list:
        try:
            return list(map(cache.__getitem__, track_ids))
        except KeyError:
            self.ensure(track_ids)
            return list(map(cache.__getitem__, track_ids))


class SnapshotReader:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._current_file = str(store.current_file)
        self._next_check = 0.0
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._seen: tuple | None = None
        self._local = threading.local()
        self.last_error: str | None = None

    def _load(self) -> None:
        manifest = self._store.current()
        if manifest is None:
            raise ValueError("no published snapshot")
        path = Path(manifest["path"])
        if manifest.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"snapshot schema {manifest.get('schema_version')}, this server reads {SCHEMA_VERSION}")
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            stored = dict(con.execute("select key, value from manifest").fetchall())
        finally:
            con.close()
        if json.loads(stored["snapshot_id"]) != manifest["snapshot_id"]:
            raise ValueError("the snapshot file does not match CURRENT")
        self._snapshot = Snapshot(manifest=manifest, path=str(path))

    def get(self, fresh: bool = False) -> Snapshot | None:
        """The snapshot to serve. CURRENT is looked at once per CHECK_SECONDS (or now, if `fresh`),
        and by every request while none is loaded: under a threaded worker, a request that came
        while another thread loads the first snapshot waits for it rather than answering 503."""
        now = time.monotonic()
        if not fresh and now < self._next_check and self._snapshot is not None:
            return self._snapshot
        self._next_check = now + CHECK_SECONDS
        try:
            stat = os.stat(self._current_file)
            seen = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except FileNotFoundError:
            seen = None
        if seen != self._seen:
            with self._lock:
                if seen != self._seen:
                    try:
                        self._load()
                        self.last_error = None
                    except (OSError, ValueError, KeyError, sqlite3.Error) as error:
                        self.last_error = str(error)  # keep serving the snapshot we have
                    self._seen = seen
        return self._snapshot

    def connection(self, snapshot: Snapshot) -> sqlite3.Connection:
        """This thread's connection to `snapshot` (reopened when the snapshot changed)."""
        cached = getattr(self._local, "cached", None)
        if cached is None or cached[0] != snapshot.path:
            if cached is not None:
                cached[1].close()
            self._local.cached = (snapshot.path, snapshot.connect())
        return self._local.cached[1]
