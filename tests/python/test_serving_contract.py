"""The serving contract is stated once, in the dbt YAML: serving/contract.py is generated from it."""

from serving import generate_contract


def test_the_contract_module_is_what_the_dbt_contracts_say():
    """Fails after a change to a serving model's contract until `python -m serving.generate_contract` ran."""
    assert generate_contract.CONTRACT_MODULE.read_text() == generate_contract.render(generate_contract.contracts())


def test_the_contract_types_follow_the_yaml(tmp_path):
    (tmp_path / "_x__models.yml").write_text("""
models:
  - name: serving_things
    config: {contract: {enforced: true}}
    columns:
      - {name: thing_id, data_type: string}
      - {name: weight, data_type: "{{ 'float64' if target.type == 'bigquery' else 'double' }}"}
      - {name: count, data_type: int64}
  - name: serving_unenforced
    columns: [{name: x, data_type: string}]
  - name: dim_things
    config: {contract: {enforced: true}}
    columns: [{name: y, data_type: string}]
""")
    assert generate_contract.contracts(tmp_path) == {
        "serving_things": {"thing_id": "VARCHAR", "weight": "DOUBLE", "count": "BIGINT"}
    }
