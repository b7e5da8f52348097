"""Fails when a dbt model reads a stage after its own: the folder tree is the flow of data.

    python ci/stage_check.py [target/manifest.json]

Every model belongs to one stage, its dbt group (models/_groups.yml, set per folder in
dbt_project.yml). A model may read seeds, sources, its own stage and the stages before it in
FLOW; nothing may read the terminal stages (evaluation, audit, experiments) or snapshots, which only look
back. Exit status 1 with one line per model that reads ahead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

#: The stages in the order data flows through them.
FLOW = ("staging", "core", "signals", "candidates", "surfaces", "serving")
#: Stages beside the flow: they read any stage, and nothing reads them.
TERMINAL = ("evaluation", "audit", "experiments")


def _rank(node: dict) -> float:
    """Where a node sits in the flow: seeds and sources first, terminal stages and snapshots last."""
    if node["resource_type"] in ("seed", "source"):
        return -1
    if node["resource_type"] == "snapshot":
        return float("inf")
    group = node.get("group")
    if group in TERMINAL:
        return float("inf")
    return FLOW.index(group)


def problems(manifest: dict) -> list[str]:
    """One line per model (or snapshot) that has no known stage or reads a later one."""
    nodes = {**manifest["nodes"], **manifest["sources"]}
    defined = {group["name"] for group in manifest.get("groups", {}).values()}
    found = []
    if defined != set(FLOW + TERMINAL):
        found.append(
            f"the dbt groups {sorted(defined)} are not the stages {sorted(FLOW + TERMINAL)}: "
            "add the new stage to ci/stage_check.py"
        )
    for node in nodes.values():
        if node["resource_type"] not in ("model", "snapshot"):
            continue
        if node["resource_type"] == "model" and node.get("group") not in FLOW + TERMINAL:
            found.append(f"{node['name']}: in no stage (group {node.get('group')!r})")
            continue
        for parent_id in node["depends_on"]["nodes"]:
            parent = nodes.get(parent_id)
            if parent is None or parent["resource_type"] not in ("model", "seed", "source", "snapshot"):
                continue
            if parent["resource_type"] == "model" and parent.get("group") not in FLOW + TERMINAL:
                continue  # reported as a model in no stage
            if _rank(parent) > _rank(node) or (
                _rank(parent) == float("inf") and parent.get("group") != node.get("group")
            ):
                found.append(
                    f"{node['name']} ({node.get('group') or node['resource_type']}) reads "
                    f"{parent['name']} ({parent.get('group') or parent['resource_type']}), a later stage"
                )
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else "target/manifest.json")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        print(f"stage_check: cannot read the dbt manifest {path}: {error} (run `dbt parse` first)", file=sys.stderr)
        return 2
    found = problems(manifest)
    for line in found:
        print(f"stage_check: {line}", file=sys.stderr)
    if not found:
        models = sum(node["resource_type"] == "model" for node in manifest["nodes"].values())
        print(f"stage_check: {models} models, each reads only its own stage and the stages before it")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
