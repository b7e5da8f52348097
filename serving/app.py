"""The Flask app factory. Configuration from the environment (tunesday.settings):

    TUNESDAY_SERVING_STORE          the snapshot store
    TUNESDAY_EXPOSURE_LOG           where experiment exposures are logged (serving/exposures.py)
    TUNESDAY_API_TOKENS             comma-separated API tokens (serving/auth.py); unset: no tokens
    TUNESDAY_API_TOKENS_FILE        a file of API tokens, one a line, re-read when it changes

What the served data means (e.g. Smart Shuffle's one recommendation after every 3 tracks) comes
with the data: the snapshot's manifest carries the warehouse's serving_settings.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider

from serving.auth import Tokens
from serving.exposures import ExposureLog
from serving.store import Store
from serving.store_reader import SnapshotReader
from tunesday import logs, settings


class ServingFlask(Flask):
    def make_default_options_response(self) -> Response:
        """OPTIONS: 204 with `Allow` and no body (Flask's default is a 200 with an empty text/html body)."""
        response = super().make_default_options_response()
        response.status_code = 204
        del response.headers["Content-Type"]
        return response

    def log_exception(self, exc_info) -> None:
        """Flask's log of an error no handler took names the request's path, which holds listener
        ids: name the exception's type and frames only (tunesday/logs.py)."""
        logs.event("unhandled_error", level="error", exception=logs.describe(exc_info[1]))


def create_app(config: dict | None = None) -> Flask:
    app = ServingFlask(__name__)
    app.config.update(
        SERVING_STORE=settings.value(settings.SERVING_STORE),
        EXPOSURE_LOG=settings.value(settings.EXPOSURE_LOG),
        API_TOKENS=settings.given(settings.API_TOKENS),
        API_TOKENS_FILE=settings.given(settings.API_TOKENS_FILE),
        JSON_SORT_KEYS=False,
    )
    app.config.update(config or {})
    if isinstance(app.json, DefaultJSONProvider):
        app.json.sort_keys = False
    # '//' in a path is a 404 like any unknown path, not a redirect with an HTML body.
    app.url_map.merge_slashes = False
    app.extensions["snapshot_reader"] = SnapshotReader(Store(Path(app.config["SERVING_STORE"])))
    app.extensions["exposure_log"] = ExposureLog(app.config["EXPOSURE_LOG"])
    app.extensions["api_tokens"] = Tokens(app.config["API_TOKENS"], app.config["API_TOKENS_FILE"])

    from serving.api import bp
    from serving.explore import bp as explore_bp

    app.register_blueprint(bp)
    app.register_blueprint(explore_bp)
    return app
