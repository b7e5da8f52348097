"""The screenshots in docs/ (README: the report with pictures, the explorer), taken in Chromium
through Playwright from a built warehouse and its published snapshot (after `make run`):

    .venv/bin/python docs/screenshots.py [--duckdb target/tunesday.duckdb] [--store target/serving]
                                         [--user usr_0000000001]

writes docs/report.png (the warehouse report, whole page), docs/explorer.png (the listener's
explorer page, served by gunicorn) and docs/listener_report.png (`tunesday report --user`).

The committed ones show a fortnight of daily runs at `make run`'s scale, so that the quality
chart has weeks in it (`make run` itself makes two runs):

    W=/tmp/fortnight; export DBT_PROFILES_DIR=$PWD TUNESDAY_RAW_DIR=$W/data/raw \
      TUNESDAY_DUCKDB_PATH=$W/tunesday.duckdb TUNESDAY_SERVING_STORE=$W/serving \
      DBT_TARGET_PATH=$W/target DBT_LOG_PATH=$W/logs TUNESDAY_EXPOSURE_LOG=$W/exposures
    .venv/bin/tunesday-generate --users 2000 --tracks 20000 --days 60 --seed 42 --end-date 2026-12-05 --out $W/data
    .venv/bin/tunesday daily --run-date 2026-11-20 --full-refresh --vars '{rebuild_published_weeks: true}'
    .venv/bin/tunesday backfill --from 2026-11-21 --to 2026-12-04
    .venv/bin/python docs/screenshots.py --duckdb $W/tunesday.duckdb --store $W/serving --user usr_0000000004

(about 9 minutes here; usr_0000000004 has a playlist long enough for Smart Shuffle).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

DOCS = Path(__file__).resolve().parent
PROJECT_DIR = DOCS.parent
WIDTH = 1100


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"screenshots: the server did not answer {url} within {seconds:.0f} s")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duckdb", default="target/tunesday.duckdb")
    parser.add_argument("--store", default="target/serving")
    parser.add_argument("--user", default="usr_0000000001")
    args = parser.parse_args()
    tunesday = [sys.executable, "-m", "tunesday.job.cli", "report", "--duckdb", args.duckdb]
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        report, listener = Path(tmp) / "report.html", Path(tmp) / "listener.html"
        subprocess.run([*tunesday, "--out", str(report)], cwd=PROJECT_DIR, check=True)
        subprocess.run([*tunesday, "--user", args.user, "--out", str(listener)], cwd=PROJECT_DIR, check=True)
        env = {
            **os.environ,
            "TUNESDAY_SERVING_STORE": args.store,
            "TUNESDAY_SERVING_BIND": f"127.0.0.1:{port}",
            "TUNESDAY_SERVING_WORKERS": "1",
            "TUNESDAY_EXPOSURE_LOG": str(Path(tmp) / "exposures"),
        }
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "-c", "serving/gunicorn.conf.py"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(f"http://127.0.0.1:{port}/readyz")
            chromium = os.environ.get("TUNESDAY_CHROMIUM") or shutil.which("chromium") or "chromium"
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": WIDTH, "height": 900})
                for url, out in [
                    (report.as_uri(), "report.png"),
                    (listener.as_uri(), "listener_report.png"),
                    (f"http://127.0.0.1:{port}/explore/users/{args.user}", "explorer.png"),
                ]:
                    page.goto(url)
                    page.screenshot(path=str(DOCS / out), full_page=True)
                    print(f"screenshots: wrote docs/{out}")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
