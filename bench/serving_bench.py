"""Load benchmark of the serving shim on loopback: gunicorn (serving/gunicorn.conf.py) against a
bounded Python client, at several concurrencies, per route and against a trivial route of the
same server in the same run.

    python bench/serving_bench.py [--store target/serving] [--seconds 4] [--rounds 3] [--concurrency 1 16 64]

Needs a published snapshot (`make run` or `tunesday-serving export`). The client (2 processes
of threads, one raw HTTP/1.1 GET per connection, a request counts only when answered 200) runs on
the same cores as the server, so the figures are a lower bound of what the server does alone;
compare the ratios to the trivial route, measured the same way. Per concurrency it also prints
what the server's own latency histogram (/metrics: the app's time per request, what the latency
alert of deploy/prometheus/alerts.yml reads) says of the same requests: p50 and p99 interpolated
in its buckets as Prometheus' histogram_quantile does. The server's JSON log goes to --server-log
(one line per request at TUNESDAY_LOG_LEVEL=info, as in production).

For You is measured twice when the snapshot has both kinds of listeners: for listeners in an
experiment, where every request logs an exposure (serving/exposures.py; into a temporary folder,
counted at the end), and for the others, which log nothing; the ratio of the two is the exposure
log's cost to a request, measured in the same rounds. (bench/export_bench.py's fabricated
snapshots put half their listeners in an experiment.)

At the scale of issue 6 (100,000 listeners; the full build takes about 18 minutes and 21 GB here):
    make generate build USERS=100000 TRACKS=100000 DAYS=14
    .venv/bin/tunesday-serving export          # prints its time per stage
    python bench/serving_bench.py
"""

import argparse
import collections
import json
import multiprocessing
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
import urllib.parse
import urllib.request
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]


def _get(host: str, port: int, request: bytes) -> int:
    """One GET on a fresh connection (gunicorn's sync workers close it after each response); the
    status code, after reading the whole response."""
    with socket.create_connection((host, port), timeout=10) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    response = b"".join(chunks)
    return int(response[9:12]) if response.startswith(b"HTTP/1.") else 0


def _worker(urls: list[str], threads: int, seconds: float, queue) -> None:
    latencies: list[float] = []
    errors = [0]
    deadline = time.perf_counter() + seconds
    requests = []
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        requests.append(
            (
                parts.hostname,
                parts.port,
                f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode(),
            )
        )

    def loop(seed: int) -> None:
        rng = random.Random(seed)
        while time.perf_counter() < deadline:
            host, port, request = rng.choice(requests)
            started = time.perf_counter()
            try:
                status = _get(host, port, request)
            except OSError:
                status = 0
            if status == 200:
                latencies.append(time.perf_counter() - started)
            else:
                errors[0] += 1

    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    queue.put((latencies, errors[0]))


