"""What every loader of real exports shares: one input file at a time, a report per file, the
load ledger, and the catalog of tracks, artists and users the loaded rows need.

A loader (``Source``) finds its input files and maps one file's records into a ``Batch``: rows
of contract tables, and the records set aside with a reason. ``run`` does the rest for each file:

1. reads its bytes and their SHA-256; a file already in the ledger (same loader, same scope,
   same bytes) is skipped and reported as ``already loaded``: loading the same files twice loads
   nothing new;
2. maps it. A record that cannot be mapped, merged into the catalog or made into rows that fit
   the contract is set aside with its reason (``Catalog.guard``) and the rest of the file loads;
   a file that cannot be read or parsed as a whole (not JSON, nested too deeply, the wrong
   shape) is reported ``failed`` with a one-line reason and the next file is loaded (never a
   traceback for bad input);
3. commits the file (``Store.commit``): its rows in every table, its set-aside rows and its
   ledger entry, all or none of them, so a file without a ledger entry left nothing behind and
   loads whole the next time. What the catalog learnt from a file that fails is forgotten.

The report says per file what was loaded (rows per table), what was set aside and why (and how
many of those were rejected as bad, beyond the records the contract has no place for), what was
already there, and the records read per second; ``LoadReport.exit_code`` says how it went.

The pieces: ``tunesday.load.source`` (what a loader implements and the helpers formats share),
``tunesday.load.catalog`` (the tracks, artists and users merged into), ``tunesday.load.report``
(what is printed); this module is the loop over the files.
"""

import hashlib
import json
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa

from tunesday.command import one_line
from tunesday.contract import RECORDS, stamped
from tunesday.load.catalog import Catalog
from tunesday.load.report import FileReport, LoadReport
from tunesday.load.source import BadInput, InputFile, Source
from tunesday.load.stores import SET_ASIDE_SCHEMA, SET_ASIDE_TABLE, Store, ledger_key, utc_now

# Fields of a record never written anywhere, set-aside records included.
NEVER_KEPT = ("ip_addr", "ip_addr_decrypted")


# How deep a set-aside record is kept: a real export's records are three levels deep at most. A
# fixed limit, not Python's recursion limit, so that what is kept is the same on every Python
# (3.12 inlines comprehensions: the same record took half the frames it did on 3.11).
MAX_KEPT_DEPTH = 100


class _TooDeep(Exception):
    pass


def record_json(record) -> str:
    """A set-aside record as JSON, without the fields that must never be kept (at any depth).

    Always a string a Parquet or BigQuery column takes: text that is not Unicode (a lone
    surrogate) is escaped, and a record nested deeper than MAX_KEPT_DEPTH is replaced by a note."""

    def kept(value, depth: int):
        if depth > MAX_KEPT_DEPTH:
            raise _TooDeep
        if isinstance(value, dict):
            return {k: kept(v, depth + 1) for k, v in value.items() if k not in NEVER_KEPT}
        if isinstance(value, list):
            return [kept(v, depth + 1) for v in value]
        return value

    try:
        record = kept(record, 0)
        text = json.dumps(record, ensure_ascii=False, default=str)
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(record, default=str)
    except (_TooDeep, RecursionError):
        text = json.dumps({"not_kept": "the record is nested too deeply to keep"})
    return text


