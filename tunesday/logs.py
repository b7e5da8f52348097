"""JSON-lines logs for the daily job and the serving shim: one JSON object a line on stderr, so a log
collector (journald, Loki, Cloud Logging) reads fields instead of parsing prose.

    logs.configure()                       # once, at the start of a process (idempotent)
    logs.event("stage_done", stage="build", status="ok", duration_ms=5120.4, run_date="2026-11-24")

writes

    {"ts":"2026-11-25T04:12:03.120Z","level":"info","event":"stage_done","stage":"build",...}

Every record of the process goes through the same formatter, not only ours: gunicorn's, Flask's or
a library's becomes {"event": "log", "logger", "message"}. An exception attached to any record is
logged as its type and where it was raised (`describe`), never its message: messages quote request
lines, keys and ids (issue 14), and a log must carry no token and no listener id. What a caller
passes as a field is logged as given, so callers pass route templates, never paths or query strings.

The level is TUNESDAY_LOG_LEVEL (default info: the shim logs one line per request; warning leaves
only problems). gunicorn gets the same handler through `dict_config` (serving/gunicorn.conf.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import sys
import traceback
from typing import IO, Any

from tunesday import settings

LOGGER = "tunesday"
LEVELS = ("debug", "info", "warning", "error", "critical")
#: The keys every line starts with; a field of the same name is logged as `field_<name>`.
RESERVED = ("ts", "level", "event")
#: How deep nested values are rendered before the rest is str()'d.
MAX_DEPTH = 6

_FIELDS = "tunesday_fields"  # the attribute of a LogRecord that carries event()'s fields
_logger = logging.getLogger(LOGGER)


class LogLevelError(ValueError):
    """TUNESDAY_LOG_LEVEL (or a level given) is not one of LEVELS (a one-line message)."""


def level_number(level: str | None = None) -> int:
    """The logging level of `level` (default: TUNESDAY_LOG_LEVEL); LogLevelError when unknown."""
    name = (level if level is not None else settings.required(settings.LOG_LEVEL)).strip().lower()
    if name not in LEVELS:
        raise LogLevelError(f"{settings.LOG_LEVEL} must be one of {', '.join(LEVELS)} (got {name[:40]!r})")
    return logging.getLevelName(name.upper())


def describe(error: BaseException) -> str:
    """The exception's type and its traceback's frames (file, line, function; innermost first),
    without its message or any value:
    'KeyError raised at serving/api.py:120 in heard ← flask/app.py:902 in dispatch_request ← …'."""
    frames = traceback.extract_tb(error.__traceback__)
    where = " ← ".join(f"{_short(frame.filename)}:{frame.lineno} in {frame.name}" for frame in reversed(frames))
    return f"{type(error).__name__} raised at {where}" if where else type(error).__name__


def _short(filename: str) -> str:
    """'serving/api.py' for '/…/serving/api.py': the file and its folder."""
    return "/".join(filename.replace("\\", "/").split("/")[-2:])


def _plain(value: Any, depth: int = 0) -> Any:
    """`value` as something json.dumps writes as strict JSON: NaN and infinities, bytes, dates,
    sets, non-string keys and anything else become strings; nothing raises."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if depth < MAX_DEPTH and isinstance(value, dict):
        return {_text(key): _plain(item, depth + 1) for key, item in value.items()}
    if depth < MAX_DEPTH and isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(item, depth + 1) for item in value]
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return str(value)
    except Exception:  # a __str__ that raises: the log line still gets written
        return f"<unprintable {type(value).__name__}>"


class JsonFormatter(logging.Formatter):
    """Any record as one line of JSON (ASCII, so a line is a line whatever the message holds)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
        }
        fields = getattr(record, _FIELDS, None)
        if fields is None:
            entry.update(event="log", logger=record.name, message=_message(record))
        else:
            entry["event"] = _text(record.msg)
            entry.update({f"field_{key}" if key in RESERVED else key: value for key, value in fields.items()})
        if record.exc_info and record.exc_info[1] is not None:
            entry["exception"] = describe(record.exc_info[1])
        try:  # the usual line: plain values, written as they are
            return json.dumps(entry, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            return json.dumps(_plain(entry), separators=(",", ":"))


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # arguments that do not fit the format: the format itself, not a logging error
        return _text(record.msg)


class JsonHandler(logging.StreamHandler):
    """A stream handler that writes JSON lines (stderr unless given a stream)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self.setFormatter(JsonFormatter())


def configure(stream: IO[str] | None = None, level: str | None = None) -> None:
    """Send every record of this process as JSON lines to `stream` (stderr) from `level` up (default
    TUNESDAY_LOG_LEVEL). Calling it again replaces the handler it installed (idempotent); handlers
    others installed are left alone. LogLevelError for an unknown level, before anything changes."""
    number = level_number(level)
    root = logging.getLogger()
    for handler in [handler for handler in root.handlers if isinstance(handler, JsonHandler)]:
        root.removeHandler(handler)
    root.addHandler(JsonHandler(stream))
    root.setLevel(number)
    logging.captureWarnings(True)  # Python's warnings too, as records (else plain text on stderr)


def dict_config(level: str | None = None) -> dict:
    """The same set-up as a logging.config.dictConfig mapping, for gunicorn's `logconfig_dict`:
    gunicorn's error log goes through the JSON handler, and its access log is off for good (the app
    logs each request; gunicorn's line would carry the raw request line, ids and query included).
    The caller also calls logging.captureWarnings(True), which a mapping cannot say."""
    name = logging.getLevelName(level_number(level))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"json": {"class": f"{__name__}.JsonHandler", "stream": "ext://sys.stderr"}},
        "root": {"level": name, "handlers": ["json"]},
        "loggers": {
            "gunicorn.error": {"level": name, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
    }


def event(name: str, /, *, level: str | int = "info", **fields: Any) -> None:
    """Log one event with its fields (through the logger "tunesday"). Never raises: an unknown
    level logs at error, a value JSON cannot hold is logged as its str()."""
    try:
        number = level if isinstance(level, int) else level_number(level)
    except (LogLevelError, AttributeError):
        number = logging.ERROR
    _logger.log(number, name, extra={_FIELDS: fields})
