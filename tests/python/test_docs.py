"""dbt docs are the analysts' manual: every model and every column it really has is described."""

import json
import re
import subprocess

from conftest import PROJECT_DIR

from tunesday.warehouse import connect as connect_warehouse


def test_every_model_and_column_is_described(warehouse):
    manifest = json.loads((warehouse.env_target_path / "manifest.json").read_text())
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        actual = {}
        for table, column in con.execute("select table_name, column_name from information_schema.columns").fetchall():
            actual.setdefault(table, set()).add(column)

    problems = []
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert models
    for model in models:
        name = model["alias"] or model["name"]
        if not model["description"].strip():
            problems.append(f"{name}: no description")
        described = {c for c, spec in model["columns"].items() if spec["description"].strip()}
        if model["config"]["materialized"] == "ephemeral":
            # Not stored on DuckDB (its one reader computes it: macro inlined_in_batches); its
            # columns are compared with the documented ones on BigQuery, where it is a table
            # (test_bigquery_path.py::test_tables_are_partitioned_and_clustered).
            if set(model["columns"]) - described or not model["columns"]:
                problems.append(f"{name}: ephemeral, columns undocumented or undescribed")
            continue
        built = actual.get(name, set())
        if not built:
            problems.append(f"{name}: not built")
        if built - described:
            problems.append(f"{name}: undescribed columns {sorted(built - described)}")
        if set(model["columns"]) - built:
            problems.append(f"{name}: documented columns it does not have {sorted(set(model['columns']) - built)}")
    assert not problems, "\n".join(problems)


def test_the_bad_input_catalogue_names_tests_that_exist():
    """Every test the README's bad-input catalogue cites is a test function in the file it names
    (`file.py::test_x`, or `::test_y` for another in the same file), so the catalogue cannot drift
    from the tests that keep its promises."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    section = readme.split("## Bad input and faults: the catalogue", 1)[1].split("\n## ", 1)[0]
    cited, missing = 0, []
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith("| **"):
            continue
        test_cell = line.rstrip(" |").rsplit(" | ", 1)[-1]
        current = None
        for file, name in re.findall(r"`(test_\w+\.py)?::(test_\w+)`", test_cell):
            current = file or current
            cited += 1
            source = root / "tests" / "python" / (current or "")
            if not current or not source.is_file() or not re.search(rf"^def {name}\(", source.read_text(), re.M):
                missing.append(f"{current}::{name}")
    assert cited > 40, cited
    assert not missing, missing


EXPOSURES = {
    "api_discover_weekly",
    "api_recommendations",
    "api_smart_shuffle",
    "api_heard",
    "explorer",
    "warehouse_report",
    "experiment_reports",
    "offline_evaluation",
    "playlist_continuation_harness",
}


def test_the_docs_site_builds_and_its_lineage_ends_at_the_consumers(warehouse):
    """`dbt docs generate` (what `make docs` serves) writes the site, a catalog of every built model
    and a manifest with the exposures; every route of the shim is an exposure naming the serving
    tables it reads, and every serving table has a reader."""
    from serving.app import create_app

    generated = warehouse.dbt("docs", "generate")
    assert generated.success, generated.describe(3000)
    target = warehouse.env_target_path
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    assert (target / "index.html").exists()
    models = {
        node_id
        for node_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["config"]["materialized"] != "ephemeral"
    }
    assert models and models <= set(catalog["nodes"]), sorted(models - set(catalog["nodes"]))[:5]
    exposures = {exposure["name"]: exposure for exposure in manifest["exposures"].values()}
    assert set(exposures) == EXPOSURES
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for rule in create_app().url_map.iter_rules()
        if rule.rule.startswith("/v1/")
    }
    labels = {
        exposure["label"].removeprefix("GET ") for exposure in exposures.values() if exposure["type"] == "application"
    }
    assert labels == routes
    read = {node.split(".")[-1] for exposure in exposures.values() for node in exposure["depends_on"]["nodes"]}
    serving = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["name"].startswith("serving_")
    }
    assert serving <= read, sorted(serving - read)
    # The lineage reaches the exposures from the raw sources: the listeners' plays end at a route.
    assert "model.tunesday.serving_recommendations" in manifest["parent_map"]["exposure.tunesday.api_recommendations"]


def test_descriptions_are_in_the_warehouse(warehouse):
    """persist_docs: an analyst's SQL client shows each model's and column's description (DuckDB
    comments; BigQuery descriptions on that target)."""
    manifest = json.loads((warehouse.env_target_path / "manifest.json").read_text())
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        tables = dict(
            ((row[0], row[1]), row[2])
            for row in con.execute(
                "select schema_name, table_name, comment from duckdb_tables() "
                "union all select schema_name, view_name, comment from duckdb_views() where not internal"
            ).fetchall()
        )
        columns = dict(
            ((row[0], row[1], row[2]), row[3])
            for row in con.execute(
                "select schema_name, table_name, column_name, comment from duckdb_columns()"
            ).fetchall()
        )
    missing = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["config"]["materialized"] == "ephemeral":
            continue
        key = (node["schema"], node["alias"] or node["name"])
        if key not in tables:
            continue  # not built by this build (the recsys step's tables)
        if tables[key] != node["description"]:
            missing.append(f"{key[1]}: {tables[key]!r}")
        for column, spec in node["columns"].items():
            if spec["description"] and columns.get((*key, column)) != spec["description"]:
                missing.append(f"{key[1]}.{column}: {columns.get((*key, column))!r}")
    assert not missing, "\n".join(missing[:20]) + f"\n({len(missing)} in all)"


def test_every_mart_and_serving_table_states_its_grain(warehouse):
    """An analyst's first question of a table: what is one row?"""
    manifest = json.loads((warehouse.env_target_path / "manifest.json").read_text())
    silent = [
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["name"].startswith(("fct_", "dim_", "serving_"))
        and not re.search(r"\bgrain\b|\bone row per\b", node["description"], re.IGNORECASE)
    ]
    assert not silent, silent


def test_the_readmes_example_queries_answer_on_the_warehouse(warehouse):
    """README, "How to query": each example runs on a built warehouse and answers with rows."""
    readme = (PROJECT_DIR / "README.md").read_text()
    section = readme[readme.index("## How to query") :]
    section = section[: section.index("\n## ", 1)]
    queries = re.findall(r"```sql\n(.*?)```", section, re.DOTALL)
    assert len(queries) == 3
    import duckdb

    with duckdb.connect(str(warehouse.duckdb_path), read_only=True) as con:  # as the README opens it
        for query in queries:
            assert con.execute(query).fetchall(), query


def test_make_help_lists_every_target():
    phony = re.search(r"^\.PHONY:(.*)$", (PROJECT_DIR / "Makefile").read_text(), re.MULTILINE).group(1).split()
    shown = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    ).stdout
    listed = {line.split()[1] for line in shown.splitlines() if line.startswith("make ")}
    assert set(phony) - {"help"} <= listed, sorted(set(phony) - {"help"} - listed)
