"""What every loader of real exports shares: one input file at a time, a report per file, the
load ledger, and the catalog of tracks, artists and users the loaded rows need.

A loader (``Source``) finds its input files and maps one file's records into a ``Batch``: rows
of contract tables, and the records set aside with a reason. ``run`` does the rest for each file:

1. reads its bytes and their SHA-256; a file already in the ledger (same loader, same scope,
   same bytes) is skipped and reported as ``already loaded``: loading the same files twice loads
   nothing new;
2. maps it; a file that cannot be read or parsed as a whole is reported ``failed`` with the
   reason and the next file is loaded (never a traceback for bad input), and a record that cannot
   be mapped is set aside with its reason;
3. writes the batch (new files on DuckDB, load jobs on BigQuery), then the set-aside rows, then
   the ledger entry. A crash between the two leaves rows without a ledger entry: loading the file
   again writes them again under the same keys, and staging counts the copies as duplicates.

The report says per file what was loaded (rows per table), what was set aside and why, what was
already there, and the records read per second. ``LoadReport.exit_code`` is 1 only when no file
had anything usable (records that map into the contract, now or in an earlier load).

**The catalog and "merging with what is known".** Staging rejects plays and playlist tracks of
unknown tracks and users, and tracks of unknown artists, so every loader also writes the
``tracks``, ``artists`` and ``users`` rows its rows need. ``Catalog`` looks up what the raw
contract already has for the ids of a file (``Store.fetch``; of several raw rows of one track it
takes the one with the most non-null fields, the one staging should keep) and merges the new
facts into it field by field: names, artist and album (``fill``) only fill what is unknown; the
measured fields of an audio-features file (``override``) replace older values. A null never
blanks out a known value. A merged row is written only when it differs from what is known, so a
track seen in every file of a history, or the same features twice, is written once; the written
row carries every field known so far, so any single row staging keeps for a track is complete.
"""

import datetime as dt
import gzip
import hashlib
import json
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from tunesday.contract import SCHEMAS
from tunesday.load import ids
from tunesday.load.stores import SET_ASIDE_SCHEMA, Store, ledger_key, utc_now

# Tables in the order they are written: what a row refers to is written before it.
WRITE_ORDER = ("artists", "tracks", "users", "playlists", "playlist_tracks", "listening_events")
# Entity tables: one pending row per key within a batch (a later merge replaces an earlier one).
ENTITY_KEYS = {"artists": "artist_id", "tracks": "track_id", "users": "user_id"}
TRACK_COLUMNS = SCHEMAS["tracks"].names
# Fields of a record never written anywhere, set-aside records included.
NEVER_KEPT = ("ip_addr", "ip_addr_decrypted")


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


