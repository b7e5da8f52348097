"""The export: the warehouse's serving tables into a validated, atomically published snapshot."""

import json
import os
import signal
import sqlite3
import subprocess
import sys

import duckdb
import pytest
from conftest import PROJECT_DIR, RUN_DATE

from serving.app import create_app
from serving.contract import SERVING_TABLES
from serving.documents import surface_body, unpack_hashes
from serving.snapshot import export, rollback, verify
from serving.store import Store
from serving.warehouse import DuckDBWarehouse, ExportError
from tunesday.bloom import track_hashes
from tunesday.warehouse import connect as connect_warehouse


def run_export(warehouse, store: Store, run_date: str = RUN_DATE, keep: int = 3) -> dict:
    source = DuckDBWarehouse(str(warehouse.duckdb_path))
    try:
        return export(source, store, run_date, keep=keep, progress=lambda line: None)
    finally:
        source.close()


def test_export_publishes_what_the_warehouse_holds(warehouse, tmp_path):
    store = Store(tmp_path)
    manifest = run_export(warehouse, store)
    assert store.current()["snapshot_id"] == manifest["snapshot_id"] and manifest["run_date"] == RUN_DATE
    verify(store, manifest)
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        for table, rows in manifest["row_counts"].items():
            assert rows == con.execute(f"select count(*) from {table}").fetchone()[0] > 0, table
        [(user_id,)] = con.execute("select min(user_id) from serving_recommendations").fetchall()
        expected = [
            row[0]
            for row in con.execute(
                "select track_id from serving_recommendations where user_id = ? and surface = 'discover_weekly' "
                "order by surface_position",
                [user_id],
            ).fetchall()
        ]
    with sqlite3.connect(store.current()["path"]) as con:
        [(document, item_ends)] = con.execute(
            "select body, item_ends from surfaces where user_id = ? and surface = 'discover_weekly'", [user_id]
        ).fetchall()
        tracks = dict(con.execute("select track_id, fields from tracks").fetchall())
    body = json.loads(document)
    first_five = json.loads(surface_body(document, item_ends, 5))
    assert first_five == {**body, "items": body["items"][:5]}
    assert body["user_id"] == user_id and body["run_date"] == RUN_DATE
    assert [item["track_id"] for item in body["items"]] == expected and len(expected) == 30
    assert [item["position"] for item in body["items"]] == list(range(1, 31))
    assert all(item["reasons"] and item["track_name"] and item["artist_name"] for item in body["items"])
    # Every track of every document has its display fields, rendered as valid JSON; every pool track
    # its Bloom hashes.
    with sqlite3.connect(store.current()["path"]) as con:
        listed = set()
        for track_ids, pool_track_ids, packed in con.execute(
            "select track_ids, pool_track_ids, pool_hashes from playlists"
        ):
            pool = pool_track_ids.split("\n") if pool_track_ids else []
            listed.update(track_ids.split("\n"), pool)
            hashes = unpack_hashes(packed)
            assert list(zip(hashes[0::2], hashes[1::2])) == [track_hashes(track_id) for track_id in pool]
        assert listed <= tracks.keys()
        for track_id, fields in tracks.items():
            assert json.loads(b"{" + fields)["track_id"] == track_id
    # The export closed the DuckDB file: dbt can take the write lock again.
    duckdb.connect(str(warehouse.duckdb_path)).close()


def test_a_failed_export_publishes_nothing(warehouse, tmp_path):
    store = Store(tmp_path)
    good = run_export(warehouse, store)
    with pytest.raises(ExportError, match="not 2001-01-01"):
        run_export(warehouse, store, run_date="2001-01-01")
    assert store.current()["snapshot_id"] == good["snapshot_id"]
    assert not list(store.snapshots.glob("*.partial"))


#: An export whose warehouse pauses when the export validates the snapshot it has written (and
#: not yet published), saying so on stdout: the test kills it there.
PAUSING_EXPORT = """
import sys, time
from pathlib import Path
from serving.snapshot import export
from serving.store import Store
from serving.warehouse import DuckDBWarehouse

class PausingWarehouse(DuckDBWarehouse):
    def count(self, table):
        print("paused", flush=True)
        time.sleep(60)
        return super().count(table)

export(PausingWarehouse(sys.argv[1]), Store(Path(sys.argv[2])), sys.argv[3], progress=lambda line: None)
"""


