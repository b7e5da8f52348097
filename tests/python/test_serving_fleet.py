"""Serving from many hosts: the daily job's publish stage uploads each snapshot to a remote (a
folder, as file://), and three shims, each a real gunicorn with its own store and a real puller
process beside it (`tunesday-serving pull --every`), converge on it; a damaged upload is refused
while the last good snapshot keeps serving; a pull killed mid-download leaves nothing visible.

The warehouse is bench/export_bench.py's fabricated serving tables (a few hundred listeners: a
snapshot larger than one read of the puller, so a download can be caught half done)."""

import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import pytest
from conftest import PROJECT_DIR
from http_client import running_gunicorn

from bench.export_bench import RUN_DATE, fabricate
from serving.remote import CHUNK_BYTES, read_pulled
from serving.snapshot import export
from serving.store import Store
from serving.warehouse import DuckDBWarehouse
from tunesday import settings
from tunesday.files import write_whole
from tunesday.job import stages
from tunesday.job.target import Target

PULL_SECONDS = 0.2
#: How long a host may take to take up a publish: a bound for a broken puller, not a measure.
DEADLINE_SECONDS = 60


def get(url: str) -> tuple[int, dict | str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read().decode()
            status = response.status
    except urllib.error.HTTPError as error:
        body, status = error.read().decode(), error.code
    return status, (json.loads(body) if body.startswith("{") else body)


def wait_for(what: str, check, seconds: float = DEADLINE_SECONDS):
    deadline = time.monotonic() + seconds
    while not (result := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds} s: {what}")
        time.sleep(0.05)
    return result


def snapshot_files(store: Store, snapshot_id: str) -> list[str]:
    return sorted(path.name for path in store.snapshots.glob(f"{snapshot_id}*"))


class Job:
    """The daily job's export and publish stages, on the fabricated warehouse, publishing to `remote`."""

    def __init__(self, duckdb_path: Path, store: Path, remote: str) -> None:
        self.target = Target(
            "dev",
            {
                settings.DUCKDB_PATH: str(duckdb_path),
                settings.SERVING_STORE: str(store),
                settings.SNAPSHOT_REMOTE: remote,
            },
        )
        self.store = Store(store)

    def export(self) -> str:
        day = stages.Day(target=self.target, run_date=dt.date.fromisoformat(RUN_DATE), progress=lambda line: None)
        stages.export(day)
        return day.snapshot_id

    def publish(self, snapshot_id: str | None = None) -> str:
        day = stages.Day(
            target=self.target,
            run_date=dt.date.fromisoformat(RUN_DATE),
            progress=lambda line: None,
            snapshot_id=snapshot_id or self.export(),
        )
        outcome = stages.publish(day)
        remote = self.target.environ[settings.SNAPSHOT_REMOTE]
        assert outcome.status == "success" and outcome.detail.endswith(f"uploaded to {remote}")
        return day.snapshot_id


class Host:
    """A serving host: its store, its gunicorn (one worker) and its puller process."""

    def __init__(self, root: Path, remote: str) -> None:
        root.mkdir()
        self.store = Store(root / "store")
        self.log = root / "puller.log"
        self.env = {**os.environ, settings.SERVING_STORE: str(self.store.root), settings.SNAPSHOT_REMOTE: remote}
        self.puller: subprocess.Popen | None = None
        self.base = ""

    def pull(self, *args: str, remote: str | None = None) -> subprocess.Popen:
        env = self.env if remote is None else {**self.env, settings.SNAPSHOT_REMOTE: remote}
        with open(self.log, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "serving.cli", "pull", *args], cwd=PROJECT_DIR, env=env, stdout=log, stderr=log
            )

    def start_puller(self) -> None:
        self.puller = self.pull("--every", str(PULL_SECONDS))

    def stop_puller(self) -> None:
        self.puller.terminate()
        self.puller.wait(timeout=30)

    def serving(self) -> str | None:
        status, body = get(f"{self.base}/readyz")
        return body.get("snapshot_id") if status == 200 else None

    def metrics(self) -> list[str]:
        return get(f"{self.base}/metrics")[1].splitlines()


