"""What the server says when something goes wrong: the one JSON error shape, and a description of
an exception that is safe to log.

Both the Flask app (serving/api.py) and the gunicorn worker (serving/worker.py, for requests
gunicorn rejects before the app sees them) answer errors as

    {"error": {"code": "<machine-readable>", "message": "<one line for a person>"}}

Logs must never carry an API token or a listener id (issue 14), and an exception's message may
quote either (a malformed request line, a bad key), so what is logged of an exception is its type
and where it was raised, never its message.
"""

from __future__ import annotations

import json
import traceback


def body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":")).encode()


def _short(filename: str) -> str:
    """'serving/api.py' for '/…/serving/api.py': the file and its folder."""
    return "/".join(filename.replace("\\", "/").split("/")[-2:])


def describe(error: BaseException) -> str:
    """The exception's type and its traceback's frames (file, line, function; innermost first),
    without its message or any value:
    'KeyError raised at serving/api.py:120 in heard ← flask/app.py:902 in dispatch_request ← …'."""
    frames = traceback.extract_tb(error.__traceback__)
    where = " ← ".join(f"{_short(frame.filename)}:{frame.lineno} in {frame.name}" for frame in reversed(frames))
    return f"{type(error).__name__} raised at {where}" if where else type(error).__name__
