"""What a loader of one real export format implements (``Source``) and what it hands back
(``Batch``: rows of contract tables and records set aside with a reason), with the helpers the
formats share: finding input files, gunzipping, parsing JSON and timestamps.
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

if TYPE_CHECKING:
    from tunesday.load.catalog import Catalog

# Tables in the order they are written: what a row refers to is written before it.
WRITE_ORDER = ("artists", "tracks", "users", "playlists", "playlist_tracks", "listening_events")
# Entity tables: one pending row per key within a batch (a later merge replaces an earlier one).
ENTITY_KEYS = {"artists": "artist_id", "tracks": "track_id", "users": "user_id"}


def strip_suffixes(name: str) -> str:
    """The file name without .gz, .json, .csv: "mpd.slice.0-999.json.gz" -> "mpd.slice.0-999"."""
    for suffix in (".gz", ".json", ".csv"):
        name = name.removesuffix(suffix)
    return name


class BadInput(Exception):
    """A whole file cannot be used (not JSON, not the expected shape, unreadable)."""


@dataclass
class InputFile:
    path: Path
    scope: str = ""     # what else decides the rows (the listener of a history export)
    label: str = ""     # names the source in written file names
    error: str | None = None    # a path that holds no input file: reported as failed

    def __post_init__(self):
        if not self.label:
            self.label = strip_suffixes(self.path.name)


@dataclass
class Batch:
    """One input file mapped into the contract."""

    records: int = 0                 # records read (plays, playlist tracks, feature rows)
    usable: int = 0                  # records that map into the contract (written now or before)
    already_known: int = 0          # records that add nothing to what the raw contract has
    rows: dict[str, list] = field(default_factory=dict)
    entities: dict[str, dict] = field(default_factory=dict)
    set_aside_rows: list[tuple[str, str, object]] = field(default_factory=list)
    notes: Counter = field(default_factory=Counter)

    def add(self, table: str, row: dict) -> None:
        self.rows.setdefault(table, []).append(row)

    def put(self, table: str, row: dict) -> None:
        self.entities.setdefault(table, {})[row[ENTITY_KEYS[table]]] = row

    def set_aside(self, ref: str, reason: str, record) -> None:
        self.set_aside_rows.append((ref, reason, record))

    def tables(self) -> dict[str, list[dict]]:
        out = {table: list(rows.values()) for table, rows in self.entities.items()}
        for table, rows in self.rows.items():
            out[table] = out.get(table, []) + rows
        return {table: out[table] for table in WRITE_ORDER if out.get(table)}


class Source(Protocol):
    name: str           # the subcommand: spotify-history, mpd, audio-features
    records_are: str    # what one record is, for the report: plays, playlist tracks, rows

    def files(self, paths: list[Path]) -> list[InputFile]:
        """The input files under the given paths; a path without any is an InputFile with an error
        (BadInput when the paths cannot be loaded together at all)."""

    def read(self, source: InputFile, data: bytes, catalog: Catalog) -> Batch:
        """Map one file's records into the contract (BadInput when the file cannot be used)."""


def find_files(paths: list[Path], patterns: tuple[str, ...], what: str) -> list[InputFile]:
    """Each path that is a file, and the files matching `patterns` in each path that is a folder."""
    found = []
    for path in paths:
        if path.is_file():
            found.append(InputFile(path))
        elif path.is_dir() and any(path.glob(p) for p in patterns):
            found += [InputFile(f) for f in sorted(f for p in patterns for f in path.glob(p))]
        else:
            found.append(InputFile(path, error=f"no {what} files here"))
    return found


def parse_json(data: bytes):
    """A file's JSON (gunzipped first when it is gzip); BadInput when it is not JSON."""
    try:
        return json.loads(decompress(data))
    except json.JSONDecodeError as error:
        raise BadInput(f"not valid JSON ({error})") from None


def text_stream(data: bytes) -> io.TextIOBase:
    """A file's bytes as UTF-8 text read on demand, gunzipped when they are gzip (by their magic
    number), so a streaming reader never holds the whole decompressed text."""
    raw = gzip.GzipFile(fileobj=io.BytesIO(data)) if data[:2] == b"\x1f\x8b" else io.BytesIO(data)
    return io.TextIOWrapper(raw, encoding="utf-8")


def decompress(data: bytes) -> bytes:
    """The bytes of a file, gunzipped when they are gzip (by their magic number, not the name)."""
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def parse_timestamp(value) -> dt.datetime | None:
    """An ISO 8601 string as a naive UTC datetime ("2024-08-02T20:07:28Z"), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed
