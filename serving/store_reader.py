"""Reads the published snapshot for the HTTP API, and swaps to a newer one without a restart.

Each request asks `SnapshotReader.get()` for the current snapshot. That costs one stat() of the
CURRENT file; when it changed, the new snapshot is opened and checked (schema version, manifest
matching CURRENT) before it replaces the old one, so a missing or invalid snapshot never replaces a
good one. Connections are per thread and read-only.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

from serving.documents import SCHEMA_VERSION
from serving.snapshot import Store


#: Track fields cached per snapshot and process; past this many the cache starts over.
TRACK_CACHE_SIZE = 500_000


@dataclass
class Snapshot:
    manifest: dict
    path: str
    _tracks: dict[str, tuple[bytes, int, int]] = field(default_factory=dict)

    def connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        con.execute("pragma query_only = on")
        con.execute("pragma mmap_size = 68719476736")  # pages read in place, not copied
        return con

    def tracks(self, con: sqlite3.Connection, track_ids: list[str]) -> dict[str, tuple[bytes, int, int]]:
        """{track_id: (fields, bloom_h1, bloom_h2)} (documents.py), read through a cache: a snapshot
        never changes."""
        cache = self._tracks
        missing = [track_id for track_id in set(track_ids) if track_id not in cache]
        if missing and len(cache) + len(missing) > TRACK_CACHE_SIZE:
            cache.clear()
            missing = list(set(track_ids))
        for start in range(0, len(missing), 500):
            chunk = missing[start:start + 500]
            sql = f"select track_id, fields, bloom_h1, bloom_h2 from tracks where track_id in ({','.join('?' * len(chunk))})"
            cache.update((row[0], row[1:]) for row in con.execute(sql, chunk))
        return {track_id: cache[track_id] for track_id in track_ids}


class SnapshotReader:
    def __init__(self, store: Store) -> None:
        self._store = store
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

    def get(self) -> Snapshot | None:
        try:
            stat = os.stat(self._store.current_file)
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