@pytest.fixture(scope="module")
def fabricated(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fabricated") / "warehouse.duckdb"
    fabricate(path, listeners=400, tracks=2000)
    return path


@pytest.fixture(scope="module")
def fleet(fabricated, tmp_path_factory):
    root = tmp_path_factory.mktemp("fleet")
    remote = (root / "remote").as_uri()
    job = Job(fabricated, root / "job-store", remote)
    first = job.publish()
    hosts = [Host(root / f"host{number}", remote) for number in range(3)]
    with ExitStack() as stack:
        for host in hosts:
            host.start_puller()
            stack.callback(lambda host=host: host.puller.poll() is None and host.stop_puller())
        for number, host in enumerate(hosts):
            port = stack.enter_context(
                running_gunicorn(host.store.root, root / f"host{number}.log", workers=1, env=host.env)
            )
            host.base = f"http://127.0.0.1:{port}"
        wait_for(f"every host serving {first}", lambda: all(host.serving() == first for host in hosts))
        yield {"root": root, "remote": Path(root / "remote"), "job": job, "hosts": hosts}


def converged(fleet, snapshot_id: str) -> None:
    wait_for(f"every host serving {snapshot_id}", lambda: all(host.serving() == snapshot_id for host in fleet["hosts"]))


def test_three_hosts_each_with_its_own_store_converge_on_each_publish(fleet):
    job, hosts = fleet["job"], fleet["hosts"]
    for _ in range(2):
        snapshot_id = job.publish()
        converged(fleet, snapshot_id)
        expected = hashlib.sha256(job.store.snapshot_path(snapshot_id).read_bytes()).hexdigest()
        for host in hosts:
            assert host.store.current()["snapshot_id"] == snapshot_id
            assert hashlib.sha256(host.store.snapshot_path(snapshot_id).read_bytes()).hexdigest() == expected
            status, body = get(f"{host.base}/v1/users/usr_0000000007/discover-weekly")
            assert status == 200 and body["run_date"] == RUN_DATE and len(body["items"]) == 30
            assert f'tunesday_snapshot_pulled_info{{snapshot_id="{snapshot_id}"}} 1' in host.metrics()
    # The remote is laid out like a store: the snapshot, its manifest (with its size), CURRENT.
    shared = json.loads((fleet["remote"] / "CURRENT").read_text())
    assert shared["snapshot_id"] == snapshot_id and shared["checksum_sha256"] == expected
    assert shared["bytes"] == job.store.snapshot_path(snapshot_id).stat().st_size and "file_stat" not in shared


def damage(data: bytes, how: str) -> bytes:
    if how == "a flipped byte":
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
    return data[: len(data) // 2]


def upload_elsewhere(fleet, name: str) -> tuple[Path, str]:
    """A new snapshot exported and uploaded whole by the publish stage to another folder remote."""
    elsewhere = fleet["root"] / name
    job = Job(fleet["job"].target.duckdb_path, fleet["root"] / f"{name}-store", elsewhere.as_uri())
    return elsewhere, job.publish()


@pytest.mark.parametrize("how", ["a flipped byte", "a truncated file"])
def test_a_damaged_upload_is_refused_and_the_last_good_snapshot_keeps_serving(fleet, how):
    job, hosts, remote = fleet["job"], fleet["hosts"], fleet["remote"]
    good = job.publish()
    converged(fleet, good)
    failures_before = [read_pulled(host.store)["failures_total"] for host in hosts]
    # An upload damaged on its way: its file, then its manifest, then CURRENT (whole, last).
    elsewhere, damaged = upload_elsewhere(fleet, f"damaged-{how.split()[-2]}")
    name = f"snapshots/{damaged}.sqlite"
    write_whole(remote / name, damage((elsewhere / name).read_bytes(), how))
    shutil.copy(elsewhere / f"snapshots/{damaged}.manifest.json", remote / "snapshots")
    write_whole(remote / "CURRENT", (elsewhere / "CURRENT").read_bytes())

    for host, before in zip(hosts, failures_before):
        pulled = wait_for(
            f"{host.store.root} refusing {damaged}",
            lambda host=host, before=before: (
                (record := read_pulled(host.store))["failures_total"] > before and record["last_error"] and record
            ),
        )
        assert pulled["last_error"].startswith(f"snapshot {damaged} on {remote.as_uri()} is damaged: ")
        assert host.serving() == good and host.store.current()["snapshot_id"] == good
        assert not [name for name in snapshot_files(host.store, damaged) if not name.endswith(".partial")]
        status, body = get(f"{host.base}/v1/users/usr_0000000007/discover-weekly")
        assert status == 200 and body["run_date"] == RUN_DATE
        metrics = host.metrics()
        assert f'tunesday_snapshot_pulled_info{{snapshot_id="{good}"}} 1' in metrics
        [failures] = [line.split()[1] for line in metrics if line.startswith("tunesday_snapshot_pull_failures_total ")]
        assert int(failures) > before
        # One line of warning in the puller's log, with the reason.
        refused = [
            json.loads(line)
            for line in host.log.read_text().splitlines()
            if '"snapshot_pull_failed"' in line and damaged in line
        ]
        assert refused and refused[-1]["level"] == "warning" and "is damaged" in refused[-1]["error"]
    # The next good publish is taken up everywhere.
    converged(fleet, job.publish())


def test_a_pull_killed_mid_download_leaves_nothing_half_visible(fleet):
    """The remote's snapshot file is a FIFO the test feeds: the puller has written its first reads
    to the store when it is killed (SIGKILL: no clean-up runs)."""
    job, host = fleet["job"], fleet["hosts"][0]
    good = job.publish()
    converged(fleet, good)
    elsewhere, snapshot_id = upload_elsewhere(fleet, "fifo-source")
    data = (elsewhere / f"snapshots/{snapshot_id}.sqlite").read_bytes()
    assert len(data) > CHUNK_BYTES + 1000, "the snapshot must outgrow one read of the puller"
    fed = fleet["root"] / "fifo-remote"
    (fed / "snapshots").mkdir(parents=True)
    shutil.copy(elsewhere / f"snapshots/{snapshot_id}.manifest.json", fed / "snapshots")
    shutil.copy(elsewhere / "CURRENT", fed / "CURRENT")
    os.mkfifo(fed / f"snapshots/{snapshot_id}.sqlite")
    killed = threading.Event()

    def feed() -> None:
        try:
            with open(fed / f"snapshots/{snapshot_id}.sqlite", "wb") as fifo:
                fifo.write(data[:-1000])  # all but the end: the puller waits for the rest
                fifo.flush()
                killed.wait(DEADLINE_SECONDS)
        except BrokenPipeError:
            pass

    host.stop_puller()
    try:
        feeder = threading.Thread(target=feed)
        feeder.start()
        puller = host.pull(remote=fed.as_uri())

        def written() -> int:
            return max((path.stat().st_size for path in host.store.snapshots.glob(f"{snapshot_id}.sqlite*")), default=0)

        wait_for("the first read written", lambda: puller.poll() is not None or written() >= CHUNK_BYTES)
        assert puller.poll() is None, host.log.read_text()[-2000:]
        puller.send_signal(signal.SIGKILL)
        puller.wait(timeout=30)
        killed.set()
        feeder.join(timeout=30)
        # Only the partial file, which nothing reads: CURRENT and what is served are as they were.
        assert snapshot_files(host.store, snapshot_id) == [f"{snapshot_id}.sqlite.partial"]
        assert host.store.current()["snapshot_id"] == good and host.serving() == good
        assert [m["snapshot_id"] for m in host.store.published()][0] == good
        # The next pull, with the whole file there, takes it up and removes what the killed one left.
        (fed / f"snapshots/{snapshot_id}.sqlite").unlink()
        write_whole(fed / f"snapshots/{snapshot_id}.sqlite", data)
        again = host.pull(remote=fed.as_uri())
        assert again.wait(timeout=60) == 0
        assert snapshot_files(host.store, snapshot_id) == [f"{snapshot_id}.manifest.json", f"{snapshot_id}.sqlite"]
        wait_for(f"{host.base} serving {snapshot_id}", lambda: host.serving() == snapshot_id)
    finally:
        killed.set()
        host.start_puller()
    converged(fleet, good)  # back on the fleet's remote


def test_a_publish_the_remote_cannot_take_fails_in_one_line_and_publishes_nothing(fabricated, tmp_path):
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a folder")
    for remote, reason in [
        (in_the_way.as_uri() + "/remote", "nothing published to file://"),
        ("nope://bucket/x", "the remote 'nope://bucket/x' cannot be used: ValueError"),
    ]:
        job = Job(fabricated, tmp_path / "store", remote)
        before = job.store.current()
        day = stages.Day(
            target=job.target,
            run_date=dt.date.fromisoformat(RUN_DATE),
            progress=lambda line: None,
            snapshot_id=job.export(),
        )
        with pytest.raises(stages.StageFailed) as failed:
            stages.publish(day)
        assert str(failed.value).startswith(reason) and "\n" not in str(failed.value), failed.value
        assert job.store.current() == before


def test_a_malformed_remote_current_fails_a_pull_in_one_line(tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "CURRENT").write_text('{"snapshot_id": "x"}')
    env = {**os.environ, settings.SERVING_STORE: str(tmp_path / "store"), settings.SNAPSHOT_REMOTE: str(remote)}
    done = subprocess.run(
        [sys.executable, "-m", "serving.cli", "pull"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith(f"tunesday-serving pull: {remote} CURRENT is not a valid manifest: ")
    assert Store(tmp_path / "store").current() is None
    assert read_pulled(Store(tmp_path / "store"))["consecutive_failures"] == 1


def test_an_export_in_slices_writes_the_same_snapshot_as_in_one(fabricated, tmp_path):
    """The export renders listeners and playlists a slice of keys at a time (its memory bounded by
    a slice, not by the warehouse: bench/export_bench.py): slices of 37 keys (11 of them here)
    write every table exactly as one slice does."""
    tables = {}
    for slice_rows in (1_000_000, 37):
        lines: list[str] = []
        warehouse = DuckDBWarehouse(str(fabricated))
        try:
            manifest = export(
                warehouse, Store(tmp_path / str(slice_rows)), RUN_DATE, progress=lines.append, slice_rows=slice_rows
            )
        finally:
            warehouse.close()
        with sqlite3.connect(Store(tmp_path / str(slice_rows)).snapshot_path(manifest["snapshot_id"])) as con:
            tables[slice_rows] = {
                table: con.execute(f"select * from {table}").fetchall()
                for table in ("listeners", "tracks", "surfaces", "surface_parts", "playlists")
            }
        tables[slice_rows]["row_counts"] = manifest["row_counts"]
        sliced = any(line.startswith("  for_you 11/11: 30 in ") for line in lines)  # 10 x 37 + 30
        assert sliced == (slice_rows == 37), lines
    assert tables[37] == tables[1_000_000]
    assert len(tables[37]["listeners"]) == 400 and tables[37]["row_counts"]["serving_recommendations"] == 32_000
