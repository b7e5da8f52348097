"""The explorer: server-rendered HTML pages of what the shim serves a listener, for people (an
analyst checking a list, an engineer checking a snapshot). No script, no external asset, no build
step: one Jinja template (serving/templates/explore.html, autoescaped: every value is shown as
text), and a Content-Security-Policy that would stop a script even if one slipped through.

    GET /explore                                        a search box by listener id
    GET /explore?user_id=ID                             redirects to the listener's page
    GET /explore/users/<id>                             their Discover Weekly (reasons in words,
                                                        tempo and key), For You (and the experiment
                                                        variant that ordered it), their playlists,
                                                        and a Smart Shuffle preview of the first
    GET /explore/users/<id>/playlists/<playlist_id>     the same, previewing that playlist

The pages read the served snapshot through the API's own functions (serving/api.py), so they show
exactly what the API answers; viewing them logs no experiment exposure (no listener saw a list).
With API tokens configured the explorer needs one too, like /v1 (serving/auth.py): a browser
sends none, so it is for deployments without tokens, or behind a proxy that adds one. Errors are
HTML pages with the API's status (404 unknown listener or playlist, 503 no snapshot).
"""

from __future__ import annotations

import json
from urllib.parse import quote

from flask import Blueprint, Response, redirect, render_template, request

from serving.api import ID_PATTERN, ApiError, current_snapshot, listener_row, smart_shuffle_document, surface_document
from tunesday.reasons import all_in_words

bp = Blueprint("explore", __name__, template_folder="templates")

FOR_YOU_SHOWN = 30
PLAYLISTS_SHOWN = 50
#: Artist names looked up by scanning the snapshot's tracks, at most this many a page.
ARTIST_LOOKUPS = 20
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _page(status: int = 200, **context) -> Response:
    response = Response(render_template("explore.html", **context), status, mimetype="text/html")
    response.headers.update(SECURITY_HEADERS)
    return response


@bp.get("/explore")
def search():
    user_id = request.args.get("user_id", "").strip()
    if user_id:
        return redirect(f"/explore/users/{quote(user_id, safe='')}", 303)
    return _page()


@bp.get("/explore/users/<path:user_id>")
def listener(user_id: str):
    return _listener_page(user_id, None)


@bp.get("/explore/users/<path:user_id>/playlists/<playlist_id>")
def listener_playlist(user_id: str, playlist_id: str):
    return _listener_page(user_id, playlist_id)


def _listener_page(user_id: str, playlist_id: str | None) -> Response:
    try:
        snapshot, con = current_snapshot()
        if not ID_PATTERN.fullmatch(user_id):
            raise ApiError(404, "unknown_listener", f"no listener {user_id}")
        listener_row(con, user_id)
        run_date = snapshot.manifest["run_date"]
        weekly = _surface(snapshot, con, user_id, "discover_weekly", None)
        for_you = _surface(snapshot, con, user_id, "for_you", FOR_YOU_SHOWN)
        rows = con.execute(
            "select playlist_id, playlist_name, track_ids, pool_track_ids != '' from playlists "
            "where owner_user_id = ? order by playlist_id limit ?",
            [user_id, PLAYLISTS_SHOWN],
        ).fetchall()
        playlists = [(pid, name, track_ids.count("\n") + 1 if track_ids else 0) for pid, name, track_ids, _ in rows]
        if playlist_id is None and rows:  # the first with recommendations to weave in, if any has
            playlist_id = next((row[0] for row in rows if row[3]), rows[0][0])
        shuffle = None
        if playlist_id is not None:
            shuffle = json.loads(smart_shuffle_document(snapshot, con, user_id, playlist_id, "0"))
            shuffle["name"] = dict((pid, name) for pid, name, _ in playlists).get(playlist_id)
        artists, tracks = _names(con, [weekly, for_you, shuffle])
        for document in (weekly, for_you, shuffle):
            for item in (document or {}).get("items", []):
                item["why"] = all_in_words(",".join(item.get("reasons", [])), artists, tracks)
    except ApiError as error:
        return _page(error.status, error=error.message, user_id=user_id)
    return _page(
        user_id=user_id,
        run_date=run_date,
        snapshot_id=snapshot.manifest["snapshot_id"],
        weekly=weekly,
        for_you=for_you,
        playlists=playlists,
        shuffle=shuffle,
        quote=quote,
    )


def _surface(snapshot, con, user_id: str, surface: str, limit: int | None) -> dict | None:
    found = surface_document(snapshot, con, user_id, surface, limit)
    return None if found is None else json.loads(found[0])


def _names(con, documents: list[dict | None]) -> tuple[dict[str, str], dict[str, str]]:
    """Names of the artists and tracks the reasons name (`similar_artists:<artist_id>`,
    `…_neighbours:<track_id>`): from the items on the page, then the snapshot's tracks."""
    items = [item for document in documents for item in (document or {}).get("items", [])]
    artists = {item["artist_id"]: item["artist_name"] for item in items if item.get("artist_name")}
    tracks = {item["track_id"]: item["track_name"] for item in items if item.get("track_name")}
    wanted = {reason.partition(":")[2] for item in items for reason in item.get("reasons", []) if ":" in reason}
    missing_tracks = sorted(wanted - set(tracks) - set(artists))
    for track_id, fields in (
        con.execute(
            f"select track_id, fields from tracks where track_id in ({','.join('?' * len(missing_tracks))})",
            missing_tracks,
        ).fetchall()
        if missing_tracks
        else []
    ):
        tracks[track_id] = json.loads(b"{" + fields)["track_name"]
    for artist_id in sorted(wanted - set(tracks) - set(artists))[:ARTIST_LOOKUPS]:
        row = con.execute(
            "select fields from tracks where instr(fields, ?) > 0 limit 1", [f'"artist_id":"{artist_id}"'.encode()]
        ).fetchone()
        if row is not None:
            artists[artist_id] = json.loads(b"{" + row[0])["artist_name"]
    return artists, tracks
