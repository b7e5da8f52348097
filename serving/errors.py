"""What the server says when something goes wrong: the one JSON error shape.

Both the Flask app (serving/api.py) and the gunicorn worker (serving/worker.py, for requests
gunicorn rejects before the app sees them) answer errors as

    {"error": {"code": "<machine-readable>", "message": "<one line for a person>"}}

What is logged of an error is tunesday/logs.py's: an exception's type and where it was raised,
never its message (which may quote a token or a listener id).
"""

from __future__ import annotations

import json


def body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":")).encode()
