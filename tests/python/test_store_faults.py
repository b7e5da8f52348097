"""The snapshot store under faults (issue 14): a full disk during an export, damaged and stray
manifests, a malformed CURRENT, a live snapshot damaged or truncated under a real gunicorn, a
snapshot that fails reads, a swap that failed.

A full disk is a real file size limit (RLIMIT_FSIZE, with SIGXFSZ ignored: the kernel then fails
the write with EFBIG where a full disk fails it with ENOSPC): a small tmpfs needs privileges (root,
or user namespaces) CI may not give. On a real tmpfs, by hand, ENOSPC gave the same one line
("[Errno 28] No space left on device", or SQLITE_FULL for the data) and left nothing. Damage is
done to real published files while they are served.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import PROJECT_DIR, RUN_DATE
from http_client import running_gunicorn

from serving import cli
from serving.app import create_app
from serving.snapshot import export
from serving.store import Store, file_stat, sha256_of
from serving.store_reader import RETRY_SECONDS, Snapshot
from serving.warehouse import DuckDBWarehouse
from tunesday.warehouse import connect as connect_warehouse


def publish(warehouse, store: Store, keep: int = 10) -> dict:
    source = DuckDBWarehouse(str(warehouse.duckdb_path))
    try:
        return export(source, store, RUN_DATE, keep=keep, progress=lambda line: None)
    finally:
        source.close()


def files(store: Store) -> dict[str, bytes]:
    """Every file of the store, by its path in the store, with its bytes."""
    return {
        str(path.relative_to(store.root)): path.read_bytes() for path in sorted(store.root.rglob("*")) if path.is_file()
    }


@pytest.fixture(scope="module")
def user_ids(warehouse) -> list[str]:
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        return [
            row[0]
            for row in con.execute(
                "select distinct user_id from serving_recommendations where surface = 'discover_weekly' "
                "order by user_id limit 40"
            ).fetchall()
        ]


# Defect 3: a full disk during an export ---------------------------------------------------------


#: `tunesday-serving export` with the file size limit set at the start (the snapshot's data cannot
#: be written) or when the export validates what it wrote (its manifest and CURRENT cannot be);
#: with SIGXFSZ ignored the write fails (EFBIG), else the kernel kills the export at that write.
EXPORT_ON_A_FULL_DISK = """
import resource, signal, sys
from serving import cli
from serving.warehouse import DuckDBWarehouse

def fill_the_disk():
    size = 1 << 20 if sys.argv[1] == "data" else 100
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

class FillingWarehouse(DuckDBWarehouse):
    def count(self, table):
        fill_the_disk()
        return super().count(table)

# Python ignores SIGXFSZ (a write past the limit then fails with EFBIG); the default kills.
signal.signal(signal.SIGXFSZ, signal.SIG_DFL if sys.argv[1] == "killed at the manifest" else signal.SIG_IGN)
if sys.argv[1] == "data":
    fill_the_disk()
else:
    cli.DuckDBWarehouse = FillingWarehouse
