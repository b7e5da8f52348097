"""The shim behind a real gunicorn on loopback: hot swap under concurrent requests, malformed input."""

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from conftest import RUN_DATE
from http_client import refused_start, request, running_gunicorn

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
            "select owner_user_id, playlist_id from serving_smart_shuffle_pools order by playlist_id limit 1"
        ).fetchone()
    log_path = store.root.parent / f"{store.root.name}-gunicorn.log"
    with running_gunicorn(store.root, log_path, workers=3, timeout=30) as port:
        yield {
            "base": f"http://127.0.0.1:{port}",
            "store": store,
            "warehouse": warehouse,
            "user_id": user_id,
            "playlist_id": playlist_id,
            "log": log_path,
        }


def test_hot_swap_under_concurrent_requests_without_an_error(server):
    base, user_id, playlist_id = server["base"], server["user_id"], server["playlist_id"]
    urls = [
        f"{base}/v1/users/{user_id}/discover-weekly",
        f"{base}/v1/users/{user_id}/playlists/{playlist_id}/smart-shuffle?seed=1",
        f"{base}/v1/users/{user_id}/recommendations?limit=10",
    ]
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


@pytest.mark.parametrize(
    "path, status",
    [
        ("/v1/users/%E2%9C%93/discover-weekly", 400),
        ("/v1/users/a%20b/discover-weekly", 400),
        ("/v1/users/{user}/recommendations?limit=-1", 400),
        ("/v1/users/{user}/recommendations?limit=99999999999", 400),
        ("/v1/users/{user}/playlists/%2e%2e/smart-shuffle", 400),
        ("/v1/users/nobody/heard/t1", 404),
    ],
)
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


def test_the_log_is_json_lines_one_per_request_without_secrets(server):
    """Every line the server wrote (gunicorn's own, the workers', the app's) is a JSON object; each
    request is one line with its route template, status, duration and snapshot; the query string,
    the Authorization header and the listener id are in none."""
    user_id, port = server["user_id"], int(server["base"].rsplit(":", 1)[1])
    secret = "s3cr3t-query-token-value"
    bearer = "b3arer-token-value-0123456789"
    current = server["store"].current()
    for _ in range(5):
        answer = request(
            port, "GET", f"/v1/users/{user_id}/heard/t1?token={secret}", headers={"Authorization": f"Bearer {bearer}"}
        )
        assert answer.status == 200
    assert request(port, "GET", f"/v1/users/{user_id}/nowhere?token={secret}").status == 404
    text = server["log"].read_text()
    records = [json.loads(line) for line in text.splitlines()]  # fails on any line that is not JSON
    assert all(list(record)[:3] == ["ts", "level", "event"] for record in records)
    heard = [r for r in records if r.get("route") == "/v1/users/<user_id>/heard/<track_id>" and r["status"] == 200]
    assert len(heard) == 5, heard  # one line per request: gunicorn's own access log is off
    assert {(r["method"], r["snapshot_id"], r["run_date"]) for r in heard} == {
        ("GET", current["snapshot_id"], RUN_DATE)
    }
    assert all(isinstance(r["duration_ms"], float) and r["duration_ms"] >= 0 for r in heard)
    assert 404 in [r["status"] for r in records if r.get("route") == "unmatched"]
    assert any(r["event"] == "log" and r["logger"] == "gunicorn.error" for r in records)  # gunicorn's own lines
    assert any(r["event"] == "snapshot_loaded" and r["snapshot_id"] == current["snapshot_id"] for r in records)
    assert secret not in text and bearer not in text and user_id not in text and "token=" not in text


def test_an_unknown_log_level_stops_the_server_in_one_line(tmp_path):
    assert refused_start(tmp_path, {"TUNESDAY_LOG_LEVEL": "verbose"}) == [
        "tunesday serving: TUNESDAY_LOG_LEVEL must be one of debug, info, warning, error, critical (got 'verbose')"
    ]
