"""The shim behind a real gunicorn on loopback: hot swap under concurrent requests, malformed input."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import PROJECT_DIR, RUN_DATE
from http_client import running_gunicorn
from serving.snapshot import export
from serving.store import Store
from serving.warehouse import DuckDBWarehouse
from tunesday.warehouse import connect as connect_warehouse


def publish(warehouse, store: Store) -> dict:
    source = DuckDBWarehouse(str(warehouse.duckdb_path))
    try:
        return export(source, store, RUN_DATE, keep=10, progress=lambda line: None)
    finally:
        source.close()


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def server(warehouse, tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("served"))
    publish(warehouse, store)
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        user_id, playlist_id = con.execute(
            "select owner_user_id, playlist_id from serving_smart_shuffle_pools order by playlist_id limit 1").fetchone()
    with running_gunicorn(store.root, store.root.parent / f"{store.root.name}-gunicorn.log", workers=3, timeout=30) as port:
        yield {"base": f"http://127.0.0.1:{port}", "store": store, "warehouse": warehouse, "user_id": user_id,
               "playlist_id": playlist_id}


def test_hot_swap_under_concurrent_requests_without_an_error(server):
    base, user_id, playlist_id = server["base"], server["user_id"], server["playlist_id"]
    urls = [f"{base}/v1/users/{user_id}/discover-weekly",
            f"{base}/v1/users/{user_id}/playlists/{playlist_id}/smart-shuffle?seed=1",
            f"{base}/v1/users/{user_id}/recommendations?limit=10"]
    failures: list[str] = []
    done = threading.Event()
    counts = [0] * 8

    def client(slot: int) -> None:
        while not done.is_set():
            url = urls[counts[slot] % len(urls)]
            try:
                status, body = get(url)
                if status != 200 or body.get("run_date") != RUN_DATE or not body["items"]:
                    failures.append(f"{url}: {status} {str(body)[:200]}")
            except OSError as error:
                failures.append(f"{url}: {error}")
            counts[slot] += 1

    threads = [threading.Thread(target=client, args=(slot,)) for slot in range(len(counts))]
    for thread in threads:
        thread.start()
    published = [publish(server["warehouse"], server["store"])["snapshot_id"] for _ in range(3)]
    time.sleep(1)
    done.set()
    for thread in threads:
        thread.join()
    assert not failures, failures[:5]
    assert sum(counts) > 100
    # Every worker has moved on to the last snapshot.
    seen = {get(f"{base}/readyz")[1]["snapshot_id"] for _ in range(20)}
    assert seen == {published[-1]}


@pytest.mark.parametrize("path, status", [
    ("/v1/users/%E2%9C%93/discover-weekly", 400),
    ("/v1/users/a%20b/discover-weekly", 400),
    ("/v1/users/{user}/recommendations?limit=-1", 400),
    ("/v1/users/{user}/recommendations?limit=99999999999", 400),
    ("/v1/users/{user}/playlists/%2e%2e/smart-shuffle", 400),
    ("/v1/users/nobody/heard/t1", 404),
])
def test_malformed_input_gets_a_json_error(server, path, status):
    code, body = get(server["base"] + path.format(user=server["user_id"]))
    assert code == status and set(body) == {"error"} and body["error"]["code"]


def test_metrics_add_up_over_the_workers(server):
    """Each request is counted once whichever of the 3 workers answered it, and every worker's
    /metrics reports the whole server's counts."""
    base = server["base"]
    for _ in range(40):
        assert get(f"{base}/openapi.json")[0] == 200
    line = 'tunesday_http_requests_total{route="/openapi.json",status="200"} 40.0'
    for _ in range(6):
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            text = response.read().decode()
        assert line in text.splitlines(), [row for row in text.splitlines() if "openapi" in row]
        assert 'tunesday_http_request_duration_seconds_count{route="/openapi.json"} 40.0' in text.splitlines()
