"""The models materialized batched_table() (macros/batched_table.sql) on DuckDB: built in several
batches, each holds exactly the rows of the one query the fixture's build made."""

import shutil
from collections import Counter

from conftest import RUN_DATE, on_day
from tunesday.warehouse import connect as connect_warehouse

# Each model and its rows, floats to 9 decimals.
ROWS = {
    "int_smart_shuffle_neighbours": "select playlist_id, track_id, round(cooccurrence_score, 9), seed_track_id",
    "int_smart_shuffle_pools": "select playlist_id, pool_rank, track_id, artist_id, round(score, 9), "
                               "round(taste_score, 9), round(audio_fit, 9), round(popularity_prior, 9), "
                               "seed_track_id, reason_codes, playlist_track_count, as_of_date",
}


def rows(path, model: str) -> Counter:
    with connect_warehouse(str(path)) as con:
        return Counter(con.execute(f"{ROWS[model]} from {model}").fetchall())


def batches(target, model: str) -> int:
    [compiled] = (target / "compiled").rglob(f"{model}.sql")
    return int(compiled.read_text().split("/* batch 0 of ")[1].split(" ")[0])


def test_the_smart_shuffle_models_built_in_batches_are_those_of_one_query(warehouse, tmp_path):
    one_query = {model: rows(warehouse.duckdb_path, model) for model in ROWS}
    shutil.copy(warehouse.duckdb_path, tmp_path / "batched.duckdb")
    env = on_day(warehouse.env_in(tmp_path, "batched.duckdb"), RUN_DATE)
    # A batch per 2,000 playlist tracks, then per 5,000 neighbours: several batches at this size.
    built = warehouse.dbt_with(env, "run", "--select", *ROWS, "--vars",
                               "{smart_shuffle_batch_playlist_tracks: 2000, smart_shuffle_batch_neighbours: 5000}")
    assert built.success, built.describe(3000)
    for model, expected in one_query.items():
        assert batches(tmp_path / "target", model) >= 4, model
        assert sum(expected.values()) > 1000 and rows(tmp_path / "batched.duckdb", model) == expected, model
