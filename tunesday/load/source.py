"""What a loader of one real export format implements (``Source``) and what it hands back
(``Batch``: rows of contract tables and records set aside with a reason), with the helpers the
formats share: finding input files, gunzipping, parsing JSON and timestamps, and checking that
a row fits the contract (``check_row``) while its record can still be set aside on its own.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa

from tunesday.contract import RECORDS
from tunesday.load.ids import INT64_MAX, INT64_MIN

if TYPE_CHECKING:
    from tunesday.load.catalog import Catalog

# Tables in the order they are written: what a row refers to is written before it.
WRITE_ORDER = ("artists", "tracks", "users", "playlists", "playlist_tracks", "listening_events", "exposures")
# Entity tables: one pending row per key within a batch (a later merge replaces an earlier one).
ENTITY_KEYS = {"artists": "artist_id", "tracks": "track_id", "users": "user_id"}


def strip_suffixes(name: str) -> str:
    """The file name without .gz, .json, .csv: "mpd.slice.0-999.json.gz" -> "mpd.slice.0-999"."""
    for suffix in (".gz", ".json", ".csv"):
        name = name.removesuffix(suffix)
    return name


class BadInput(Exception):
    """A whole file cannot be used (not JSON, nested too deeply, not the expected shape, unreadable)."""


@dataclass
class InputFile:
    path: Path
    scope: str = ""  # what else decides the rows (the listener of a history export)
    label: str = ""  # names the source in written file names
    error: str | None = None  # a path that holds no input file: reported as failed

    def __post_init__(self):
        if not self.label:
            self.label = strip_suffixes(self.path.name)


@dataclass
class Batch:
    """One input file mapped into the contract.

    Every record read is, in the end, either usable (written now, or already known) or set aside
    with a reason: ``records == usable + len(set_aside_rows)``. ``mark`` and ``rollback`` undo
    what one record added when it fails half-way (``Catalog.guard``), so that the count holds and
    no row of a rejected record is written.
    """

    records: int = 0  # records read (plays, playlist tracks, feature rows)
    usable: int = 0  # records that map into the contract (written now or before)
    already_known: int = 0  # records that add nothing to what the raw contract has
    rows: dict[str, list] = field(default_factory=dict)
    entities: dict[str, dict] = field(default_factory=dict)
    set_aside_rows: list[tuple[str, str, object]] = field(default_factory=list)
    # Rows already in the contract's schema, loaded_at included, written as they are (raw contract
    # files: tunesday.load.raw_contract), by table.
    stamped: dict[str, pa.Table] = field(default_factory=dict)
    notes: Counter = field(default_factory=Counter)
    _added: list[str] = field(default_factory=list, repr=False)  # the table of each `add`
    _replaced: list[tuple[dict, str, object]] = field(default_factory=list, repr=False)

    def add(self, table: str, row: dict) -> None:
        """Add a row a mapper made and checked (``check_row``)."""
        self.rows.setdefault(table, []).append(row)
        self._added.append(table)

    def put(self, table: str, row: dict) -> None:
        """Add or replace the pending row of an entity (the catalog's rows are checked here)."""
        check_row(table, row)
        set_undoably(self._replaced, self.entities.setdefault(table, {}), row[ENTITY_KEYS[table]], row)

    def set_aside(self, ref: str, reason: str, record) -> None:
        self.set_aside_rows.append((ref, reason, record))

    def mark(self) -> tuple:
        """Where the batch is now, for ``rollback`` (cheap: it is taken once or twice per record)."""
        return (
            self.records,
            self.usable,
            self.already_known,
            len(self.set_aside_rows),
            len(self._added),
            len(self._replaced),
            tuple(self.notes.items()) if self.notes else (),
        )

    def rollback(self, mark: tuple) -> None:
        """Undo everything done since `mark`."""
        self.records, self.usable, self.already_known, set_aside, added, replaced, notes = mark
        del self.set_aside_rows[set_aside:]
        for table in reversed(self._added[added:]):
            self.rows[table].pop()
        del self._added[added:]
        undo_since(self._replaced, replaced)
        self.notes = Counter(dict(notes))

    def tables(self) -> dict[str, list[dict]]:
        out = {table: list(rows.values()) for table, rows in self.entities.items()}
        for table, rows in self.rows.items():
            out[table] = out.get(table, []) + rows
        return {table: out[table] for table in WRITE_ORDER if out.get(table)}


_ABSENT = object()


def set_undoably(journal: list, mapping: dict, key, value) -> None:
    """``mapping[key] = value``, remembering in `journal` what was there for ``undo_since``."""
    journal.append((mapping, key, mapping.get(key, _ABSENT)))
    mapping[key] = value


def undo_since(journal: list, mark: int) -> None:
    """Undo the ``set_undoably`` calls journaled after `mark`, latest first."""
    for mapping, key, old in reversed(journal[mark:]):
        if old is _ABSENT:
            del mapping[key]
        else:
            mapping[key] = old
    del journal[mark:]


class Source(Protocol):
    name: str  # the subcommand: spotify-history, mpd, audio-features
    records_are: str  # what one record is, for the report: plays, playlist tracks, rows
    # Reasons for setting a well-formed record aside because the contract has no place for it
    # (a podcast play): reported, but not rejections. Every other reason says the record is bad.
    kept_out: frozenset[str]

    def files(self, paths: list[Path]) -> list[InputFile]:
        """The input files under the given paths; a path without any is an InputFile with an error
        (BadInput when the paths cannot be loaded together at all)."""

    def read(self, source: InputFile, data: bytes, catalog: Catalog) -> Batch:
        """Map one file's records into the contract (BadInput when the file cannot be used), each
        record inside ``catalog.guard`` so that a bad one is set aside and the others load."""


def find_files(paths: list[Path], patterns: tuple[str, ...], what: str) -> list[InputFile]:
    """Each path that is a file, and the files matching `patterns` in each path that is a folder."""
    found = []
    for path in paths:
        matches = sorted({f for p in patterns for f in path.glob(p) if f.is_file()}) if path.is_dir() else []
        if path.is_file():
            found.append(InputFile(path))
        elif matches:
            found += [InputFile(f) for f in matches]
        else:
            found.append(InputFile(path, error=f"no {what} files here"))
    return found


def parse_json(data: bytes):
    """A file's JSON (gunzipped first when it is gzip); BadInput when it is not JSON, or nested
    deeper than the parser goes (Python's recursion limit, about 1,000 levels)."""
    try:
        return json.loads(decompress(data))
    except json.JSONDecodeError as error:
        raise BadInput(f"not valid JSON ({error})") from None
    except RecursionError:
        raise BadInput("JSON nested too deeply to read") from None


def text_stream(data: bytes) -> io.TextIOBase:
    """A file's bytes as UTF-8 text read on demand, gunzipped when they are gzip (by their magic
    number), so a streaming reader never holds the whole decompressed text."""
    raw = gzip.GzipFile(fileobj=io.BytesIO(data)) if data[:2] == b"\x1f\x8b" else io.BytesIO(data)
    return io.TextIOWrapper(raw, encoding="utf-8")


def decompress(data: bytes) -> bytes:
    """The bytes of a file, gunzipped when they are gzip (by their magic number, not the name)."""
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def text_field(record: dict, key: str) -> str | None:
    """A field that holds text (a name): the string, or None when absent or null. ValueError when
    it holds anything else (an object, a list, a number): the record is bad, not the name unknown."""
    value = record.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{key} is not text: {_short(value)}")


def parse_timestamp(value) -> dt.datetime | None:
    """An ISO 8601 string as a naive UTC datetime ("2024-08-02T20:07:28Z"), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


_TEXT, _INTEGER = (str,), (int,)
# Per Arrow type: the Python types a value of the column may have, and what to call them.
_FITS = {
    pa.string(): (_TEXT, "text"),
    pa.int64(): (_INTEGER, "a 64-bit integer"),
    pa.float64(): ((float, int), "a number"),
    pa.bool_(): ((bool,), "true or false"),
    pa.date32(): ((dt.date,), "a date"),
    pa.timestamp("us"): ((dt.datetime,), "a UTC timestamp without time zone"),
}
_CHECKS = {table: {f.name: _FITS[f.type] for f in schema} for table, schema in RECORDS.items()}


def check_row(table: str, row: dict) -> dict:
    """The row, when every value fits its contract column (or is null); ValueError naming the
    column otherwise. Checked per row, where the row's record can still be set aside alone:
    the same value found only when the file's rows are converted to Parquet would stop the file.
    (Exact types: a bool is no integer, a datetime no date.)"""
    checks = _CHECKS[table]
    for column, value in row.items():
        if value is None:
            continue
        types, what = checks[column]
        if types is _TEXT and type(value) is str and value.isascii():
            continue  # the common case first: this runs for every row
        if type(value) not in types or not _fits(value, types):
            raise ValueError(f"{table}.{column} is not {what}: {_short(value)}")
    return row


def _fits(value, types) -> bool:
    if types is _TEXT:
        try:
            value.encode("utf-8")  # a lone surrogate ("\ud800" in JSON) is no Unicode text
        except UnicodeEncodeError:
            return False
    elif types is _INTEGER:
        return INT64_MIN <= value <= INT64_MAX
    elif type(value) is dt.datetime:
        return value.tzinfo is None
    return True


def _short(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
