"""The shim's exposure log: what it records when it serves a variant, that it never fails or holds
a request, and that `tunesday-load exposures` ships it into the raw contract."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pyarrow.parquet as pq
import pytest
from conftest import RUN_DATE
from http_client import running_gunicorn

from serving import exposures as exposure_log
from serving import metrics
from serving.app import create_app
from serving.snapshot import export
from serving.store import Store
from serving.warehouse import DuckDBWarehouse
from tunesday.experiments import read_experiments
from tunesday.load.cli import load
from tunesday.warehouse import connect as connect_warehouse

EXPERIMENT = "for_you_ranker_vs_blend"


@pytest.fixture(scope="module")
def published(warehouse, tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("exposure-store"))
    source = DuckDBWarehouse(str(warehouse.duckdb_path))
    try:
        manifest = export(source, store, RUN_DATE, progress=lambda line: None)
    finally:
        source.close()
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        users = [
            row[0]
            for row in con.execute(
                "select distinct user_id from serving_recommendations where surface = 'for_you' order by user_id"
            ).fetchall()
        ]
    return {"store": store, "manifest": manifest, "users": users}


def log_lines(folder) -> list[dict]:
    return [
        json.loads(line) for path in sorted(folder.glob("exposures-*.jsonl")) for line in path.read_text().splitlines()
    ]


def test_serving_a_variant_logs_one_exposure_and_the_loader_ships_it(published, tmp_path):
    log_dir = tmp_path / "log"
    app = create_app({"SERVING_STORE": str(published["store"].root), "EXPOSURE_LOG": str(log_dir)})
    client, users = app.test_client(), published["users"][:30]
    started = time.time()
    for user in users:
        assert client.get(f"/v1/users/{user}/recommendations?limit=5").status_code == 200
    for user in users[:10]:  # Discover Weekly: no experiment orders it, nothing to log
        assert client.get(f"/v1/users/{user}/discover-weekly").status_code == 200
    assert client.get("/v1/users/nobody/recommendations").status_code == 404
    app.extensions["exposure_log"].close()
    assert not list(log_dir.glob("*.open"))  # closed: complete, and shippable
    lines = log_lines(log_dir)
    experiment = read_experiments()[EXPERIMENT]
    assert [line["user_id"] for line in lines] == users
    for line in lines:
        assert (line["experiment_id"], line["variant"], line["surface"], line["snapshot_id"]) == (
            EXPERIMENT,
            experiment.variant_of(line["user_id"]).name,
            "for_you",
            published["manifest"]["snapshot_id"],
        )
        exposed = time.mktime(time.strptime(line["exposed_at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        assert started - 1 <= exposed <= time.time() + 1
    assert len({line["exposure_id"] for line in lines}) == len(lines)

    raw = tmp_path / "raw"
    assert load(["exposures", str(log_dir), "--raw-dir", str(raw)], echo=lambda line: None).exit_code == 0
    shipped = pq.read_table(raw / "exposures").to_pylist()
    assert sorted((row["exposure_id"], row["user_id"], row["variant"]) for row in shipped) == sorted(
        (line["exposure_id"], line["user_id"], line["variant"]) for line in lines
    )
    again = load(["exposures", str(log_dir), "--raw-dir", str(raw)], echo=lambda line: None)
    assert again.exit_code == 0 and pq.read_table(raw / "exposures").num_rows == len(lines)  # shipped once


def test_a_log_that_cannot_be_written_never_fails_a_request(published, tmp_path, caplog):
    """The log's folder is a file: every request still answers 200, and the exposures are counted
    as dropped, with a warning in the log."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    app = create_app({"SERVING_STORE": str(published["store"].root), "EXPOSURE_LOG": str(blocked / "log")})
    client = app.test_client()
    dropped = metrics.EXPOSURES_DROPPED._value.get()
    for user in published["users"][:5]:
        assert client.get(f"/v1/users/{user}/recommendations").status_code == 200
    app.extensions["exposure_log"].close()
    assert metrics.EXPOSURES_DROPPED._value.get() == dropped + 5
    assert "exposure_log_write_failed" in [record.getMessage() for record in caplog.records]


