"""In a real browser (Playwright driving Debian's Chromium, headless): the shim's explorer page
served by the production server (gunicorn) from a snapshot of the test warehouse, and the HTML
report opened from its file with the network cut off.

Chromium is a system package (`apt-get install chromium`), like promtool: CI has it, and this test
fails, not skips, without it (TUNESDAY_CHROMIUM names another binary)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import RUN_DATE
from http_client import running_gunicorn
from playwright import sync_api as playwright
from test_report import report as run_report

from serving.snapshot import export
from serving.store import Store
from serving.warehouse import DuckDBWarehouse
from tunesday.warehouse import connect as connect_warehouse

HOSTILE = "<script>alert(1)</script>"


def chromium() -> str:
    path = os.environ.get("TUNESDAY_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(
            "no Chromium: apt-get install chromium (Debian's package; Playwright's own download is not "
            "reachable here), or set TUNESDAY_CHROMIUM"
        )
    return path


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def explorer(warehouse, tmp_path_factory):
    """gunicorn serving a snapshot of the test warehouse; a listener with a Discover Weekly and
    a playlist with a Smart Shuffle pool, and another playlist of theirs."""
    store = Store(tmp_path_factory.mktemp("explorer-store"))
    source = DuckDBWarehouse(str(warehouse.duckdb_path))
    try:
        export(source, store, RUN_DATE, progress=lambda line: None)
    finally:
        source.close()
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        [(user_id, playlist_id, playlist_count)] = con.execute("""
            select playlists.owner_user_id, min(pools.playlist_id),
                   (select count(distinct playlist_id) from serving_playlist_tracks as owned
                    where owned.owner_user_id = playlists.owner_user_id)
            from serving_smart_shuffle_pools as pools
            inner join serving_playlist_tracks as playlists on pools.playlist_id = playlists.playlist_id
            inner join serving_recommendations as weekly
                on playlists.owner_user_id = weekly.user_id and weekly.surface = 'discover_weekly'
            group by playlists.owner_user_id
            order by 3 desc, 1
            limit 1
        """).fetchall()
    log = tmp_path_factory.mktemp("explorer-log") / "gunicorn.log"
    with running_gunicorn(store.root, log, workers=1) as port:
        yield {
            "base": f"http://127.0.0.1:{port}",
            "store": store.root,
            "user_id": user_id,
            "playlist_id": playlist_id,
            "playlist_count": playlist_count,
        }


def rows(page, table: str) -> int:
    return page.locator(f"#{table} tr").count() - 1  # less the header


def test_the_explorer_shows_a_listeners_lists(browser, explorer):
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    response = page.goto(f"{explorer['base']}/explore/users/{explorer['user_id']}")
    assert response.status == 200
    assert page.locator("#listener").inner_text() == explorer["user_id"]
    assert rows(page, "discover-weekly-tracks") == 30
    assert page.locator("#discover-weekly").inner_text() == "Discover Weekly (30 tracks)"
    # Reasons in words, audio attributes beside them.
    first = page.locator("#discover-weekly-tracks tr").nth(1).locator("td")
    assert re.fullmatch(r"\d+", first.nth(3).inner_text()) and re.fullmatch(r"\d{1,2}[AB]", first.nth(4).inner_text())
    assert not re.search(r"[a-z]_[a-z]|:", first.nth(5).inner_text()), first.nth(5).inner_text()
    assert rows(page, "for-you-tracks") > 0
    # The preview weaves marked recommendations into the playlist.
    assert rows(page, "smart-shuffle-tracks") > 0 and page.locator("#smart-shuffle-tracks tr.rec").count() > 0
    # Nothing but the page itself was fetched: no script, style sheet, font or image.
    assert requests == [page.url]
    page.close()


def test_a_playlist_link_previews_that_playlist(browser, explorer):
    page = browser.new_page()
    page.goto(f"{explorer['base']}/explore/users/{explorer['user_id']}")
    links = page.locator("#playlists a")
    assert links.count() == explorer["playlist_count"] >= 1
    target = links.nth(links.count() - 1)
    name = target.inner_text().rsplit(" (", 1)[0]
    href = target.get_attribute("href")
    target.click()
    page.wait_for_load_state()
    assert page.url == explorer["base"] + href and "/playlists/" in href
    assert page.locator("#playlist-name").inner_text() == name
    assert page.locator("#playlists a.current").inner_text().rsplit(" (", 1)[0] == name
    assert rows(page, "smart-shuffle-tracks") > 0
    page.close()


def test_the_search_box_finds_a_listener(browser, explorer):
    page = browser.new_page()
    page.goto(f"{explorer['base']}/explore")
    page.fill("#user_id", explorer["user_id"])
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.url == f"{explorer['base']}/explore/users/{explorer['user_id']}"
    assert rows(page, "discover-weekly-tracks") == 30
    page.close()


def test_a_hostile_id_is_shown_as_text(browser, explorer):
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    for how in ("path", "search"):
        if how == "path":
            response = page.goto(f"{explorer['base']}/explore/users/{quote(HOSTILE, safe='')}")
        else:
            page.goto(f"{explorer['base']}/explore")
            page.fill("#user_id", HOSTILE)
            with page.expect_navigation():
                page.click("button[type=submit]")
            response = None
        assert response is None or response.status == 404
        assert page.locator("#error").inner_text() == f"no listener {HOSTILE}"
        assert page.locator("script").count() == 0 and page.input_value("#user_id") == HOSTILE
    assert dialogs == []
    page.close()


def test_the_report_opens_offline(browser, warehouse, tmp_path):
    """`tunesday report` writes one file that shows every chart with the network cut off."""
    done = run_report("--duckdb", str(warehouse.duckdb_path), "--out", str(tmp_path / "report.html"))
    assert done.returncode == 0, done.stderr
    context = browser.new_context(offline=True)
    page = context.new_page()
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(Path(tmp_path / "report.html").as_uri())
    charts = page.locator("svg")
    assert charts.count() >= 7
    for index in range(charts.count()):
        box = charts.nth(index).bounding_box()
        assert box and box["width"] > 300 and box["height"] > 150
    assert fetched == [page.url]
    context.close()


def test_with_api_tokens_the_explorer_needs_one_too(explorer, tmp_path):
    """It shows listeners' data like /v1: with tokens configured, a request without one is 401."""
    from serving.app import create_app

    store = explorer["store"]
    app = create_app(
        {"SERVING_STORE": str(store), "EXPOSURE_LOG": str(tmp_path), "API_TOKENS": "t0ken-0123456789abcdef"}
    )
    client = app.test_client()
    for path in ("/explore", f"/explore/users/{explorer['user_id']}"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer t0ken-0123456789abcdef"}).status_code == 200
