"""The HTTP API (one blueprint): a listener's surfaces, Smart Shuffle, heard-track checks, health.
Serving a surface that an experiment's variant ordered logs an exposure (serving/exposures.py).

JSON only. Errors are {"error": {"code", "message"}} (serving/errors.py) with status 400 (malformed
id or parameter), 401 (API tokens configured and none valid given: serving/auth.py), 404 (unknown
listener, playlist or route), 405 (a method other than GET/HEAD, with `Allow`), 503 (no snapshot
loaded, or the served one failed a read: `snapshot_unreadable`, with Retry-After); never a stack
trace. OPTIONS is answered 204 with `Allow` and no body. Requests gunicorn
rejects before they reach the app (400, 414, 431) get the same shape from serving/worker.py.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import time
from pathlib import Path

from flask import Blueprint, Response, current_app, g, jsonify, request

from serving import documents, errors
from serving import metrics as serving_metrics
from serving.remote import read_pulled
from serving.store import Store
from tunesday import logs
from tunesday.bloom import BloomFilter

bp = Blueprint("api", __name__)

#: Ids are matched whole (fullmatch): `$` would let a trailing newline through into the JSON we join.
ID_PATTERN = re.compile(r"[A-Za-z0-9_:-]{1,128}")
#: ASCII digits only: `\d` and int() also take other scripts' digits.
LIMIT_PATTERN = re.compile(r"[0-9]{1,9}")
SURFACES = documents.WHOLE_SURFACES + documents.PART_SURFACES
MAX_LIMIT = 100


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json_error(status: int, code: str, message: str) -> Response:
    return Response(errors.body(code, message), status, mimetype="application/json")


@bp.app_errorhandler(ApiError)
def _api_error(error: ApiError):
    return _json_error(error.status, error.code, error.message)


@bp.app_errorhandler(404)
def _not_found(_error):
    return _json_error(404, "not_found", "no such route")


@bp.app_errorhandler(405)
def _method_not_allowed(error):
    response = _json_error(405, "method_not_allowed", "only GET (and HEAD) is served")
    response.allow.update(error.valid_methods or ())
    return response


@bp.app_errorhandler(sqlite3.Error)
def _snapshot_unreadable(error: sqlite3.Error):
    """The snapshot failed a read (damaged, truncated, gone): 503, and the reader checks it in full
    before the next request, serving an older intact one if it fails (serving/store_reader.py).
    Logged as SQLite's error name, type and frames, like any error (tunesday/logs.py)."""
    logs.event(
        "snapshot_read_failed",
        level="warning",
        route=_route(),
        snapshot_id=_served_id(),
        sqlite_error=getattr(error, "sqlite_errorname", "?"),
        exception=logs.describe(error),
    )
    current_app.extensions["snapshot_reader"].read_failed(error)
    response = _json_error(503, "snapshot_unreadable", "the serving snapshot could not be read; it is being checked")
    response.headers["Retry-After"] = "1"
    return response


@bp.app_errorhandler(Exception)
def _internal(error: Exception):
    """Logged as the route and the exception's type and frames: its message could quote a
    listener id (tunesday/logs.py)."""
    logs.event("unhandled_error", level="error", route=_route(), exception=logs.describe(error))
    return _json_error(500, "internal", "internal error")


def _route() -> str:
    """The request's route template (`/v1/users/<user_id>/heard/<track_id>`), never its path:
    metrics and logs carry no listener id."""
    return request.url_rule.rule if request.url_rule else "unmatched"


def _served_id() -> str | None:
    snapshot = g.get("snapshot")
    return snapshot.manifest["snapshot_id"] if snapshot is not None else None


@bp.before_app_request
def _start_timer():
    g.started = time.perf_counter()


@bp.before_app_request
def _authorize():
    """With API tokens configured, every /v1 route and the explorer need one (health, readiness,
    metrics and the OpenAPI document stay open: they tell nothing about a listener, and probes
    carry no token)."""
    tokens = current_app.extensions["api_tokens"]
    if (
        request.path.startswith(("/v1/", "/explore"))
        and tokens.required
        and not tokens.allows(request.headers.get("Authorization"))
    ):
        response = _json_error(401, "unauthorized", "a valid bearer token is required")
        given = "Authorization" in request.headers
        response.headers["WWW-Authenticate"] = 'Bearer realm="tunesday"' + (', error="invalid_token"' if given else "")
        return response


