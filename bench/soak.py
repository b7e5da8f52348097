"""Soak test of the serving shim on loopback: a steady request rate for several minutes while new
snapshots are published every few seconds and one damaged snapshot is published on purpose.

    python bench/soak.py [--minutes 5] [--rate 200] [--publish-every 5] [--duckdb FILE --run-date D]

The server is the production one (gunicorn with serving/gunicorn.conf.py) with API tokens on. A
publisher runs the real `tunesday-serving export` every few seconds from a built DuckDB warehouse
(without --duckdb: a small generated one, built first in a temporary folder). Halfway through,
one snapshot is published damaged: a copy of the current one with bytes flipped every 4 KiB,
its manifest carrying the intact file's checksum, and CURRENT pointed at it (what a disk or a copy
gone wrong would leave). The server must notice and keep serving an intact snapshot.

A request fails when it is not answered 200 with a body that parses as JSON (the users and
playlists asked for are in every snapshot). Printed: requests, failures, p50/p99 per window,
and the RSS of every worker process sampled through the run (flat = no leak). Exit 1 on any
failed request.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from tunesday import dbt  # noqa: E402

TOKEN = "soak-token-0123456789abcdef"


def build_warehouse(work: Path) -> tuple[Path, str]:
    """A small generated warehouse (500 listeners, 3 weeks): its DuckDB file and run date."""
    end_date = "2026-11-01"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tunesday.generate",
            "--users",
            "500",
            "--tracks",
            "5000",
            "--days",
            "21",
            "--seed",
            "11",
            "--end-date",
            end_date,
            "--out",
            str(work / "data"),
        ],
        cwd=PROJECT_DIR,
        check=True,
        capture_output=True,
    )
    run_date = "2026-10-31"
    result = dbt.run(
        ["build", "--exclude", "resource_type:test", "--vars", f"{{run_date: '{run_date}'}}"],
        dbt.duckdb_env(work, work / "data" / "raw", work / "warehouse.duckdb"),
    )
    if not result.success:
        sys.exit(result.describe())
    return work / "warehouse.duckdb", run_date


def export(env: dict, run_date: str) -> None:
    subprocess.run(
        [str(Path(sys.executable).with_name("tunesday-serving")), "export", "--run-date", run_date, "--keep", "3"],
        cwd=PROJECT_DIR,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


def publish_damaged(store: Path) -> str:
    """Copy the published snapshot under a new id, flip bytes every 4 KiB, publish it."""
    current = json.loads((store / "CURRENT").read_text())
    damaged_id = current["snapshot_id"] + "-damaged"
    source = store / "snapshots" / f"{current['snapshot_id']}.sqlite"
    target = store / "snapshots" / f"{damaged_id}.sqlite"
    shutil.copyfile(source, target)
    with target.open("r+b") as file:
        size = file.seek(0, os.SEEK_END)
        for offset in range(size // 4 + 3000, size, 4096):  # 16 bytes of every 4 KiB after the first quarter
            file.seek(offset)
            chunk = file.read(16)
            file.seek(offset)
            file.write(bytes(b ^ 0xFF for b in chunk))
    manifest = {**current, "snapshot_id": damaged_id}
    (store / "snapshots" / f"{damaged_id}.manifest.json").write_text(json.dumps(manifest))
    temporary = store / "CURRENT.soak.tmp"
    temporary.write_text(json.dumps(manifest))
    os.replace(temporary, store / "CURRENT")
    return damaged_id


def worker_rss(master_pid: int) -> dict[int, int]:
    """RSS in KiB of the master's child processes (the workers)."""
    sizes = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) != master_pid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes[int(entry.name)] = int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return sizes


