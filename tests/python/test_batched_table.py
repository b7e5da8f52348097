"""The models built in batches on DuckDB (macros/batched_table.sql): a batched_table() model, or an
incremental one whose post-hook inserts the batches after the first, holds exactly the rows of
the one query the fixture's build made, in a new table, an incremental run or a full refresh."""

import shutil
from collections import Counter

import duckdb
from conftest import RUN_DATE, on_day

from tunesday.warehouse import connect as connect_warehouse

# int_user_candidates computes its candidate sources within each batch (ephemeral on DuckDB).
TABLES = [
    "int_smart_shuffle_neighbours",
    "int_smart_shuffle_pools",
    "int_user_candidates",
    "int_playlist_track_cooccurrence",
]
# int_playlist_continuation_candidates computes its generators and seeds within each batch too.
INCREMENTAL = ["fct_user_recommendations", "int_playlist_continuation_candidates"]
# A batch per 2,000 playlist tracks, 5,000 neighbours, 50 listeners (of 300), 50,000 track pairs,
# 20 playlists: several batches at this size.
SMALL_BATCHES = (
    "{smart_shuffle_batch_playlist_tracks: 2000, smart_shuffle_batch_neighbours: 5000, "
    "listeners_per_batch: 50, continuation_batch_pairs: 50000, continuation_playlists_per_batch: 20}"
)


def rows(path, model: str) -> Counter:
    """A model's rows, floats rounded to 9 decimals (the batches may sum in another order)."""
    with connect_warehouse(str(path)) as con:
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_name = ? order by ordinal_position",
            [model],
        ).fetchall()
        selected = ", ".join(f"round({name}, 9)" if kind == "DOUBLE" else name for name, kind in columns)
        return Counter(con.execute(f"select {selected} from {model}").fetchall())


def batches(target, model: str) -> int:
    [compiled] = (target / "compiled").rglob(f"{model}.sql")
    return int(compiled.read_text().split("/* batch 0 of ")[1].split(" ")[0])


def test_the_models_built_in_batches_are_those_of_one_query(warehouse, tmp_path):
    one_query = {model: rows(warehouse.duckdb_path, model) for model in [*TABLES, *INCREMENTAL]}
    batched = tmp_path / "batched.duckdb"
    shutil.copy(warehouse.duckdb_path, batched)
    env = on_day(warehouse.env_in(tmp_path, "batched.duckdb"), RUN_DATE)
    # The tables, and an incremental run of the ranking and the continuations' candidates: the run recomputes
    # every listener and playlist (a full build's int_user_refresh and int_playlist_refresh), so
    # the pre-hooks delete every row and the batches add them.
    built = warehouse.dbt_with(env, "run", "--select", *TABLES, *INCREMENTAL, "--vars", SMALL_BATCHES)
    assert built.success, built.describe(3000)
    for model in [*TABLES, *INCREMENTAL]:
        assert batches(tmp_path / "target", model) >= 4, model
        assert sum(one_query[model].values()) > 1000, model
        assert rows(batched, model) == one_query[model], model
    # A full refresh builds an incremental model's new table from the first batch, the post-hook adds the rest.
    refreshed = warehouse.dbt_with(env, "run", "--select", *INCREMENTAL, "--full-refresh", "--vars", SMALL_BATCHES)
    assert refreshed.success, refreshed.describe(3000)
    for model in INCREMENTAL:
        assert rows(batched, model) == one_query[model], model


def test_discover_weekly_in_batches_is_the_list_of_one_query(warehouse, tmp_path):
    """Discover Weekly on DuckDB is made in batches of every listener: the week's first run (its
    list deleted here) makes the same lists as the fixture's one query, though the later batches
    run after the first is in the table; a second run of the week adds nothing, and the explicit
    rebuild (a full refresh) makes them again."""
    model = "fct_discover_weekly"
    one_query = rows(warehouse.duckdb_path, model)
    assert sum(one_query.values()) > 1000
    batched = tmp_path / "batched.duckdb"
    shutil.copy(warehouse.duckdb_path, batched)
    with duckdb.connect(str(batched)) as con:
        [(schema,)] = con.execute(
            "select table_schema from information_schema.tables where table_name = ?", [model]
        ).fetchall()
        table = f'"{schema}".{model}'
        con.execute(f"delete from {table} where week_start = (select max(week_start) from {table})")
    env = on_day(warehouse.env_in(tmp_path, "batched.duckdb"), RUN_DATE)
    rebuild = SMALL_BATCHES[:-1] + ", rebuild_published_weeks: true}"
    for args in [("--vars", SMALL_BATCHES), ("--vars", SMALL_BATCHES), ("--full-refresh", "--vars", rebuild)]:
        built = warehouse.dbt_with(env, "run", "--select", model, *args)
        assert built.success, built.describe(3000)
        assert batches(tmp_path / "target", model) >= 4
        assert rows(batched, model) == one_query


RELEASED = {
    "int_smart_shuffle_pools": ["int_smart_shuffle_neighbours"],
    "fct_user_recommendations": ["int_user_candidates"],
    "fct_smart_shuffle_pools": ["int_smart_shuffle_pools"],
    "int_playlist_continuation_candidates": ["int_playlist_track_cooccurrence"],
}


def columns(path, model: str) -> list[tuple]:
    with connect_warehouse(str(path)) as con:
        return con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_name = ? order by ordinal_position",
            [model],
        ).fetchall()


def test_release_consumed_empties_what_the_model_has_read_and_changes_nothing_else(warehouse, tmp_path):
    """With var release_consumed_intermediates, the model that reads an intermediate every run
    rebuilds (the candidate pools, the Smart Shuffle neighbours and pools, the track
    co-occurrences) empties it after it is built, keeping its columns; the models' own rows are
    those of the build without it (an intermediate that is released in turn is checked by its
    reader's rows)."""
    released = tmp_path / "released.duckdb"
    shutil.copy(warehouse.duckdb_path, released)
    env = on_day(warehouse.env_in(tmp_path, "released.duckdb"), RUN_DATE)
    built = warehouse.dbt_with(env, "run", "--select", *RELEASED, "--vars", "{release_consumed_intermediates: true}")
    assert built.success, built.describe(3000)
    emptied = {intermediate for intermediates in RELEASED.values() for intermediate in intermediates}
    for model, intermediates in RELEASED.items():
        if model not in emptied:
            assert rows(released, model) == rows(warehouse.duckdb_path, model), model
        for intermediate in intermediates:
            assert sum(rows(warehouse.duckdb_path, intermediate).values()) > 0, intermediate
            assert not rows(released, intermediate), intermediate
            assert columns(released, intermediate) == columns(warehouse.duckdb_path, intermediate), intermediate