sys.exit(cli.main(["export", "--run-date", sys.argv[2]]))
"""


def export_on_a_full_disk(warehouse, store: Store, full_from: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TUNESDAY_DUCKDB_PATH": str(warehouse.duckdb_path), "TUNESDAY_SERVING_STORE": str(store.root)}
    return subprocess.run(
        [sys.executable, "-c", EXPORT_ON_A_FULL_DISK, full_from, RUN_DATE],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("full_from", ["data", "manifest"])
def test_a_full_disk_during_an_export_is_one_line_and_changes_nothing(warehouse, tmp_path, full_from):
    store = Store(tmp_path)
    publish(warehouse, store)
    before = files(store)
    result = export_on_a_full_disk(warehouse, store, full_from)
    *progress, error = result.stderr.splitlines()  # progress, then the reason in one line
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert error.startswith("tunesday-serving export: nothing published: ")
    assert ("SQLITE_" if full_from == "data" else "[Errno 27] File too large") in error
    assert files(store) == before  # CURRENT, the snapshots, their manifests; nothing partial left
    # The next export, with room on disk, publishes and prunes as usual.
    manifest = publish(warehouse, store, keep=1)
    assert store.current()["snapshot_id"] == manifest["snapshot_id"] and len(store.published()) == 1


def test_an_export_killed_while_writing_its_manifest_leaves_no_broken_file(warehouse, tmp_path, capsys):
    """Killed by the kernel (SIGXFSZ) at its manifest's first write: no cleanup runs, and still no
    reader finds a half-written manifest; the next export removes what was left."""
    store = Store(tmp_path)
    good = publish(warehouse, store)
    result = export_on_a_full_disk(warehouse, store, "killed at the manifest")
    assert result.returncode == -signal.SIGXFSZ, result.stderr
    assert [m["snapshot_id"] for m in store.published()] == [good["snapshot_id"]]
    assert capsys.readouterr().err == ""  # no manifest skipped: none was left half-written
    assert store.current()["snapshot_id"] == good["snapshot_id"]
    newest = publish(warehouse, store, keep=1)["snapshot_id"]
    assert sorted(files(store)) == ["CURRENT", f"snapshots/{newest}.manifest.json", f"snapshots/{newest}.sqlite"]


def test_damaged_and_stray_manifests_are_skipped_and_pruning_still_works(warehouse, tmp_path, capsys, monkeypatch):
    store = Store(tmp_path)
    ids = [publish(warehouse, store)["snapshot_id"] for _ in range(2)]
    # What an export stopped by a full disk used to leave (an empty manifest beside its snapshot),
    # older and newer than the published ones; a manifest of nothing, one of another snapshot.
    old, new = "2026-10-31_20000101T000000000000Z", "2026-10-31_29990101T000000000000Z"
    for snapshot_id, manifest in [(old, b""), (new, b"null")]:
        store.snapshot_path(snapshot_id).write_bytes(b"half a snapshot")
        store.manifest_path(snapshot_id).write_bytes(manifest)
    (store.snapshots / "notes.manifest.json").write_text("{}")
    store.manifest_path("2026-10-31_20010101T000000000000Z").write_bytes(store.manifest_path(ids[0]).read_bytes())
    capsys.readouterr()

    newest = publish(warehouse, store, keep=2)["snapshot_id"]
    assert [m["snapshot_id"] for m in store.published(warn=lambda line: None)] == [newest, ids[1]]
    left = sorted(path.name for path in store.snapshots.iterdir())
    assert not any(name.startswith((old, ids[0], "2026-10-31_2001")) for name in left)  # pruned: older
    assert f"{new}.manifest.json" in left and "notes.manifest.json" in left  # newer or not a snapshot's: kept

    monkeypatch.setenv("TUNESDAY_SERVING_STORE", str(tmp_path))
    assert cli.main(["snapshots"]) == 0
    out, err = capsys.readouterr()
    assert [line.split()[:2] for line in out.splitlines()] == [["*", newest], [ids[1], "run_date"]]
    skipped_new, skipped_notes = sorted(err.splitlines())
    assert skipped_new == f"warning: skipped {new}.manifest.json: it holds null, not a manifest"
    assert skipped_notes.startswith("warning: skipped notes.manifest.json: it is not a valid manifest: snapshot_id is")
    assert cli.main(["rollback"]) == 0 and store.current()["snapshot_id"] == ids[1]


# Defect 5: a malformed CURRENT, damaged or truncated snapshots, failed reads and swaps -----------


@pytest.fixture(scope="module")
def two_snapshots(warehouse, tmp_path_factory) -> tuple[Store, dict, dict]:
    """A store with two snapshots, the older and the newest, for tests that leave them intact."""
    store = Store(tmp_path_factory.mktemp("two_snapshots"))
    return store, publish(warehouse, store), publish(warehouse, store)


@pytest.mark.parametrize("current", ["null", "[]", "garbage\n", "without built_at", "\xff"])
def test_a_malformed_current_serves_the_newest_intact_snapshot(two_snapshots, user_ids, capsys, monkeypatch, current):
    store, older, newest = two_snapshots
    if current == "without built_at":
        current = json.dumps({key: value for key, value in newest.items() if key != "built_at"})
    store.current_file.write_bytes(current.encode("latin-1"))
    client = create_app({"SERVING_STORE": str(store.root)}).test_client()

    response = client.get(f"/v1/users/{user_ids[0]}/discover-weekly")
    assert response.status_code == 200 and response.get_json()["run_date"] == RUN_DATE
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["snapshot_id"] == newest["snapshot_id"]
    assert ready.get_json()["last_swap_error"].startswith("CURRENT ")
    assert client.get("/metrics").status_code == 200

    monkeypatch.setenv("TUNESDAY_SERVING_STORE", str(store.root))
    capsys.readouterr()
    assert cli.main(["snapshots"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2 and not out.startswith("*") and err.startswith("warning: CURRENT ")
    assert err.count("\n") == 1
    assert cli.main(["rollback"]) == 0  # no CURRENT to go back from: the newest, re-published
    assert store.current()["snapshot_id"] == newest["snapshot_id"] != older["snapshot_id"]


@contextmanager
def gunicorn(store: Store):
    """gunicorn (serving/gunicorn.conf.py, 2 workers) on loopback serving `store`; yields its base URL."""
    with running_gunicorn(store.root, store.root.parent / f"{store.root.name}-gunicorn.log", workers=2) as port:
        yield f"http://127.0.0.1:{port}"


def get(url: str) -> tuple[int, bytes]:
    """Status and body; 0 and the error when the server closed the connection without answering
    (a worker killed mid-request)."""
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError as error:
        return 0, str(error).encode()


def flip_bytes(path: Path) -> None:
    """Invert 16 bytes every 4 KiB: every document in the file has some of its bytes changed."""
    with path.open("r+b") as file:
        for offset in range(1024, path.stat().st_size, 4096):
            file.seek(offset)
            chunk = file.read(16)
            file.seek(offset)
            file.write(bytes(byte ^ 0xFF for byte in chunk))


def truncate(path: Path) -> None:
    """Keep the first 4 pages (the schema and the manifest), drop the rest."""
    os.truncate(path, 4 * 65536)


@pytest.mark.parametrize("damage", [flip_bytes, truncate])
def test_a_live_snapshot_damaged_on_disk_is_never_served(warehouse, tmp_path, user_ids, damage):
    """While gunicorn serves the newest snapshot, its file is damaged in place: every answer after
    that is the older intact snapshot's (the same documents: both are exports of one warehouse),
    no worker dies, /readyz says what it serves and why; with both damaged it is not ready."""
    store = Store(tmp_path)
    older, newest = publish(warehouse, store), publish(warehouse, store)
    urls = [f"/v1/users/{user_id}/discover-weekly" for user_id in user_ids]
    with gunicorn(store) as base:
        expected = [get(base + url) for url in urls]
        assert all(status == 200 for status, _ in expected)
        damage(store.snapshot_path(newest["snapshot_id"]))
        assert [get(base + url) for url in urls] == expected
        for _ in range(6):
            status, body = get(f"{base}/readyz")
            ready = json.loads(body)
            assert status == 200 and ready["snapshot_id"] == older["snapshot_id"]
            assert ready["last_swap_error"].startswith(f"snapshot {newest['snapshot_id']} is damaged")
        damage(store.snapshot_path(older["snapshot_id"]))
        for url in [*urls[:6], "/readyz", "/readyz"]:
            status, body = get(base + url)
            assert status == 503 and json.loads(body)["error"]["code"] == "no_snapshot"
        assert json.loads(body)["error"]["message"].count(" is damaged: it does not match its checksum") == 2


def test_a_snapshot_truncated_under_an_open_connection_is_an_error_not_sigbus(warehouse, tmp_path):
    """A request that reads a snapshot file truncated after it was checked (the stat before each
    request cannot close that window) gets a SQLite error, not SIGBUS: reads are not mmapped."""
    store = Store(tmp_path)
    path = store.snapshot_path(publish(warehouse, store)["snapshot_id"])
    script = """
import os, sqlite3, sys
from serving.store_reader import Snapshot
con = Snapshot(manifest={}, path=sys.argv[1], stat={}).connect()
con.execute("select value from manifest where key = 'snapshot_id'").fetchone()  # the connection reads
os.truncate(sys.argv[1], 4 * 65536)
try:
    con.execute("select sum(length(body)) from surfaces").fetchone()
except sqlite3.Error as error:
    print(f"sqlite3.Error: {error}")
"""
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout) == (0, "sqlite3.Error: database disk image is malformed\n"), result


def reseal(store: Store, manifest: dict) -> dict:
    """Give a snapshot whose file was changed the manifest of its new bytes, and publish it: a file
    damaged before the export checksummed it."""
    path = store.snapshot_path(manifest["snapshot_id"])
    manifest = store.seal({**manifest, "checksum_sha256": sha256_of(path)}, file_stat(path))
    store.publish(manifest)
    return manifest


def test_a_snapshot_that_fails_reads_gets_503_then_the_older_one_is_served(warehouse, tmp_path, user_ids):
    store = Store(tmp_path)
    older, newest = publish(warehouse, store), publish(warehouse, store)
    path = store.snapshot_path(newest["snapshot_id"])
    with sqlite3.connect(path) as con:
        roots = [
            row[0]
            for row in con.execute(
                "select rootpage from sqlite_master where tbl_name in ('surfaces', 'listeners') and rootpage > 0"
            )
        ]
        page_size = con.execute("pragma page_size").fetchone()[0]
    with path.open("r+b") as file:  # an invalid b-tree page type on the tables' root pages
        for root in roots:
            file.seek((root - 1) * page_size)
            file.write(b"\x55")
    reseal(store, newest)
    client = create_app({"SERVING_STORE": str(tmp_path)}).test_client()
    assert client.get("/readyz").get_json()["snapshot_id"] == newest["snapshot_id"]  # its checksum matches

    failed = client.get(f"/v1/users/{user_ids[0]}/discover-weekly")
    assert failed.status_code == 503 and failed.get_json()["error"]["code"] == "snapshot_unreadable"
    for user_id in user_ids[:5]:
        response = client.get(f"/v1/users/{user_id}/discover-weekly")
        assert response.status_code == 200 and response.get_json()["user_id"] == user_id
    ready = client.get("/readyz").get_json()
    assert ready["snapshot_id"] == older["snapshot_id"]
    assert ready["last_swap_error"].startswith(f"snapshot {newest['snapshot_id']} is damaged: ")


def test_a_failed_swap_is_retried_without_a_new_current(warehouse, tmp_path):
    store = Store(tmp_path)
    older = publish(warehouse, store)
    client = create_app({"SERVING_STORE": str(tmp_path)}).test_client()
    assert client.get("/readyz").get_json()["snapshot_id"] == older["snapshot_id"]
    newest = publish(warehouse, store)
    path = store.snapshot_path(newest["snapshot_id"])
    path.rename(path.with_suffix(".away"))  # published, and its file not there (yet)
    ready = client.get("/readyz").get_json()
    assert ready["snapshot_id"] == older["snapshot_id"] and ready["last_swap_error"]
    current = file_stat(store.current_file)
    path.with_suffix(".away").rename(path)
    deadline = time.monotonic() + 10 * RETRY_SECONDS
    while client.get("/readyz").get_json()["snapshot_id"] != newest["snapshot_id"]:
        assert time.monotonic() < deadline, "the reader never looked again"
        time.sleep(0.1)
    assert client.get("/readyz").get_json()["last_swap_error"] is None
    assert file_stat(store.current_file) == current


def test_track_fields_survive_another_thread_clearing_the_cache(tmp_path):
    """Worker threads share a snapshot's track cache, and any of them may clear it when it is full.
    A request whose tracks are fetched in several chunks must not depend on the cache between
    them: here the cache is cleared (as by another thread) while the second chunk is read."""
    path = tmp_path / "tracks.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("create table tracks (track_id text primary key, fields blob)")
        con.executemany("insert into tracks values (?, ?)", [(f"t{n}", f'"n":{n}}}'.encode()) for n in range(1200)])
    snapshot = Snapshot(manifest={}, path=str(path), stat={})
    con = snapshot.connect()
    statements = []

    def other_thread_clears_the_cache(statement: str) -> None:  # called as each statement starts
        statements.append(statement)
        if len(statements) == 2:  # the second chunk's query: the first chunk is already read
            snapshot._fields.clear()

    con.set_trace_callback(other_thread_clears_the_cache)
    wanted = [f"t{n}" for n in range(0, 1200, 2)]  # 600 tracks: two chunks of at most 500
    fields = snapshot.tracks(con).fields(wanted)
    con.set_trace_callback(None)
    assert len(statements) == 2
    assert fields == [f'"n":{n}}}'.encode() for n in range(0, 1200, 2)]