def test_an_export_killed_midway_leaves_the_published_snapshot_intact(warehouse, tmp_path):
    store = Store(tmp_path)
    good = run_export(warehouse, store)
    process = subprocess.Popen(
        [sys.executable, "-c", PAUSING_EXPORT, str(warehouse.duckdb_path), str(tmp_path), RUN_DATE],
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline() == "paused\n", "the export never got to validating"
        assert [path.stat().st_size > 0 for path in store.snapshots.glob("*.partial")] == [True]
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert store.current()["snapshot_id"] == good["snapshot_id"]
    verify(store, store.current())
    # The next export clears the leftover and publishes.
    newer = run_export(warehouse, store)
    assert store.current()["snapshot_id"] == newer["snapshot_id"] != good["snapshot_id"]
    assert not list(store.snapshots.glob("*.partial"))


def test_keeps_the_last_snapshots_and_rolls_back(warehouse, tmp_path):
    store = Store(tmp_path)
    ids = [run_export(warehouse, store, keep=2)["snapshot_id"] for _ in range(3)]
    assert [m["snapshot_id"] for m in store.published()] == ids[:0:-1]
    assert rollback(store)["snapshot_id"] == ids[1] == store.current()["snapshot_id"]
    with pytest.raises(ExportError, match="no older snapshot"):
        rollback(store)
    assert rollback(store, ids[2])["snapshot_id"] == ids[2]
    with pytest.raises(ExportError, match="no snapshot"):
        rollback(store, ids[0])


def test_cli_reports_errors_in_one_line(tmp_path):
    env = {
        **os.environ,
        "TUNESDAY_DUCKDB_PATH": str(tmp_path / "missing.duckdb"),
        "TUNESDAY_SERVING_STORE": str(tmp_path / "store"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "serving.cli", "export", "--run-date", RUN_DATE],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and result.stderr.startswith("tunesday-serving export:")


class HandMadeWarehouse:
    """Serving tables with their dbt contracts' columns (serving/contract.py) in an in-memory DuckDB,
    holding rows written by hand: rows the models never produce."""

    def __init__(
        self,
        recommendations: list[tuple],
        pools: list[tuple],
        tracks_per_recommendation: int = 3,
        contract: dict[str, dict[str, str]] = SERVING_TABLES,
    ) -> None:
        self.con = duckdb.connect()
        for table, columns in contract.items():
            self.con.execute(
                f"create table {table} ({', '.join(f'{name} {type_}' for name, type_ in columns.items())})"
            )
        self.con.execute(f"""
            insert into serving_users by name
                select 'usr_1' as user_id, 'SE' as country_code, 'free' as product_tier, date '{RUN_DATE}' as run_date;
            insert into serving_settings by name
                select {tracks_per_recommendation} as smart_shuffle_tracks_per_recommendation,
                    date '{RUN_DATE}' as run_date;
            insert into serving_playlist_tracks by name
                select 'pl_1' as playlist_id, 'usr_1' as owner_user_id, 'Mine' as playlist_name,
                    position as playlist_position, 'trk_' || position as track_id, date '{RUN_DATE}' as run_date
                from range(1, 7) as positions(position);
            insert into serving_tracks by name
                select 'trk_' || position as track_id, 'Song' as track_name, 'art_1' as artist_id,
                    'Artist' as artist_name, 'Album' as album_name, 200000 as duration_ms, 120.0 as tempo_bpm,
                    '8B' as camelot_code, date '{RUN_DATE}' as run_date
                from range(1, 7) as positions(position);
            insert into serving_tracks by name
                select track_id, 'Song "A"' as track_name, 'art_1' as artist_id, 'Art\\ist' as artist_name,
                    'Album' as album_name, 200000 as duration_ms, 120.0 as tempo_bpm, '8B' as camelot_code,
                    date '{RUN_DATE}' as run_date
                from (values ('trk_8'), ('trk_9')) as awkward(track_id);
        """)
        for position, surface, reasons, seed_id in recommendations:
            self.con.execute(
                f"""
                insert into serving_recommendations by name
                select 'usr_1' as user_id, ? as surface, ? as surface_position, 'trk_9' as track_id, 0.5 as score,
                    true as is_new_artist, ? as reason_codes, 'track' as seed_type, ? as seed_id,
                    date '{RUN_DATE}' as week_start, date '{RUN_DATE}' as run_date""",
                [surface, position, reasons, seed_id],
            )
        for rank, reasons, seed_track_id in pools:
            self.con.execute(
                f"""
                insert into serving_smart_shuffle_pools by name
                select 'pl_1' as playlist_id, 'usr_1' as owner_user_id, ? as pool_rank, 'trk_8' as track_id,
                    0.25 as score, ? as reason_codes, ? as seed_track_id, date '{RUN_DATE}' as run_date""",
                [rank, reasons, seed_track_id],
            )

    def count(self, table: str) -> int:
        return self.con.execute(f"select count(*) from {table}").fetchone()[0]

    def relations(self):
        return self.con

    def close(self) -> None:
        self.con.close()


def test_rendered_items_escape_what_json_must(tmp_path):
    """Items are rendered by concatenation: every string in them still goes through JSON escaping."""
    awkward = 'x"y\\z\tw'
    source = HandMadeWarehouse(
        recommendations=[
            (1, "discover_weekly", f"similar_artists:{awkward},new_artist", awkward),
            (1, "for_you", "", None),
        ],
        pools=[(1, f"playlist_neighbours:{awkward}", awkward), (2, None, "trk_1")],
    )
    store = Store(tmp_path)
    export(source, store, RUN_DATE, progress=lambda line: None)
    with sqlite3.connect(store.current()["path"]) as con:
        [(body, _)] = con.execute("select body, item_ends from surfaces").fetchall()
        [(items, track_ids)] = con.execute("select items, track_ids from surface_parts").fetchall()
        [(pool_items,)] = con.execute("select pool_items from playlists").fetchall()
        [(fields,)] = con.execute("select fields from tracks where track_id = 'trk_9'").fetchall()
    [item] = json.loads(body)["items"]
    assert item["reasons"] == [f"similar_artists:{awkward}", "new_artist"]
    assert item["seed"] == {"type": "track", "id": awkward} and item["track_name"] == 'Song "A"'
    assert json.loads(items + fields) == {
        "position": 1,
        "score": 0.5,
        "is_new_artist": True,
        "reasons": [],
        "seed": {"type": "track", "id": None},
        **json.loads(b"{" + fields),
    }
    first, second = (json.loads("{" + line.decode() + '"track_id":"trk_8"}') for line in pool_items.split(b"\n"))
    assert first["reasons"] == [f"playlist_neighbours:{awkward}"] and first["seed_track_id"] == awkward
    assert second == {"recommended": True, "score": 0.25, "reasons": [], "seed_track_id": "trk_1", "track_id": "trk_8"}


@pytest.mark.parametrize(
    "recommendations, pools, what",
    [
        (
            [(1, "discover_weekly", "a", "s"), (1, "discover_weekly", "b", "s")],
            [],
            "positions of usr_1's discover_weekly",
        ),
        ([(1, "for_you", "a", "s"), (3, "for_you", "b", "s")], [], "positions of usr_1's for_you"),
        ([], [(1, "a", "s"), (3, "a", "s")], "positions of playlist pl_1"),
        ([], [(2, "a", "s")], "positions of playlist pl_1"),
    ],
)
def test_positions_must_run_from_one_without_gaps_or_repeats(tmp_path, recommendations, pools, what):
    store = Store(tmp_path)
    with pytest.raises(ExportError, match=f"contract violated: the {what} are not"):
        export(HandMadeWarehouse(recommendations, pools), store, RUN_DATE, progress=lambda line: None)
    assert store.current() is None and not list(store.snapshots.glob("*.sqlite*"))


def test_an_export_refuses_tables_that_break_their_dbt_contract(tmp_path):
    store = Store(tmp_path)
    contract = {**SERVING_TABLES, "serving_tracks": {**SERVING_TABLES["serving_tracks"], "duration_ms": "INTEGER"}}
    with pytest.raises(ExportError, match="contract violated: serving_tracks has columns .*duration_ms INTEGER"):
        export(HandMadeWarehouse([], [], contract=contract), store, RUN_DATE, progress=lambda line: None)
    assert store.current() is None


def test_smart_shuffle_takes_its_interval_from_the_warehouse(tmp_path):
    """serving_settings travels with the data: a warehouse built for one recommendation after every
    two tracks gets Smart Shuffle's recommendations at positions 3, 6 and 9."""
    pool = [(rank, "playlist_neighbours:trk_1", "trk_1") for rank in (1, 2, 3)]
    manifest = export(
        HandMadeWarehouse([], pool, tracks_per_recommendation=2), Store(tmp_path), RUN_DATE, progress=lambda line: None
    )
    assert manifest["settings"] == {"smart_shuffle_tracks_per_recommendation": 2}
    client = create_app({"SERVING_STORE": str(tmp_path)}).test_client()
    items = client.get("/v1/users/usr_1/playlists/pl_1/smart-shuffle?seed=1").get_json()["items"]
    assert [item["position"] for item in items if item["recommended"]] == [3, 6, 9]


@pytest.mark.parametrize(
    "update, violation",
    [
        (
            "set experiment_id = 'exp_1', variant = 'v_' || surface_position",
            "rows of more than one experiment or variant",
        ),
        ("set experiment_id = 'exp_1'", "an experiment without a variant"),
    ],
)
def test_a_surface_has_one_experiment_and_variant_or_none(tmp_path, update, violation):
    """The shim tells a listener which variant ordered a surface (one per surface), so the export
    refuses a surface whose rows disagree, or an experiment without its variant."""
    source = HandMadeWarehouse([(1, "for_you", "a", "s"), (2, "for_you", "b", "s")], [])
    source.con.execute(f"update serving_recommendations {update}")
    store = Store(tmp_path)
    with pytest.raises(ExportError, match=f"contract violated: .*{violation}"):
        export(source, store, RUN_DATE, progress=lambda line: None)
    assert store.current() is None


def test_a_surface_ordered_by_a_variant_says_so(tmp_path):
    """The experiment and variant travel with the surface into the snapshot and the response, and
    go through JSON escaping."""
    source = HandMadeWarehouse([(1, "for_you", "a", "s"), (1, "discover_weekly", "a", "s")], [])
    source.con.execute("""update serving_recommendations set experiment_id = 'exp "1"', variant = 'v\\1'""")
    export(source, Store(tmp_path), RUN_DATE, progress=lambda line: None)
    client = create_app({"SERVING_STORE": str(tmp_path)}).test_client()
    for url in ("/v1/users/usr_1/recommendations?surface=for_you", "/v1/users/usr_1/discover-weekly"):
        assert client.get(url).get_json()["experiment"] == {"id": 'exp "1"', "variant": "v\\1"}, url
