"""Writes serving/contract.py from the dbt contracts of the serving tables: the export's one source
for their columns and types.

    python -m serving.generate_contract          rewrite serving/contract.py
    python -m serving.generate_contract --check  exit 1 if serving/contract.py is not what the YAML says

The serving tables are the models named serving_* with `contract: enforced` (models/**/*.yml).
Types are the contracts' data_type for the DuckDB target, as DuckDB names them: the export renders
the documents on DuckDB whatever the warehouse.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import jinja2
import yaml

PROJECT_DIR = Path(__file__).resolve().parents[1]
CONTRACT_MODULE = Path(__file__).with_name("contract.py")

HEADER = '''"""The serving tables' columns and their types: GENERATED from the dbt contracts by
`python -m serving.generate_contract`; do not edit (tests/python/test_serving_contract.py checks it)."""

#: Per serving table, its columns in contract order and their DuckDB types.
SERVING_TABLES: dict[str, dict[str, str]] = {
'''


def contracts(models_dir: Path = PROJECT_DIR / "models") -> dict[str, dict[str, str]]:
    """The enforced contracts of the serving_* models: columns and data_type (for DuckDB)."""
    tables: dict[str, dict[str, str]] = {}
    for path in sorted(models_dir.rglob("*.yml")):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            enforced = ((model.get("config") or {}).get("contract") or {}).get("enforced")
            if model["name"].startswith("serving_") and enforced:
                tables[model["name"]] = {
                    column["name"]: _duckdb_type(column["data_type"]) for column in model["columns"]
                }
    return dict(sorted(tables.items()))


def _duckdb_type(data_type: str) -> str:
    rendered = jinja2.Template(data_type).render(target={"type": "duckdb"})
    with duckdb.connect() as con:
        return str(con.execute(f"select typeof(cast(null as {rendered}))").fetchall()[0][0])


def render(tables: dict[str, dict[str, str]]) -> str:
    lines = [HEADER]
    for table, columns in tables.items():
        lines.append(f'    "{table}": {{\n')
        lines.extend(f'        "{column}": "{data_type}",\n' for column, data_type in columns.items())
        lines.append("    },\n")
    lines.append("}\n")
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that serving/contract.py is current")
    args = parser.parse_args(argv)
    text = render(contracts())
    if args.check:
        if CONTRACT_MODULE.read_text() != text:
            print(
                f"{CONTRACT_MODULE} differs from the dbt contracts: run python -m serving.generate_contract",
                file=sys.stderr,
            )
            return 1
        return 0
    CONTRACT_MODULE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