def test_a_full_queue_drops_rather_than_waits(tmp_path, monkeypatch):
    monkeypatch.setattr(exposure_log, "MAX_PENDING", 3)
    monkeypatch.setattr(exposure_log, "FLUSH_SECONDS", 60)  # nothing is written meanwhile
    log = exposure_log.ExposureLog(tmp_path)
    dropped = metrics.EXPOSURES_DROPPED._value.get()
    for number in range(5):
        log.record(f"usr_{number}", EXPERIMENT, "blend", "for_you", "s1")
    assert metrics.EXPOSURES_DROPPED._value.get() == dropped + 2
    log.close()
    assert [line["user_id"] for line in log_lines(tmp_path)] == ["usr_0", "usr_1", "usr_2"]


def test_gunicorn_workers_close_their_logs_when_the_server_stops(published, tmp_path):
    """Under the production server, each worker writes its own file and closes it when the server
    stops (SIGTERM): every exposure served is in a closed file."""
    log_dir = tmp_path / "log"
    users = published["users"][:40]
    with running_gunicorn(
        published["store"].root, tmp_path / "gunicorn.log", workers=2, env={"TUNESDAY_EXPOSURE_LOG": str(log_dir)}
    ) as port:
        for user in users:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/users/{user}/recommendations", timeout=10) as r:
                assert json.loads(r.read())["experiment"]["id"] == EXPERIMENT
    assert not list(log_dir.glob("*.open")), os.listdir(log_dir)
    assert sorted(line["user_id"] for line in log_lines(log_dir)) == sorted(users)


def test_an_abandoned_open_file_is_shipped_without_its_torn_line(tmp_path):
    """A worker killed mid-write leaves an `.open` file ending in a torn line: once old enough, the
    loader ships its whole lines and sets the torn one aside."""
    code = f"""
import time
from serving.exposures import ExposureLog
log = ExposureLog({str(tmp_path / "log")!r})
for number in range(3):
    log.record(f"usr_{{number}}", "{EXPERIMENT}", "blend", "for_you", "s1")
log.flush()
print("flushed", flush=True)
time.sleep(60)
"""
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "flushed"
    child.send_signal(signal.SIGKILL)
    child.wait()
    [left] = list((tmp_path / "log").glob("*.jsonl.open"))
    with left.open("a") as file:
        file.write('{"exposure_id":"torn')
    raw = tmp_path / "raw"
    report = load(["exposures", str(tmp_path / "log"), "--raw-dir", str(raw)], echo=lambda line: None)
    assert report.exit_code == 1  # too young: a live worker may still be writing it
    old = time.time() - 3 * 3600
    os.utime(left, (old, old))
    report = load(["exposures", str(tmp_path / "log"), "--raw-dir", str(raw)], echo=lambda line: None)
    assert report.exit_code == 3  # loaded, with one line set aside
    assert sorted(pq.read_table(raw / "exposures")["user_id"].to_pylist()) == ["usr_0", "usr_1", "usr_2"]


def test_two_logs_of_one_process_keep_their_own_files(tmp_path):
    """Two apps of one process logging to one folder (tests make many) write and close a file each:
    neither renames the other's file from under it."""
    first, second = exposure_log.ExposureLog(tmp_path), exposure_log.ExposureLog(tmp_path)
    first.record("usr_1", EXPERIMENT, "blend", "for_you", "s1")
    second.record("usr_2", EXPERIMENT, "control", "for_you", "s1")
    first.flush()
    second.flush()
    first.close()
    second.close()
    assert len(list(tmp_path.glob("*.jsonl"))) == 2 and not list(tmp_path.glob("*.open"))
    assert sorted(line["user_id"] for line in log_lines(tmp_path)) == ["usr_1", "usr_2"]
