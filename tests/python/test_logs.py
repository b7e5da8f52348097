"""tunesday.logs: one JSON object a line from every logger of the process, and nothing that breaks a
line or the caller."""

import io
import json
import logging
import warnings

import pytest

from tunesday import logs


@pytest.fixture
def stream():
    """A configured process (JSON lines into the returned buffer); the root logger as it was after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    buffer = io.StringIO()
    logs.configure(stream=buffer, level="debug")
    yield buffer
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_an_event_is_one_json_line_with_its_fields(stream):
    logs.event("stage_done", stage="build", status="ok", duration_ms=5120.4, run_date="2026-11-24")
    logs.event("stage_failed", level="error", stage="publish")
    done, failed = lines(stream)
    assert list(done)[:3] == ["ts", "level", "event"]
    assert done["ts"].endswith("Z") and done["ts"][10] == "T"
    assert done == {
        "ts": done["ts"],
        "level": "info",
        "event": "stage_done",
        "stage": "build",
        "status": "ok",
        "duration_ms": 5120.4,
        "run_date": "2026-11-24",
    }
    assert (failed["level"], failed["event"], failed["stage"]) == ("error", "stage_failed", "publish")


def test_values_json_cannot_hold_are_written_as_text_and_never_raise(stream):
    class Unprintable:
        def __str__(self):
            raise RuntimeError("no")

    looped: list = []
    looped.append(looped)
    logs.event(
        "odd",
        nan=float("nan"),
        inf=float("-inf"),
        blob=b"\xff",
        keys={(1, 2): "a"},
        many={3},
        who=Unprintable(),
        looped=looped,
        ts="mine",
        text="two\nlines",
    )
    logs.event("unknown level", level="loud")
    [odd, unknown] = lines(stream)  # two lines: the newline inside a value did not break one
    assert odd["nan"] == "nan" and odd["inf"] == "-inf" and odd["blob"] == "b'\\xff'"
    assert odd["keys"] == {"(1, 2)": "a"} and odd["many"] == [3] and odd["who"] == "<unprintable Unprintable>"
    assert odd["field_ts"] == "mine" and odd["ts"] != "mine" and odd["text"] == "two\nlines"
    assert unknown["level"] == "error"


def test_every_logger_writes_json_and_an_exception_is_its_type_and_place(stream):
    logging.getLogger("gunicorn.error").warning("Worker exiting (pid: %s)", 42)
    try:
        {}["usr_0123456789"]
    except KeyError:
        logging.getLogger("serving.app").exception("failed for usr_0123456789")
    worker, failed = lines(stream)
    assert worker == {
        "ts": worker["ts"],
        "level": "warning",
        "event": "log",
        "logger": "gunicorn.error",
        "message": "Worker exiting (pid: 42)",
    }
    assert failed["exception"].startswith("KeyError raised at python/test_logs.py:")
    assert "usr_0123456789" not in failed["exception"]


def test_python_warnings_are_json_lines_too(stream):
    with warnings.catch_warnings():  # (pytest records warnings itself: configure inside this block)
        warnings.simplefilter("always")
        logs.configure(stream=stream, level="info")
        warnings.warn("an old way", DeprecationWarning, stacklevel=1)
    [warned] = lines(stream)
    assert (warned["level"], warned["event"], warned["logger"]) == ("warning", "log", "py.warnings")
    assert "DeprecationWarning: an old way" in warned["message"]


def test_a_message_whose_arguments_do_not_fit_is_written_as_its_format():
    """(Formatted directly: pytest's own capture handler raises on such a record.)"""
    record = logging.LogRecord("some.library", logging.INFO, __file__, 1, "bad format %d", ("not a number",), None)
    assert json.loads(logs.JsonFormatter().format(record))["message"] == "bad format %d"


def test_a_logged_exception_names_its_type_and_place_not_its_message():
    def look_up(listener_id: str) -> None:
        raise KeyError(f"no listener {listener_id}")

    with pytest.raises(KeyError) as raised:
        look_up("usr_0123456789")
    described = logs.describe(raised.value)
    assert described.startswith("KeyError raised at python/test_logs.py:") and "in look_up" in described
    assert "usr_0123456789" not in described


def test_configure_again_replaces_its_handler_and_the_level_filters(stream):
    again = io.StringIO()
    logs.configure(stream=again, level="WARNING")
    logs.configure(stream=again, level="warning")
    logs.event("dropped")
    logs.event("kept", level="warning")
    assert stream.getvalue() == ""
    assert [line["event"] for line in lines(again)] == ["kept"]
    assert sum(isinstance(handler, logs.JsonHandler) for handler in logging.getLogger().handlers) == 1


def test_an_unknown_level_is_one_line_and_changes_nothing(stream, monkeypatch):
    monkeypatch.setenv("TUNESDAY_LOG_LEVEL", "loud")
    with pytest.raises(logs.LogLevelError) as raised:
        logs.configure(stream=io.StringIO())
    assert str(raised.value) == "TUNESDAY_LOG_LEVEL must be one of debug, info, warning, error, critical (got 'loud')"
    logs.event("still here")
    assert [line["event"] for line in lines(stream)] == ["still here"]
