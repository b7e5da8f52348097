"""tunesday.dbt: dbt in a child process, its outcome as data."""

import duckdb

from tunesday import dbt, settings


def test_dbt_itself_failing_is_exit_code_two_with_its_message(tmp_path):
    result = dbt.run(["no-such-command"], dbt.duckdb_env(tmp_path, tmp_path / "raw"))
    assert not result.success and result.exit_code == 2 and result.nodes == ()
    assert "no-such-command" in result.error
    assert result.describe().startswith("dbt no-such-command exited 2:")


def test_a_build_that_spilled_goes_on_in_new_connections(tmp_path):
    """The profile's memory limit makes DuckDB spill to its temp folder; dbt-duckdb opens a new
    connection for every node, and DuckDB refuses to have its temp folder set again once it has
    spilled there. So the folder is set once, when the database opens (config_options): a model
    that spilled is followed by others, on the project's own profile."""
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        "name: spill\nversion: '1.0'\nprofile: tunesday\nmodels:\n  spill:\n    +materialized: table\n"
    )
    (project / "models" / "big_sort.sql").write_text(
        "select range as i, md5(cast(range as varchar)) as h from range(6000000) order by h"
    )
    (project / "models" / "settings_seen.sql").write_text(
        "select current_setting('memory_limit') as memory_limit, current_setting('temp_directory') as temp_directory,"
        " current_setting('preserve_insertion_order') as preserve_insertion_order"
    )
    for name in ("after_a", "after_b"):
        (project / "models" / f"{name}.sql").write_text("select count(*) as n from {{ ref('big_sort') }}")
    env = dbt.duckdb_env(tmp_path, tmp_path / "raw") | {"TUNESDAY_DUCKDB_MEMORY_LIMIT": "128MB"}
    result = dbt.run(["run", "--project-dir", str(project), "--threads", "1"], env)
    assert result.success, result.describe(3000)
    assert {node.name: node.status for node in result.nodes} == {
        "big_sort": "success",
        "after_a": "success",
        "after_b": "success",
        "settings_seen": "success",
    }
    with duckdb.connect(env[settings.DUCKDB_PATH], read_only=True) as con:
        [(limit, folder, in_order)] = con.execute("select * from tunesday.settings_seen").fetchall()
    assert limit == "122.0 MiB" and folder == env[settings.DUCKDB_PATH] + ".tmp"  # beside the warehouse
    assert in_order is False  # tables written in any order: less memory held, parallel writes
