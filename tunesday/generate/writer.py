"""Parquet output: DIR/raw/<table>/part-NNNNN.parquet, DIR/truth/<table>/part-NNNNN.parquet and
DIR/manifest.json."""

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tunesday.contract import SCHEMAS

RAW = "raw"
TRUTH = "truth"
MANIFEST = "manifest.json"


def prepare(out: Path) -> None:
    """Remove the previous dataset: a rerun replaces it rather than adding part files to it."""
    for area in (RAW, TRUTH):
        shutil.rmtree(out / area, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def write_part(out: Path, area: str, name: str, part: int, table: pa.Table) -> None:
    if area == RAW and not table.schema.equals(SCHEMAS[name]):
        raise ValueError(f"{name} does not match the raw contract:\n{table.schema}")
    folder = out / area / name
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / f"part-{part:05d}.parquet", compression="zstd")


def write_manifest(out: Path, manifest: dict) -> None:
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
