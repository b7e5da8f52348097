"""The Flask app factory. Configuration from the environment:

    TUNESDAY_SERVING_STORE          the snapshot store (default in tunesday.settings)

What the served data means (e.g. Smart Shuffle's one recommendation after every 3 tracks) comes
with the data: the snapshot's manifest carries the warehouse's serving_settings.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from serving.store import Store
from serving.store_reader import SnapshotReader
from tunesday import settings


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SERVING_STORE=settings.value(settings.SERVING_STORE),
        JSON_SORT_KEYS=False,
    )
    app.config.update(config or {})
    app.json.sort_keys = False
    app.extensions["snapshot_reader"] = SnapshotReader(Store(Path(app.config["SERVING_STORE"])))

    from serving.api import bp

    app.register_blueprint(bp)
    return app