def load(urls: list[str], concurrency: int, seconds: float) -> dict:
    processes = min(2, concurrency)
    queue = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(
            target=_worker, args=(urls, concurrency // processes + (i < concurrency % processes), seconds, queue)
        )
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    latencies, errors = [], 0
    for _ in workers:
        part, failed = queue.get()
        latencies += part
        errors += failed
    for worker in workers:
        worker.join()
    latencies.sort()
    return {
        "rps": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "errors": errors,
    }


def server_histograms(base: str) -> dict[str, dict[float, float]]:
    """{route: {upper bound: cumulative count}} of the server's latency histogram."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        text = response.read().decode()
    found: dict[str, dict[float, float]] = collections.defaultdict(dict)
    for line in text.splitlines():
        if line.startswith("tunesday_http_request_duration_seconds_bucket{"):
            labels, value = line[len("tunesday_http_request_duration_seconds_bucket{") :].rsplit("} ", 1)
            pairs = dict(pair.split("=", 1) for pair in labels.split('",'))
            route, le = pairs["route"].strip('"'), pairs["le"].strip('"')
            found[route][float(le)] = float(value)
    return found


def histogram_quantile(q: float, buckets: dict[float, float]) -> float:
    """Prometheus' histogram_quantile on one histogram's cumulative buckets (linear within a bucket;
    the highest finite bound when the rank falls in +Inf)."""
    bounds = sorted(buckets)
    rank = q * buckets[float("inf")]
    below, lower = 0.0, 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(buckets[bound] - below, 1e-12)
        below, lower = buckets[bound], bound
    return lower


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default="target/serving")
    parser.add_argument("--seconds", type=float, default=4, help="length of one measured run")
    parser.add_argument("--rounds", type=int, default=3, help="measured runs per route and concurrency")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured run per route first")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--server-log", default="target/serving_bench_server.log", help="the server's stderr")
    args = parser.parse_args()
    store = Path(args.store).resolve()
    current = json.loads((store / "CURRENT").read_text())
    with sqlite3.connect(store / "snapshots" / f"{current['snapshot_id']}.sqlite") as con:
        users = [r[0] for r in con.execute("select user_id from listeners")]
        # For You of listeners in an experiment (each request logs an exposure) and of the others.
        in_experiment = [
            r[0]
            for r in con.execute(
                "select user_id from surface_parts where surface = 'for_you' and experiment_id is not null"
            )
        ]
        outside = [
            r[0]
            for r in con.execute(
                "select user_id from surface_parts where surface = 'for_you' and experiment_id is null"
            )
        ]
        playlists = con.execute(
            "select owner_user_id, playlist_id from playlists where pool_track_ids <> ''"
        ).fetchall()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    exposure_log = tempfile.mkdtemp(prefix="serving-bench-exposures-")
    env = {
        **os.environ,
        "TUNESDAY_SERVING_STORE": str(store),
        "TUNESDAY_SERVING_BIND": f"127.0.0.1:{port}",
        "TUNESDAY_EXPOSURE_LOG": exposure_log,
    }
    with open(args.server_log, "wb") as server_log:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "-c", "serving/gunicorn.conf.py"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/readyz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        rng = random.Random(1)
        routes = {
            "trivial (/healthz)": [f"{base}/healthz"],
            "discover-weekly": [
                f"{base}/v1/users/{u}/discover-weekly" for u in rng.sample(users, min(1000, len(users)))
            ],
            "smart-shuffle": [
                f"{base}/v1/users/{o}/playlists/{p}/smart-shuffle?seed={rng.randrange(1000)}"
                for o, p in rng.sample(playlists, min(1000, len(playlists)))
            ],
        }
        for name, listeners in (("for-you (exposure)", in_experiment), ("for-you (none)", outside)):
            if listeners:
                routes[name] = [
                    f"{base}/v1/users/{u}/recommendations" for u in rng.sample(listeners, min(1000, len(listeners)))
                ]
        print(
            f"snapshot {current['snapshot_id']}: {len(users):,} listeners, {len(playlists):,} playlists with a pool; "
            f"per concurrency: {args.warmup:g} s warm-up per route, then {args.rounds} rounds of {args.seconds:g} s "
            f"per route, routes interleaved; medians over the rounds"
        )
        for concurrency in args.concurrency:
            for urls in routes.values():
                load(urls, concurrency, args.warmup)  # fills each worker's page and track caches
            rounds = []
            before = server_histograms(base)
            for _ in range(args.rounds):
                rounds.append({name: load(urls, concurrency, args.seconds) for name, urls in routes.items()})
            after = server_histograms(base)
            trivial = "trivial (/healthz)"
            for name in routes:

                def median(key: str, name: str = name) -> float:
                    return statistics.median(r[name][key] for r in rounds)  # noqa: B023 (rounds: read now)

                throughput = statistics.median(r[name]["rps"] / r[trivial]["rps"] for r in rounds)
                p99 = statistics.median(r[name]["p99_ms"] / r[trivial]["p99_ms"] for r in rounds)
                errors = sum(r[name]["errors"] for r in rounds)
                print(
                    f"c={concurrency:<3} {name:20} {median('rps'):8,.0f} req/s  p50 {median('p50_ms'):6.2f} ms  "
                    f"p99 {median('p99_ms'):7.2f} ms  errors {errors}  throughput x{throughput:.2f}  p99 x{p99:.2f}"
                )
            for route, buckets in sorted(after.items()):
                measured = {le: count - before.get(route, {}).get(le, 0.0) for le, count in buckets.items()}
                if route.startswith("/v1/") and measured[float("inf")] > 0:
                    print(
                        f"c={concurrency:<3} server-side {route}: {measured[float('inf')]:,.0f} requests, "
                        f"p50 {1000 * histogram_quantile(0.5, measured):.2f} ms, "
                        f"p99 {1000 * histogram_quantile(0.99, measured):.2f} ms (histogram buckets)"
                    )
    finally:
        server.terminate()
        server.wait(timeout=30)
        logged = sum(1 for path in Path(exposure_log).glob("exposures-*") for _ in path.open("rb"))
        print(
            f"exposure log: {logged:,} exposures written, "
            f"{len(list(Path(exposure_log).glob('*.open')))} files left open"
        )
        shutil.rmtree(exposure_log, ignore_errors=True)


if __name__ == "__main__":
    main()
