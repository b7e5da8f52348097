"""dbt docs are the analysts' manual: every model and every column it really has is described."""

import json
from tunesday.warehouse import connect as connect_warehouse



def test_every_model_and_column_is_described(warehouse):
    manifest = json.loads((warehouse.env_target_path / "manifest.json").read_text())
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        actual = {}
        for table, column in con.execute(
            "select table_name, column_name from information_schema.columns"
        ).fetchall():
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
