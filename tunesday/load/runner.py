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

The pieces: ``tunesday.load.source`` (what a loader implements and the helpers formats share),
``tunesday.load.catalog`` (the tracks, artists and users merged into), ``tunesday.load.report``
(what is printed); this module is the loop over the files.
"""

import hashlib
import json
import time
import zlib
from collections import Counter
from pathlib import Path

import pyarrow as pa

from tunesday.contract import SCHEMAS
from tunesday.load.catalog import Catalog
from tunesday.load.report import FileReport, LoadReport
from tunesday.load.source import BadInput, InputFile, Source
from tunesday.load.stores import SET_ASIDE_SCHEMA, Store, ledger_key, utc_now

# Fields of a record never written anywhere, set-aside records included.
NEVER_KEPT = ("ip_addr", "ip_addr_decrypted")


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
