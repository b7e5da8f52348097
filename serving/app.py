"""The Flask app factory. Configuration from the environment:

    TUNESDAY_SERVING_STORE          the snapshot store (default target/serving)

What the served data means (e.g. Smart Shuffle's one recommendation after every 3 tracks) comes
with the data: the snapshot's manifest carries the warehouse's serving_settings.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from serving.store import Store
from serving.store_reader import SnapshotReader


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SERVING_STORE=os.environ.get("TUNESDAY_SERVING_STORE", "target/serving"),
        JSON_SORT_KEYS=False,
    )
    app.config.update(config or {})
    app.json.sort_keys = False
    app.extensions["snapshot_reader"] = SnapshotReader(Store(Path(app.config["SERVING_STORE"])))

    from serving.api import bp

    app.register_blueprint(bp)
    return app