class Catalog:
    """The tracks, artists and users the raw contract knows, looked up per file and merged into."""

    def __init__(self, store: Store):
        self.store = store
        self._tracks: dict[str, dict | None] = {}
        self._artists: dict[str, bool] = {}
        self._users: dict[str, bool] = {}

    def prefetch(self, track_ids=(), artist_ids=(), user_ids=()) -> None:
        """Look up, in one query per table, the ids not looked up yet."""
        missing = sorted({t for t in track_ids if t and t not in self._tracks})
        for track_id in missing:
            self._tracks[track_id] = None
        for row in self.store.fetch("tracks", "track_id", missing, TRACK_COLUMNS):
            known = self._tracks[row["track_id"]]
            if known is None or _filled(row) >= _filled(known):
                self._tracks[row["track_id"]] = row
        for cache, table, key, wanted in ((self._artists, "artists", "artist_id", artist_ids),
                                          (self._users, "users", "user_id", user_ids)):
            missing = sorted({i for i in wanted if i and i not in cache})
            cache.update(dict.fromkeys(missing, False))
            for row in self.store.fetch(table, key, missing, [key]):
                cache[row[key]] = True

    def known_track(self, track_id: str) -> dict | None:
        """The fullest row known for a prefetched track (None when unknown)."""
        return self._tracks[track_id]

    def track(self, batch: Batch, track_id: str, artist_name=None, fill: dict | None = None,
              override: dict | None = None) -> bool:
        """Merge what a record says about a track into what is known; True when that adds something.

        `artist_name` gives the artist id (and an artists row when the artist is new) if the track
        has no artist yet. The track must have been prefetched.
        """
        known = self._tracks[track_id]
        row = dict(known) if known else dict.fromkeys(TRACK_COLUMNS)
        row["track_id"] = track_id
        fill = dict(fill or {})
        derived_artist = ids.artist_id(artist_name)
        fill.setdefault("artist_id", derived_artist)
        for column, value in fill.items():
            if value is not None and row[column] is None:
                row[column] = value
        for column, value in (override or {}).items():
            if value is not None:
                row[column] = value
        if row == known:
            return False
        self._tracks[track_id] = row
        batch.put("tracks", row)
        if row["artist_id"] is not None and row["artist_id"] == derived_artist:
            self.artist(batch, derived_artist, ids.clean_text(artist_name))
        return True

    def named_track(self, batch: Batch, track_id: str, artist_name, track_name, album_name,
                    duration_ms: int | None = None) -> bool:
        """A track as a play or a playlist names it: names, album and length fill what is unknown."""
        return self.track(batch, track_id, artist_name=artist_name, fill={
            "track_name": ids.clean_text(track_name),
            "album_id": ids.album_id(artist_name, album_name),
            "album_name": ids.clean_text(album_name),
            "duration_ms": duration_ms,
        })

    def artist(self, batch: Batch, artist_id: str, artist_name: str) -> None:
        """An artists row for an artist the contract does not know yet."""
        self._add_if_new(batch, "artists", self._artists, {
            "artist_id": artist_id, "artist_name": artist_name, "genre": None, "country": None})

    def user(self, batch: Batch, user_id: str, country: str | None = None) -> None:
        """A users row for a listener the contract does not know yet (tier and signup unknown)."""
        self._add_if_new(batch, "users", self._users, {
            "user_id": user_id, "country": country, "signup_date": None, "product_tier": None})

    def _add_if_new(self, batch: Batch, table: str, known: dict[str, bool], row: dict) -> None:
        key = row[ENTITY_KEYS[table]]
        if key not in known:
            self.prefetch(**{"artist_ids" if table == "artists" else "user_ids": [key]})
        if not known[key]:
            known[key] = True
            batch.put(table, row)


def _filled(row: dict) -> int:
    return sum(value is not None for value in row.values())


class Source(Protocol):
    name: str           # the subcommand: spotify-history, mpd, audio-features
    records_are: str    # what one record is, for the report: plays, playlist tracks, rows

    def files(self, paths: list[Path]) -> list[InputFile]:
        """The input files under the given paths; a path without any is an InputFile with an error
        (BadInput when the paths cannot be loaded together at all)."""

    def read(self, source: InputFile, data: bytes, catalog: Catalog) -> Batch:
        """Map one file's records into the contract (BadInput when the file cannot be used)."""


@dataclass
class FileReport:
    path: str
    status: str                      # loaded | already loaded | failed
    records: int = 0
    usable: int = 0
    already_known: int = 0
    written: dict[str, int] = field(default_factory=dict)
    set_aside: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        if self.status == "failed":
            return f"{self.path}: FAILED, {self.error}"
        if self.status == "already loaded":
            return f"{self.path}: already loaded ({self.usable:,} usable records then), nothing new"
        written = ", ".join(f"{table} {n:,}" for table, n in self.written.items()) or "nothing new"
        parts = [f"{self.path}: {self.records:,} records read; written: {written}"]
        if self.already_known:
            parts.append(f"already known: {self.already_known:,}")
        if self.set_aside:
            reasons = ", ".join(f"{reason} {n:,}" for reason, n in sorted(self.set_aside.items()))
            parts.append(f"set aside {sum(self.set_aside.values()):,} ({reasons})")
        if self.notes:
            parts.append("notes: " + ", ".join(f"{k} {n:,}" for k, n in sorted(self.notes.items())))
        parts.append(f"{self.seconds:.2f} s, {self.records_per_second:,.0f} records/s")
        return "; ".join(parts)


@dataclass
class LoadReport:
    loader: str
    target: str
    files: list[FileReport] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return any(f.usable > 0 for f in self.files if f.status != "failed")

    @property
    def exit_code(self) -> int:
        return 0 if self.usable else 1

    def totals(self) -> dict:
        loaded = [f for f in self.files if f.status == "loaded"]
        seconds = sum(f.seconds for f in loaded)
        records = sum(f.records for f in loaded)
        written = Counter()
        set_aside = Counter()
        for f in loaded:
            written.update(f.written)
            set_aside.update(f.set_aside)
        return {
            "files": len(self.files),
            "loaded": len(loaded),
            "already_loaded": sum(f.status == "already loaded" for f in self.files),
            "failed": sum(f.status == "failed" for f in self.files),
            "records": records,
            "written": dict(written),
            "set_aside": dict(set_aside),
            "seconds": seconds,
            "records_per_second": records / seconds if seconds > 0 else 0.0,
        }

    def summary(self) -> str:
        t = self.totals()
        written = ", ".join(f"{table} {n:,}" for table, n in t["written"].items()) or "nothing new"
        return (f"{self.loader} into {self.target}: {t['files']} files ({t['loaded']} loaded, "
                f"{t['already_loaded']} already loaded, {t['failed']} failed); {t['records']:,} records "
                f"read, written: {written}; set aside {sum(t['set_aside'].values()):,}; "
                f"{t['seconds']:.2f} s, {t['records_per_second']:,.0f} records/s")


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


