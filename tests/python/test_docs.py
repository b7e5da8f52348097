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
        built = actual.get(name, set())
        if not built:
            problems.append(f"{name}: not built")
        if built - described:
            problems.append(f"{name}: undescribed columns {sorted(built - described)}")
        if set(model["columns"]) - built:
            problems.append(f"{name}: documented columns it does not have {sorted(set(model['columns']) - built)}")
    assert not problems, "\n".join(problems)
