"""A model materialized batched_table() (macros/batched_table.sql) on DuckDB: built in several
batches, it holds exactly the rows of the one query the fixture's build made."""

import shutil
from collections import Counter

from conftest import RUN_DATE, on_day
from tunesday.warehouse import connect as connect_warehouse

NEIGHBOURS = "int_smart_shuffle_neighbours"


def neighbour_rows(path) -> Counter:
    with connect_warehouse(str(path)) as con:
        return Counter(con.execute(f"select playlist_id, track_id, round(cooccurrence_score, 9), seed_track_id "
                                   f"from {NEIGHBOURS}").fetchall())


def test_the_smart_shuffle_neighbours_built_in_batches_are_those_of_one_query(warehouse, tmp_path):
    one_query = neighbour_rows(warehouse.duckdb_path)
    tracks = sum(one_query.values())
    shutil.copy(warehouse.duckdb_path, tmp_path / "batched.duckdb")
    env = on_day(warehouse.env_in(tmp_path, "batched.duckdb"), RUN_DATE)
    # A batch per 2,000 playlist tracks: several batches at this size.
    built = warehouse.dbt_with(env, "run", "--select", "int_smart_shuffle_neighbours",
                               "--vars", "{smart_shuffle_batch_playlist_tracks: 2000}")
    assert built.success, built.describe(3000)
    [compiled] = (tmp_path / "target" / "compiled").rglob("int_smart_shuffle_neighbours.sql")
    batches = int(compiled.read_text().split("/* batch 0 of ")[1].split(" ")[0])
    assert batches >= 4, batches
    assert tracks > 1000 and neighbour_rows(tmp_path / "batched.duckdb") == one_query