def decompress(data: bytes) -> bytes:
    """The bytes of a file, gunzipped when they are gzip (by their magic number, not the name)."""
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def record_json(record) -> str:
    """A set-aside record as JSON, without the fields that must never be kept (at any depth)."""
    def kept(value):
        if isinstance(value, dict):
            return {k: kept(v) for k, v in value.items() if k not in NEVER_KEPT}
        if isinstance(value, list):
            return [kept(v) for v in value]
        return value
    return json.dumps(kept(record), ensure_ascii=False, default=str)


def run(source: Source, paths: list[Path], store: Store, echo=print) -> LoadReport:
    """Load every input file under `paths` into `store`; print and return the report."""
    report = LoadReport(loader=source.name, target=store.description)
    try:
        inputs = source.files(paths)
    except BadInput as error:
        report.files.append(FileReport(path=", ".join(map(str, paths)), status="failed", error=str(error)))
        echo(report.files[-1].line())
        inputs = []
    ledger = store.ledger()
    catalog = Catalog(store)
    for source_file in inputs:
        if source_file.error:
            file_report = FileReport(path=str(source_file.path), status="failed", error=source_file.error)
        else:
            file_report = load_file(source, source_file, store, catalog, ledger)
        report.files.append(file_report)
        echo(file_report.line())
    echo(report.summary())
    if not report.usable:
        echo(f"nothing usable found: no {source.records_are} could be loaded")
    return report


def load_file(source: Source, source_file: InputFile, store: Store, catalog: Catalog,
              ledger: dict) -> FileReport:
    started = time.perf_counter()
    shown = str(source_file.path)
    try:
        data = source_file.path.read_bytes()
    except OSError as error:
        return FileReport(path=shown, status="failed", error=f"cannot read: {error.strerror or error}")
    sha = hashlib.sha256(data).hexdigest()
    done = ledger.get((source.name, source_file.scope, sha))
    if done:
        return FileReport(path=shown, status="already loaded", usable=int(done["usable_rows"]),
                          seconds=time.perf_counter() - started)
    try:
        batch = source.read(source_file, data, catalog)
    except (BadInput, ValueError, EOFError, OSError, zlib.error) as error:
        # json.JSONDecodeError, UnicodeDecodeError and csv.Error are ValueErrors or caught by readers.
        message = str(error) if isinstance(error, BadInput) else f"{type(error).__name__}: {error}"
        return FileReport(path=shown, status="failed", error=message, seconds=time.perf_counter() - started)
    name = f"{source.name}-{_safe(source_file.label)}-{sha[:12]}"
    written = {}
    for table, rows in batch.tables().items():
        store.write(table, pa.Table.from_pylist(rows, schema=SCHEMAS[table]), name)
        written[table] = len(rows)
    set_aside = Counter(reason for _, reason, _ in batch.set_aside_rows)
    if batch.set_aside_rows:
        now = utc_now()
        store.set_aside(pa.Table.from_pylist([
            {"loader": source.name, "source_file": shown, "record_ref": ref, "reason": reason,
             "record": record_json(record), "set_aside_at": now}
            for ref, reason, record in batch.set_aside_rows
        ], schema=SET_ASIDE_SCHEMA), source.name, name)
    file_report = FileReport(
        path=shown, status="loaded", records=batch.records, usable=batch.usable,
        already_known=batch.already_known, written=written, set_aside=dict(set_aside),
        notes=dict(batch.notes), seconds=time.perf_counter() - started,
    )
    entry = {"loader": source.name, "scope": source_file.scope, "sha256": sha, "source_file": shown,
             "loaded_at": utc_now(), "usable_rows": batch.usable,
             "report": json.dumps(file_report.__dict__, default=str)}
    store.record_load(entry)
    ledger[ledger_key(entry)] = entry
    return file_report


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)[:80]


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
