"""The export: the warehouse's serving tables into a validated, atomically published snapshot."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import duckdb
import pytest

from conftest import PROJECT_DIR, RUN_DATE
from serving.documents import surface_body, unpack_hashes
from serving.snapshot import Store, export, rollback, verify
from serving.warehouse import DuckDBWarehouse, ExportError
from tunesday.bloom import track_hashes


def run_export(warehouse, store: Store, run_date: str = RUN_DATE, keep: int = 3) -> dict:
    source = DuckDBWarehouse(str(warehouse.duckdb_path))
    try:
        return export(source, store, run_date, keep=keep, progress=lambda line: None)
    finally:
        source.close()


def test_export_publishes_what_the_warehouse_holds(warehouse, tmp_path):
    store = Store(tmp_path)
    manifest = run_export(warehouse, store)
    assert store.current()["snapshot_id"] == manifest["snapshot_id"] and manifest["run_date"] == RUN_DATE
    verify(store, manifest)
    with duckdb.connect(str(warehouse.duckdb_path), read_only=True) as con:
        for table, rows in manifest["row_counts"].items():
            assert rows == con.execute(f"select count(*) from {table}").fetchone()[0] > 0, table
        [(user_id,)] = con.execute("select min(user_id) from serving_recommendations").fetchall()
        expected = [row[0] for row in con.execute(
            "select track_id from serving_recommendations where user_id = ? and surface = 'discover_weekly' "
            "order by surface_position", [user_id]).fetchall()]
    with sqlite3.connect(store.current()["path"]) as con:
        [(document, item_ends)] = con.execute(
            "select body, item_ends from surfaces where user_id = ? and surface = 'discover_weekly'", [user_id]).fetchall()
        tracks = dict(con.execute("select track_id, fields from tracks").fetchall())
    body = json.loads(document)
    first_five = json.loads(surface_body(document, item_ends, 5))
    assert first_five == {**body, "items": body["items"][:5]}
    assert body["user_id"] == user_id and body["run_date"] == RUN_DATE
    assert [item["track_id"] for item in body["items"]] == expected and len(expected) == 30
    assert [item["position"] for item in body["items"]] == list(range(1, 31))
    assert all(item["reasons"] and item["track_name"] and item["artist_name"] for item in body["items"])
    # Every track of every document has its display fields, rendered as valid JSON; every pool track
    # its Bloom hashes.
    with sqlite3.connect(store.current()["path"]) as con:
        listed = set()
        for track_ids, pool_track_ids, packed in con.execute(
                "select track_ids, pool_track_ids, pool_hashes from playlists"):
            pool = pool_track_ids.split("\n") if pool_track_ids else []
            listed.update(track_ids.split("\n"), pool)
            hashes = unpack_hashes(packed)
            assert list(zip(hashes[0::2], hashes[1::2])) == [track_hashes(track_id) for track_id in pool]
        assert listed <= tracks.keys()
        for track_id, fields in tracks.items():
            assert json.loads(b"{" + fields)["track_id"] == track_id
    # The export closed the DuckDB file: dbt can take the write lock again.
    duckdb.connect(str(warehouse.duckdb_path)).close()


def test_a_failed_export_publishes_nothing(warehouse, tmp_path):
    store = Store(tmp_path)
    good = run_export(warehouse, store)
    with pytest.raises(ExportError, match="not 2001-01-01"):
        run_export(warehouse, store, run_date="2001-01-01")
    assert store.current()["snapshot_id"] == good["snapshot_id"]
    assert not list(store.snapshots.glob("*.partial"))


def test_an_export_killed_midway_leaves_the_published_snapshot_intact(warehouse, tmp_path):
    store = Store(tmp_path)
    good = run_export(warehouse, store)
    env = {**os.environ, "TUNESDAY_DUCKDB_PATH": str(warehouse.duckdb_path), "TUNESDAY_SERVING_STORE": str(tmp_path),
           "TUNESDAY_EXPORT_PAUSE_SECONDS": "60"}
    process = subprocess.Popen([sys.executable, "-m", "serving.cli", "export", "--run-date", RUN_DATE],
                               cwd=PROJECT_DIR, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(store.snapshots.glob("*.partial")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(store.snapshots.glob("*.partial")), "the export never started writing"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert store.current()["snapshot_id"] == good["snapshot_id"]
    verify(store, store.current())
    # The next export clears the leftover and publishes.
    newer = run_export(warehouse, store)
    assert store.current()["snapshot_id"] == newer["snapshot_id"] != good["snapshot_id"]
    assert not list(store.snapshots.glob("*.partial"))


def test_keeps_the_last_snapshots_and_rolls_back(warehouse, tmp_path):
    store = Store(tmp_path)
    ids = [run_export(warehouse, store, keep=2)["snapshot_id"] for _ in range(3)]
    assert [m["snapshot_id"] for m in store.published()] == ids[:0:-1]
    assert rollback(store)["snapshot_id"] == ids[1] == store.current()["snapshot_id"]
    with pytest.raises(ExportError, match="no older snapshot"):
        rollback(store)
    assert rollback(store, ids[2])["snapshot_id"] == ids[2]
    with pytest.raises(ExportError, match="no snapshot"):
        rollback(store, ids[0])


def test_cli_reports_errors_in_one_line(tmp_path):
    env = {**os.environ, "TUNESDAY_DUCKDB_PATH": str(tmp_path / "missing.duckdb"),
           "TUNESDAY_SERVING_STORE": str(tmp_path / "store")}
    result = subprocess.run([sys.executable, "-m", "serving.cli", "export", "--run-date", RUN_DATE],
                            cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and result.stderr.startswith("tunesday-serving export:")
