"""The snapshot store: where exports publish snapshots and the request side finds the current one.

Layout (one directory, `TUNESDAY_SERVING_STORE`, default target/serving):
    snapshots/<snapshot_id>.sqlite          one per export; <snapshot_id> = <run_date>_<UTC export time>
    snapshots/<snapshot_id>.manifest.json   its manifest
    snapshots/<snapshot_id>.sqlite.partial  an export in progress (or killed): never read
    CURRENT                                 JSON: the published snapshot's id and manifest
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Store:
    root: Path

    @property
    def snapshots(self) -> Path:
        return self.root / "snapshots"

    @property
    def current_file(self) -> Path:
        return self.root / "CURRENT"

    def current(self) -> dict | None:
        """The published snapshot's manifest (with its id and path), or None."""
        try:
            manifest = json.loads(self.current_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        manifest["path"] = str(self.snapshots / f"{manifest['snapshot_id']}.sqlite")
        return manifest

    def published(self) -> list[dict]:
        """The manifests of the snapshots on disk, newest first."""
        manifests = []
        for path in sorted(self.snapshots.glob("*.manifest.json"), reverse=True):
            manifests.append(json.loads(path.read_text()))
        return manifests