def readiness(port: int) -> dict:
    """/readyz's answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return json.loads(b"".join(chunks).partition(b"\r\n\r\n")[2])


def request(port: int, target: str) -> tuple[bool, float, str]:
    """(ok, seconds, what went wrong) of one GET on a fresh connection."""
    started = time.perf_counter()
    raw = (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    ).encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(raw)
            chunks = []
            while chunk := connection.recv(65536):
                chunks.append(chunk)
    except OSError as error:
        return False, time.perf_counter() - started, f"connection: {error}"
    elapsed = time.perf_counter() - started
    response = b"".join(chunks)
    head, _, body = response.partition(b"\r\n\r\n")
    status = head[9:12].decode(errors="replace")
    if status != "200":
        return False, elapsed, f"status {status}: {body[:200]!r}"
    try:
        json.loads(body)
    except ValueError:
        return False, elapsed, f"invalid JSON: {body[:200]!r}"
    return True, elapsed, ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--rate", type=float, default=200, help="requests per second, steady")
    parser.add_argument("--publish-every", type=float, default=5, help="seconds between exports")
    parser.add_argument("--window", type=float, default=30, help="seconds per reported window")
    parser.add_argument("--duckdb", help="a built warehouse (default: build a small generated one)")
    parser.add_argument("--run-date", help="the warehouse's run date (with --duckdb)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tunesday-soak-") as tmp:
        work = Path(tmp)
        if args.duckdb:
            duckdb_path, run_date = Path(args.duckdb).resolve(), args.run_date
        else:
            started = time.perf_counter()
            duckdb_path, run_date = build_warehouse(work)
            print(f"built a small warehouse in {time.perf_counter() - started:.0f} s")
        store = work / "store"
        env = {**os.environ, "TUNESDAY_SERVING_STORE": str(store), "TUNESDAY_DUCKDB_PATH": str(duckdb_path)}
        export(env, run_date)
        current = json.loads((store / "CURRENT").read_text())
        with sqlite3.connect(store / "snapshots" / f"{current['snapshot_id']}.sqlite") as con:
            users = [r[0] for r in con.execute("select user_id from listeners")]
            playlists = con.execute(
                "select owner_user_id, playlist_id from playlists where pool_track_ids <> ''"
            ).fetchall()
        rng = random.Random(3)
        targets = (
            [f"/v1/users/{u}/discover-weekly" for u in rng.sample(users, min(300, len(users)))]
            + [
                f"/v1/users/{u}/recommendations?surface=for_you&limit=20"
                for u in rng.sample(users, min(300, len(users)))
            ]
            + [
                f"/v1/users/{o}/playlists/{p}/smart-shuffle?seed={rng.randrange(1000)}"
                for o, p in rng.sample(playlists, min(300, len(playlists)))
            ]
        )

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server_env = {**env, "TUNESDAY_SERVING_BIND": f"127.0.0.1:{port}", "TUNESDAY_API_TOKENS": TOKEN}
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "-c", "serving/gunicorn.conf.py"],
            cwd=PROJECT_DIR,
            env=server_env,
        )
        try:
            for _ in range(200):
                if request(port, "/readyz")[0]:
                    break
                time.sleep(0.1)
            else:
                sys.exit("the server did not become ready")
            seconds = args.minutes * 60
            results: list[tuple[float, bool, float, str]] = []  # (sent at, ok, latency, problem)
            rss: list[tuple[float, dict[int, int]]] = []
            events: list[str] = []
            stop = threading.Event()
            begin = time.perf_counter()

            exports: list[float] = []

            def publisher() -> None:
                damaged = False
                while not stop.wait(args.publish_every):
                    at = time.perf_counter() - begin
                    if not damaged and at >= seconds / 2:
                        events.append(f"{at:6.1f} s published damaged snapshot {publish_damaged(store)}")
                        damaged = True
                        time.sleep(1)
                        ready = readiness(port)
                        events.append(
                            f"{time.perf_counter() - begin:6.1f} s /readyz: serving {ready.get('snapshot_id')}, "
                            f"last_swap_error: {ready.get('last_swap_error')}"
                        )
                        continue
                    try:
                        export(env, run_date)
                        exports.append(time.perf_counter() - begin - at)
                    except subprocess.CalledProcessError as error:
                        events.append(f"{at:6.1f} s export failed: {error.stderr.decode()[-300:]}")

            def sampler() -> None:
                while not stop.wait(2):
                    rss.append((time.perf_counter() - begin, worker_rss(server.pid)))

            def client(offset: float, interval: float, seed: int) -> None:
                local = random.Random(seed)
                next_at = begin + offset
                while next_at < begin + seconds:
                    delay = next_at - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    ok, latency, problem = request(port, local.choice(targets))
                    results.append((next_at - begin, ok, latency, problem))
                    next_at += interval

            clients = 16  # each sends every clients / rate seconds, staggered: a steady rate overall
            interval = clients / args.rate
            threads = [
                threading.Thread(target=client, args=(i * interval / clients, interval, i)) for i in range(clients)
            ]
            helpers = [threading.Thread(target=publisher), threading.Thread(target=sampler)]
            for thread in threads + helpers:
                thread.start()
            for thread in threads:
                thread.join()
            stop.set()
            for thread in helpers:
                thread.join()
        finally:
            server.terminate()
            server.wait(timeout=30)

    failures = [r for r in results if not r[1]]
    print(
        f"{len(results):,} requests in {seconds:.0f} s ({len(results) / seconds:.0f}/s asked {args.rate:g}/s), "
        f"{len(failures)} failed; {len(exports)} snapshots exported and published "
        f"({args.publish_every:g} s apart, each export {statistics.median(exports or [0]):.1f} s median)"
    )
    for line in events:
        print(line)
    for problem in sorted({r[3] for r in failures})[:10]:
        print(f"  failure: {problem}")
    windows = int(seconds // args.window) or 1
    for index in range(windows):
        start, end = index * args.window, (index + 1) * args.window
        latencies = sorted(r[2] for r in results if start <= r[0] < end and r[1])
        sizes = [sum(sample.values()) / 1024 for at, sample in rss if start <= at < end]
        if latencies:
            print(
                f"window {start:5.0f}-{end:.0f} s  {len(latencies):6,} ok  "
                f"p50 {1000 * statistics.median(latencies):6.2f} ms  "
                f"p99 {1000 * latencies[int(0.99 * (len(latencies) - 1))]:7.2f} ms  "
                f"workers' RSS {max(sizes or [0]):6.1f} MiB (max of the window)"
            )
    if rss:
        first, last = rss[min(len(rss) - 1, 5)], rss[-1]  # after ~10 s of warm-up
        for pid in sorted(last[1]):
            start = first[1].get(pid)
            print(
                f"worker {pid}: RSS {start / 1024 if start else float('nan'):7.1f} MiB at {first[0]:.0f} s, "
                f"{last[1][pid] / 1024:7.1f} MiB at {last[0]:.0f} s"
            )
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
