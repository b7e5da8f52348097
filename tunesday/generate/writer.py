"""Parquet output: DIR/raw/<table>/part-NNNNN.parquet, DIR/truth/<table>/part-NNNNN.parquet and
DIR/manifest.json."""

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tunesday.contract import LOADS_FOLDER, SCHEMAS

RAW = "raw"
TRUTH = "truth"
MANIFEST = "manifest.json"
#: Written first into a folder the generator fills: what it may replace on the next run.
MARKER = ".tunesday-generated"


class FolderNotOurs(Exception):
    """The output folder holds data the generator did not write: it is left as it is."""


def generated(out: Path) -> bool:
    """Whether the generator wrote `out` (its marker, or the manifest of a version before it)."""
    return (out / MARKER).exists() or (out / MANIFEST).exists()


def prepare(out: Path) -> None:
    """Remove the previous generated dataset: a rerun replaces it rather than adding part files to
    it. Refuses (FolderNotOurs) a folder whose raw data the generator did not write, or into which
    real data was loaded: it never deletes what it did not write."""
    raw = out / RAW
    if (raw / LOADS_FOLDER).exists():
        raise FolderNotOurs(
            f"{raw} holds loaded data (its load ledger {raw / LOADS_FOLDER}); the generator replaces only what it "
            f"wrote: give it another --out, or remove {out} yourself"
        )
    if raw.is_dir() and any(raw.iterdir()) and not generated(out):
        raise FolderNotOurs(
            f"{raw} was not written by the generator (no {MARKER} beside it): give it another --out, "
            f"or remove {out} yourself"
        )
    for area in (RAW, TRUTH):
        shutil.rmtree(out / area, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by tunesday-generate: it replaces this folder's raw/ and truth/\n")


def write_part(out: Path, area: str, name: str, part: int, table: pa.Table) -> None:
    if area == RAW and not table.schema.equals(SCHEMAS[name]):
        raise ValueError(f"{name} does not match the raw contract:\n{table.schema}")
    folder = out / area / name
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / f"part-{part:05d}.parquet", compression="zstd")


def write_manifest(out: Path, manifest: dict) -> None:
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
