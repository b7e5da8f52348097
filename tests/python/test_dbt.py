"""tunesday.dbt: dbt in a child process, its outcome as data."""

from tunesday import dbt


def test_dbt_itself_failing_is_exit_code_two_with_its_message(tmp_path):
    result = dbt.run(["no-such-command"], dbt.duckdb_env(tmp_path, tmp_path / "raw"))
    assert not result.success and result.exit_code == 2 and result.nodes == ()
    assert "no-such-command" in result.error
    assert result.describe().startswith("dbt no-such-command exited 2:")
