"""gunicorn settings for the serving shim, sized for this machine (2 cores).

    gunicorn -c serving/gunicorn.conf.py      (make serve)

One worker process per core, each gunicorn's threaded worker with a few threads
(serving/worker.py): a request is a few lookups in a snapshot the page cache holds and a join of
bytes, CPU-bound and short, so more processes than cores only contend for the caches (measured
with bench/serving_bench.py at concurrency 16 on 100,000 listeners: Smart Shuffle reached
0.58-0.63 of /healthz's throughput with 4 sync workers, 0.69-0.75 with 2). The threads are not
for throughput (the GIL runs one at a time) but so that a slow client never holds a process:
serving/worker.py reads every request head in the worker's event loop and gives a thread only a
complete one, within `keepalive` seconds, so idle and byte-at-a-time clients cost a socket, not a
thread (the sync workers this replaces were stopped for `timeout` seconds by two idle
connections; issue 14). Measured against those sync workers in one session (bench/serving_bench.py
on 2,000 listeners, runs alternated twice, a loaded machine): at concurrency 16 and 64 every
route's throughput relative to /healthz is the same within noise (Smart Shuffle 0.63-0.74 against
0.62-0.68, Discover Weekly 0.86-1.02 against 0.77-1.00), and so is /healthz's own (884-1,064 req/s
against 855-1,065); a lone client on a new connection per request waits about 0.5 ms more (p50
2.4-2.8 ms against 1.7-2.1 ms: the head goes from the event loop to a thread). The limits bound
what a head may cost: our longest URL is about 430 characters, a token one header line.

Every worker opens the published snapshot itself and swaps to a newer one on its own (no
restart). TUNESDAY_SERVING_WORKERS overrides the count, TUNESDAY_SERVING_BIND the address
(tunesday.settings).

Logs: JSON lines on stderr (tunesday/logs.py), gunicorn's own included. The app logs one line per
request (route template, status, duration, snapshot; serving/api.py), so gunicorn's access log,
which would carry the raw request line, is off. TUNESDAY_LOG_LEVEL=warning leaves out the request
lines.
"""

import logging
import multiprocessing
import os
import shutil
import sys
import tempfile

from tunesday import logs, settings

wsgi_app = "serving.app:create_app()"
bind = settings.value(settings.SERVING_BIND)
workers = int(settings.value(settings.SERVING_WORKERS) or multiprocessing.cpu_count())
worker_class = "serving.worker.ServingWorker"
threads = 4
worker_connections = 1000  # per worker: open connections, waiting ones included
backlog = 2048
timeout = 30
graceful_timeout = 10
keepalive = 5  # seconds: for a request head to arrive whole, and for the next one on a kept-alive connection
limit_request_line = 2048
limit_request_fields = 32
limit_request_field_size = 2048


def _checked_logconfig() -> dict:
    """The logging set-up; a malformed TUNESDAY_API_TOKENS or TUNESDAY_LOG_LEVEL stops the server
    here, in one line, before gunicorn logs anything or boots a worker."""
    from serving.auth import TokenError, Tokens

    try:
        Tokens(settings.given(settings.API_TOKENS), settings.given(settings.API_TOKENS_FILE))
        config = logs.dict_config()
    except (TokenError, logs.LogLevelError) as error:
        sys.exit(f"tunesday serving: {error}")
    logging.captureWarnings(True)  # Python's warnings as JSON lines too
    return config


accesslog = None  # the app logs each request (above)
errorlog = "-"
logconfig_dict = _checked_logconfig()
loglevel = logconfig_dict["root"]["level"].lower()


# Metrics summed over the workers (serving/metrics.py): a fresh directory per server, set before the
# workers import prometheus_client, removed when the server stops.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="tunesday-metrics-")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
