"""Reads the published snapshot for the HTTP API, swaps to a newer one without a restart, and
never serves a damaged one while an intact one is on disk.

What a worker serves: the snapshot CURRENT names if it is intact; else the newest older intact
snapshot on disk; else the one it serves, if still intact; else the oldest newer one (any intact
snapshot beats a 503); else nothing (503,
/readyz not ready), saying why in `last_error` (/readyz shows it). When CURRENT is missing or
malformed (`null`, `[]`, garbage, keys missing) the newest intact snapshot on disk is served.
Intact: its manifest is well formed, its file is whole (serving.store.verify: the stat it was
published with, or else its sha256 recomputed in full), it opens as SQLite and holds that
snapshot's id.

When a worker looks again:
- on every request, one stat() of the served file: a file written to, truncated, replaced or
  deleted since it was checked is checked again before the request reads it (and, damaged, left
  for another);
- every CHECK_SECONDS, one stat() of CURRENT: a newly published snapshot is swapped in;
- every RETRY_SECONDS while it does not serve what CURRENT names, even if CURRENT did not change
  (a snapshot file put back, an error that has passed);
- after a SQLite error on a request (api.py answers it 503): the snapshot is checked in full,
  its sha256 and SQLite's quick_check, once per state of its file, and dropped if it fails.
A check that failed is remembered per state of the file (path and stat): a damaged file is not
read again at every retry, only once it changed.

Connections read with plain reads, not mmap. With mmap, a snapshot file truncated under a live
connection kills the worker with SIGBUS at its next read of a page past the new end, in the window
the per-request stat cannot close (a request already reading); a read() returns an error instead,
which SQLite reports and api.py answers 503. Published files are never written again, so only
damage done by hand or by the disk is at stake, but what mmap saved is small: per request, 6-7 µs
on a 100 MB snapshot (3,000 listeners) and some 15-35 µs where the 64 MiB page cache holds as
little of the file as it would of the 3.3 GB one of 100,000 listeners (bench/snapshot_read_bench.py),
against 1.3-2.5 ms per request at concurrency 1; bench/serving_bench.py could not tell the two
apart from run-to-run noise on this shared 2-core machine. Connections are per thread and read-only.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field

from serving.store import Store, StoreError, file_stat, verify
from tunesday import logs

#: How often a worker looks for a newly published snapshot (a stat of CURRENT).
CHECK_SECONDS = 0.1
#: How often a worker that cannot serve what CURRENT names looks again anyway.
RETRY_SECONDS = 2.0
#: Tracks cached per snapshot and process; past this many the cache starts over.
TRACK_CACHE_SIZE = 500_000


@dataclass
class Snapshot:
    manifest: dict
    path: str
    stat: dict[str, int]  # of the file when it was checked
    _fields: dict[str, bytes] = field(default_factory=dict)

    def connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        con.execute("pragma query_only = on")
        con.execute("pragma cache_size = -65536")  # 64 MiB of pages: the b-trees' inner pages and hot rows
        return con

    def unchanged(self) -> bool:
        """Its file is as it was when it was checked."""
        try:
            return file_stat(self.path) == self.stat
        except OSError:
            return False

    def tracks(self, con: sqlite3.Connection) -> SnapshotTracks:
        return SnapshotTracks(self, con)


class SnapshotTracks:
    """A snapshot's tracks table (documents.Tracks), read through the snapshot's cache: a snapshot
    never changes."""

    def __init__(self, snapshot: Snapshot, con: sqlite3.Connection) -> None:
        self._snapshot, self._con = snapshot, con

    def fields(self, track_ids: list[str]) -> list[bytes]:
        cache = self._snapshot._fields
        try:
            return list(map(cache.__getitem__, track_ids))
        except KeyError:
            found = self._fetch(track_ids)
            return list(map(found.__getitem__, track_ids))

    def _fetch(self, track_ids: list[str]) -> dict[str, bytes]:
        """The tracks' fields, from the cache or the snapshot, as this request's own dict: another
        thread may clear the shared cache at any moment (when it grows past TRACK_CACHE_SIZE)."""
        cache = self._snapshot._fields
        found, missing = {}, []
        for track_id in set(track_ids):
            value = cache.get(track_id)
            if value is None:
                missing.append(track_id)
            else:
                found[track_id] = value
        fetched: dict[str, bytes] = {}
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            sql = f"select track_id, fields from tracks where track_id in ({','.join('?' * len(chunk))})"
            fetched.update(self._con.execute(sql, chunk))
        if len(cache) + len(fetched) > TRACK_CACHE_SIZE:
            cache.clear()
        cache.update(fetched)
        found.update(fetched)
        return found


class SnapshotReader:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._seen: tuple | None = None  # CURRENT's stat when it was last read
        self._next_check = 0.0  # when to stat CURRENT again
        self._retry_at: float | None = None  # when to look again while CURRENT's is not served
        self._suspect: Snapshot | None = None  # a request failed to read it
        self._failed: dict[tuple, str] = {}  # (path, stat) -> why that file is not served
        self._checked_in_full: set[tuple] = set()
        self._local = threading.local()
        self.last_error: str | None = None

    def get(self, fresh: bool = False) -> Snapshot | None:
        """The snapshot to serve. CURRENT is looked at once per CHECK_SECONDS (or now, if `fresh`),
        and by every request while none is loaded: under a threaded worker, a request that came
        while another thread loads the first snapshot waits for it rather than answering 503."""
        snapshot, now = self._snapshot, time.monotonic()
        if snapshot is not None and snapshot.unchanged() and self._suspect is None:
            if not fresh and now < self._next_check:
                return snapshot
            self._next_check = now + CHECK_SECONDS
        if not self._stale(snapshot, now):
            return self._snapshot  # (another thread may have just loaded the first one)
        with self._lock:
            if self._snapshot is snapshot and self._stale(snapshot, now):  # no other thread chose meanwhile
                self._select()
        return self._snapshot

    def read_failed(self, error: sqlite3.Error) -> None:
        """A request on this thread could not read its snapshot: close the connection (its cache may
        hold a damaged page) and check that snapshot in full before the next request."""
        cached = getattr(self._local, "cached", None)
        if cached is not None:
            self._local.cached = None
            cached[1].close()
            self._suspect = cached[0]

    def connection(self, snapshot: Snapshot) -> sqlite3.Connection:
        """This thread's connection to `snapshot` (reopened when the snapshot changed)."""
        cached = getattr(self._local, "cached", None)
        if cached is None or cached[0] is not snapshot:
            if cached is not None:
                cached[1].close()
            self._local.cached = (snapshot, snapshot.connect())
        return self._local.cached[1]

    # Choosing what to serve

    def _current_stat(self) -> tuple | None:
        try:
            stat = os.stat(self._store.current_file)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def _stale(self, snapshot: Snapshot | None, now: float) -> bool:
        """Whether to choose again: the served file changed or failed a read, CURRENT changed, or
        a retry is due."""
        return (
            self._suspect is not None
            or (snapshot is not None and not snapshot.unchanged())
            or self._current_stat() != self._seen
            or (self._retry_at is not None and now >= self._retry_at)
        )

    def _select(self) -> None:
        """Serve the first intact snapshot of `_candidates`; say why when it is not CURRENT's (in
        `last_error`, and in the log when that changes)."""
        previous, previous_error = self._snapshot, self.last_error
        seen = self._current_stat()  # before CURRENT is read: a change meanwhile is seen next time
        suspect, self._suspect = self._suspect, None
        current, candidates, problems = self._candidates()
        chosen = None
        for manifest in candidates:
            try:
                chosen = self._open(manifest, suspect)
                break
            except StoreError as error:
                problems.append(str(error))
        if chosen is not None and chosen.manifest["snapshot_id"] == (current or {}).get("snapshot_id"):
            self.last_error, self._retry_at = None, None
        else:
            if chosen is not None:
                problems.append(f"serving {chosen.manifest['snapshot_id']} instead")
            self.last_error = "; ".join(problems or ["no intact snapshot on disk"])
            self._retry_at = time.monotonic() + RETRY_SECONDS
        self._snapshot, self._seen = chosen, seen
        if chosen is not None and (
            previous is None or previous.manifest["snapshot_id"] != chosen.manifest["snapshot_id"]
        ):
            logs.event(
                "snapshot_loaded",
                snapshot_id=chosen.manifest["snapshot_id"],
                run_date=chosen.manifest["run_date"],
                built_at=chosen.manifest["built_at"],
            )
        if self.last_error is not None and self.last_error != previous_error:
            logs.event("snapshot_not_current", level="warning", problem=self.last_error)

    def _candidates(self) -> tuple[dict | None, list[dict], list[str]]:
        """CURRENT's manifest, the manifests to try in order (CURRENT's, the older ones newest first,
        the one served, the newer ones oldest first), and what is wrong with CURRENT."""
        problems = []
        try:
            current = self._store.current()
            if current is None:
                problems.append("nothing is published (no CURRENT)")
        except StoreError as error:
            current = None
            problems.append(str(error))
        on_disk = self._store.published(warn=lambda line: None)  # `tunesday-serving snapshots` shows them
        if current is None:
            ahead, newer = on_disk, []
        else:
            ahead = [current, *[manifest for manifest in on_disk if manifest["snapshot_id"] < current["snapshot_id"]]]
            newer = [manifest for manifest in reversed(on_disk) if manifest["snapshot_id"] > current["snapshot_id"]]
        served_manifest = self._snapshot.manifest if self._snapshot is not None else None
        served_id = served_manifest["snapshot_id"] if served_manifest is not None else None
        ahead_ids = {manifest["snapshot_id"] for manifest in ahead}
        served = [] if served_manifest is None or served_id in ahead_ids else [served_manifest]
        newer = [manifest for manifest in newer if manifest["snapshot_id"] != served_id]
        return current, [*ahead, *served, *newer], problems

    def _open(self, manifest: dict, suspect: Snapshot | None) -> Snapshot:
        """The snapshot of `manifest` if it is intact, else StoreError saying why. The one served is
        kept as it is (its connections and track cache) while its file is unchanged, unless a request
        failed to read it: then it is checked in full, once per state of its file."""
        path = str(self._store.snapshot_path(manifest["snapshot_id"]))
        try:
            stat = file_stat(path)
        except OSError as error:
            raise StoreError(f"snapshot {manifest['snapshot_id']} is not on disk") from error
        state = (path, tuple(stat.values()))
        in_full = suspect is not None and suspect.path == path and state not in self._checked_in_full
        if not in_full and self._snapshot is not None and self._snapshot.path == path and self._snapshot.stat == stat:
            return self._snapshot
        if state in self._failed:
            raise StoreError(self._failed[state])
        try:
            stat = verify(self._store, manifest, trust_seal=not in_full)
            _check_opens(path, manifest["snapshot_id"], in_full)
        except StoreError as error:
            self._failed[state] = str(error)
            raise
        except (OSError, sqlite3.Error) as error:  # not remembered: it may pass
            raise StoreError(f"snapshot {manifest['snapshot_id']} cannot be read: {error}") from error
        if in_full:
            self._checked_in_full.add(state)
        return Snapshot(manifest=manifest, path=path, stat=stat)


def _check_opens(path: str, snapshot_id: str, in_full: bool) -> None:
    """The file opens as SQLite and holds the snapshot `snapshot_id` (and, `in_full`, passes
    SQLite's quick_check: a file damaged before it was checksummed). StoreError when it does not;
    sqlite3.Error for what may pass (too many open files)."""
    con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        stored = con.execute("select value from manifest where key = 'snapshot_id'").fetchone()
        if stored is None or stored[0] != json.dumps(snapshot_id):
            raise StoreError(f"snapshot {snapshot_id}: its file holds another snapshot")
        if in_full and (problems := [row[0] for row in con.execute("pragma quick_check(3)")]) != ["ok"]:
            raise StoreError(f"snapshot {snapshot_id} is damaged: {' '.join(problems)}".replace("\n", " "))
    except sqlite3.Error as error:
        if getattr(error, "sqlite_errorname", "").startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_ERROR")):
            raise StoreError(f"snapshot {snapshot_id} is damaged: {error}") from error
        raise
    finally:
        con.close()
