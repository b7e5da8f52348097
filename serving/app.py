"""The Flask app factory. Configuration from the environment:

    TUNESDAY_SERVING_STORE          the snapshot store (default in tunesday.settings)
    TUNESDAY_SMART_SHUFFLE_EVERY    one recommendation after every N playlist tracks (default 3)
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from serving.snapshot import Store
from serving.store_reader import SnapshotReader
from tunesday import settings


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SERVING_STORE=settings.value(settings.SERVING_STORE),
        SMART_SHUFFLE_EVERY=int(os.environ.get("TUNESDAY_SMART_SHUFFLE_EVERY", "3")),
        JSON_SORT_KEYS=False,
    )
    app.config.update(config or {})
    app.json.sort_keys = False
    app.extensions["snapshot_reader"] = SnapshotReader(Store(Path(app.config["SERVING_STORE"])))

    from serving.api import bp

    app.register_blueprint(bp)
    return app