def shown_path(path: Path) -> str:
    """A path as the report and the ledger show it: a name that is not UTF-8 gets U+FFFD."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def run(source: Source, paths: list[Path], store: Store, echo=print) -> LoadReport:
    """Load every input file under `paths` into `store`; print and return the report."""
    report = LoadReport(loader=source.name, target=store.description)
    for notice in store.notices:
        echo(f"note: {notice}")
    try:
        inputs = source.files(paths)
    except BadInput as error:
        report.files.append(FileReport(path=", ".join(map(shown_path, paths)), status="failed", error=str(error)))
        echo(report.files[-1].line())
        inputs = []
    ledger = store.ledger()
    catalog = Catalog(store)
    for source_file in inputs:
        if source_file.error:
            file_report = FileReport(path=shown_path(source_file.path), status="failed", error=source_file.error)
        else:
            file_report = load_file(source, source_file, store, catalog, ledger)
        report.files.append(file_report)
        echo(file_report.line())
    echo(report.summary())
    if not report.usable:
        echo(f"nothing usable found: no {source.records_are} could be loaded")
    return report


def load_file(source: Source, source_file: InputFile, store: Store, catalog: Catalog, ledger: dict) -> FileReport:
    started = time.perf_counter()
    shown = shown_path(source_file.path)
    try:
        data = source_file.path.read_bytes()
    except OSError as error:
        return FileReport(path=shown, status="failed", error=f"cannot read: {error.strerror or error}")
    sha = hashlib.sha256(data).hexdigest()
    done = ledger.get((source.name, source_file.scope, sha))
    if done:
        return FileReport(
            path=shown, status="already loaded", usable=int(done["usable_rows"]), seconds=time.perf_counter() - started
        )
    mark = catalog.mark()
    loaded_at = utc_now()
    try:
        batch = source.read(source_file, data, catalog)
        parts = _parts(source, batch, shown, loaded_at)
    except store.errors:
        raise
    except Exception as error:  # the file is bad as a whole: report it, load the next
        catalog.rollback(mark)
        return FileReport(path=shown, status="failed", error=_one_line(error), seconds=time.perf_counter() - started)
    set_aside = Counter(reason for _, reason, _ in batch.set_aside_rows)
    file_report = FileReport(
        path=shown,
        status="loaded",
        records=batch.records,
        usable=batch.usable,
        already_known=batch.already_known,
        written={table: rows.num_rows for table, rows in parts.items() if table != SET_ASIDE_TABLE},
        set_aside=dict(set_aside),
        rejected=sum(n for r, n in set_aside.items() if r not in source.kept_out),
        notes=dict(batch.notes),
        seconds=time.perf_counter() - started,
    )
    entry = {
        "loader": source.name,
        "scope": source_file.scope,
        "sha256": sha,
        "source_file": shown,
        "loaded_at": loaded_at,
        "usable_rows": batch.usable,
        "report": json.dumps(file_report.__dict__, default=str),
    }
    try:
        store.commit(f"{source.name}-{_safe(source_file.label)}-{sha[:12]}", parts, entry)
    except BaseException:
        catalog.rollback(mark)
        raise
    file_report.seconds = time.perf_counter() - started  # the commit included
    catalog.keep()
    ledger[ledger_key(entry)] = entry
    return file_report


def _parts(source: Source, batch, shown: str, loaded_at) -> dict[str, pa.Table]:
    """The batch as Arrow tables: the contract's (stamped as loaded at `loaded_at`, the time of the
    ledger entry, unless the source stamped them), and the set-aside rows."""
    parts = {
        table: stamped(table, pa.Table.from_pylist(rows, schema=RECORDS[table]), loaded_at)
        for table, rows in batch.tables().items()
    }
    parts.update(batch.stamped)
    if batch.set_aside_rows:
        parts[SET_ASIDE_TABLE] = pa.Table.from_pylist(
            [
                {
                    "loader": source.name,
                    "source_file": shown,
                    "record_ref": ref,
                    "reason": reason,
                    "record": record_json(record),
                    "set_aside_at": loaded_at,
                }
                for ref, reason, record in batch.set_aside_rows
            ],
            schema=SET_ASIDE_SCHEMA,
        )
    return parts


def _one_line(error: Exception, limit: int = 300) -> str:
    """Why a file failed, on one line: BadInput's own words, else the error's type and message."""
    return one_line(str(error) if isinstance(error, BadInput) else f"{type(error).__name__}: {error}", limit)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)[:80]