@bp.after_app_request
def _observe(response: Response):
    """The request's metrics and its one log line: route template, method, status, duration and the
    snapshot it read (none for routes that read none); never the path, the query string or a header."""
    route, seconds = _route(), time.perf_counter() - g.get("started", time.perf_counter())
    serving_metrics.observe(route, response.status_code, seconds)
    snapshot = g.get("snapshot")
    logs.event(
        "request",
        method=request.method,
        route=route,
        status=response.status_code,
        duration_ms=round(seconds * 1000, 3),
        snapshot_id=_served_id(),
        run_date=snapshot.manifest["run_date"] if snapshot is not None else None,
    )
    return response


def _valid_id(value: str, name: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise ApiError(400, "invalid_id", f"{name} must be 1-128 letters, digits or _:-")
    return value


def current_snapshot():
    reader = current_app.extensions["snapshot_reader"]
    snapshot = reader.get()
    if snapshot is None:
        raise ApiError(503, "no_snapshot", "no serving snapshot is loaded yet")
    g.snapshot = snapshot
    return snapshot, reader.connection(snapshot)


def listener_row(con, user_id: str) -> tuple:
    """(bit_count, hash_count, bits) of the listener's heard-tracks filter, all None when they
    heard nothing; 404 for an unknown listener."""
    row = con.execute(
        "select bloom_bit_count, bloom_hash_count, bloom_bits from listeners where user_id = ?",
        [_valid_id(user_id, "user_id")],
    ).fetchone()
    if row is None:
        raise ApiError(404, "unknown_listener", f"no listener {user_id}")
    return row


def _heard_filter(listener: tuple) -> BloomFilter | None:
    bit_count, hash_count, bits = listener
    return None if bits is None else BloomFilter.from_bytes(bit_count, hash_count, bits)


def _json_response(body: bytes) -> Response:
    return Response(body, mimetype="application/json")


def surface_document(
    snapshot, con, user_id: str, surface: str, limit: int | None
) -> tuple[bytes, str | None, str | None] | None:
    """The listener's surface as the API answers it (JSON bytes), with the experiment and variant
    that ordered it (None, None: no experiment); None when they have no list today."""
    if surface in documents.WHOLE_SURFACES:
        row = con.execute(
            "select body, item_ends, experiment_id, variant from surfaces where user_id = ? and surface = ?",
            [user_id, surface],
        ).fetchone()
        if row is not None:
            body, item_ends, experiment_id, variant = row
            return documents.surface_body(body, item_ends, limit), experiment_id, variant
    else:
        row = con.execute(
            "select track_ids, items, experiment_id, variant from surface_parts where user_id = ? and surface = ?",
            [user_id, surface],
        ).fetchone()
        if row is not None:
            track_ids, items, experiment_id, variant = row
            head = documents.surface_head(user_id, surface, snapshot.manifest["run_date"], experiment_id, variant)
            body = documents.surface_parts_body(head, track_ids, items, limit, snapshot.tracks(con))
            return body, experiment_id, variant
    return None


def smart_shuffle_document(snapshot, con, user_id: str, playlist_id: str, seed: str) -> bytes:
    """The playlist shuffled for the listener with their recommendations woven in, as the API
    answers it; 404 for an unknown listener or playlist, 400 for a malformed id or seed."""
    heard_filter = _heard_filter(listener_row(con, user_id))
    if not ID_PATTERN.fullmatch(seed):
        raise ApiError(400, "invalid_parameter", "seed must be 1-128 letters, digits or _:-")
    playlist = con.execute(
        "select track_ids, pool_track_ids, pool_items, pool_hashes from playlists where playlist_id = ?",
        [_valid_id(playlist_id, "playlist_id")],
    ).fetchone()
    if playlist is None:
        raise ApiError(404, "unknown_playlist", f"no playlist {playlist_id}")
    return documents.smart_shuffle_body(
        user_id,
        playlist_id,
        seed,
        snapshot.manifest["run_date"],
        playlist,
        heard_filter,
        snapshot.manifest["settings"]["smart_shuffle_tracks_per_recommendation"],
        snapshot.tracks(con),
    )


def _surface(user_id: str, surface: str, limit: int | None) -> Response:
    """A listener's surface; when an experiment's variant ordered it, the response says which
    (`experiment`), and the exposure is logged."""
    snapshot, con = current_snapshot()
    _valid_id(user_id, "user_id")
    found = surface_document(snapshot, con, user_id, surface, limit)
    if found is not None:
        body, experiment_id, variant = found
        _exposed(snapshot, user_id, surface, experiment_id, variant)
        return _json_response(body)
    listener_row(con, user_id)  # 404 for an unknown listener; a known one has no list today
    return jsonify(user_id=user_id, surface=surface, run_date=snapshot.manifest["run_date"], experiment=None, items=[])


def _exposed(snapshot, user_id: str, surface: str, experiment_id: str | None, variant: str | None) -> None:
    """Log that the listener was served `variant` (serving/exposures.py: queued, never waited for)."""
    if experiment_id is not None:
        current_app.extensions["exposure_log"].record(
            user_id, experiment_id, variant, surface, snapshot.manifest["snapshot_id"]
        )


def _int_param(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not LIMIT_PATTERN.fullmatch(raw) or not low <= int(raw) <= high:
        raise ApiError(400, "invalid_parameter", f"{name} must be an integer from {low} to {high}")
    return int(raw)


@bp.get("/v1/users/<user_id>/discover-weekly")
def discover_weekly(user_id: str):
    return _surface(user_id, "discover_weekly", None)


@bp.get("/v1/users/<user_id>/recommendations")
def recommendations(user_id: str):
    surface = request.args.get("surface", "for_you")
    if surface not in SURFACES:
        raise ApiError(400, "invalid_parameter", f"surface must be one of {', '.join(SURFACES)}")
    return _surface(user_id, surface, _int_param("limit", 50, 1, MAX_LIMIT))


@bp.get("/v1/users/<user_id>/playlists/<playlist_id>/smart-shuffle")
def smart_shuffle(user_id: str, playlist_id: str):
    snapshot, con = current_snapshot()
    return _json_response(smart_shuffle_document(snapshot, con, user_id, playlist_id, request.args.get("seed", "0")))


@bp.get("/v1/users/<user_id>/heard/<track_id>")
def heard(user_id: str, track_id: str):
    _, con = current_snapshot()
    heard_filter = _heard_filter(listener_row(con, user_id))
    _valid_id(track_id, "track_id")
    probably = bool(heard_filter and heard_filter.might_contain(track_id))
    return jsonify({"user_id": user_id, "track_id": track_id, "heard": "probably heard" if probably else "not heard"})


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


def _built_at(snapshot) -> dt.datetime:
    """When the export built the snapshot (its manifest's `built_at`, UTC)."""
    return dt.datetime.fromisoformat(snapshot.manifest["built_at"])


@bp.get("/readyz")
def readyz():
    reader = current_app.extensions["snapshot_reader"]
    snapshot = reader.get(fresh=True)
    if snapshot is None:
        return jsonify(
            status="not ready", error={"code": "no_snapshot", "message": reader.last_error or "no snapshot"}
        ), 503
    g.snapshot = snapshot
    age = (dt.datetime.now(dt.UTC) - _built_at(snapshot)).total_seconds()
    return jsonify(
        status="ready",
        snapshot_id=snapshot.manifest["snapshot_id"],
        run_date=snapshot.manifest["run_date"],
        built_at=snapshot.manifest["built_at"],
        age_seconds=round(age, 1),
        last_swap_error=reader.last_error,
    )


@bp.get("/metrics")
def metrics():
    snapshot = current_app.extensions["snapshot_reader"].get()
    built_at = None if snapshot is None else _built_at(snapshot)
    pulled = read_pulled(Store(Path(current_app.config["SERVING_STORE"])))
    return Response(serving_metrics.render(built_at, pulled), mimetype="text/plain; version=0.0.4")


@bp.get("/openapi.json")
def openapi():
    from serving.openapi import OPENAPI

    return jsonify(OPENAPI)
