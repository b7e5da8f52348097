"""The fitted generators' Python step (tunesday/recsys/fitted.py) on both engines: on a DuckDB
warehouse and on the BigQuery emulator, the same keys give the same candidate tables, each list
ranked by score, no track of the playlist itself, only the short playlists continued."""

import numpy as np
import pytest

pytest.importorskip("implicit", reason="the recsys extra is not installed")

import pyarrow as pa  # noqa: E402

from tunesday.recsys import fitted  # noqa: E402
from tunesday.recsys.cli import main as recsys  # noqa: E402

MAX_SEEDS = 5
DEPTH = 20


def keys_table() -> pa.Table:
    """int_playlist_track_keys of 300 playlists over 200 tracks in 4 clusters, a third of them
    short (at most MAX_SEEDS tracks): what the continuations are fitted on."""
    rng = np.random.default_rng(0)
    rows = []
    for playlist in range(300):
        cluster = playlist % 4
        size = int(rng.integers(2, MAX_SEEDS + 1)) if playlist % 3 == 0 else int(rng.integers(8, 20))
        tracks = sorted(set((cluster * 50 + rng.integers(0, 50, size)).tolist()))
        rows += [(playlist + 1, track + 1, f"pl{playlist:04d}", f"tr{track:04d}", len(tracks)) for track in tracks]
    keys = pa.table(
        {
            name: [row[n] for row in rows]
            for n, name in enumerate(["playlist_key", "track_key", "playlist_id", "track_id", "playlist_track_count"])
        }
    )
    # track_keys must be 1..n in id order: renumber the tracks that occur.
    used = sorted(set(keys.column("track_key").to_pylist()))
    renumbered = {old: new for new, old in enumerate(used, 1)}
    return keys.set_column(1, "track_key", pa.array([renumbered[k] for k in keys.column("track_key").to_pylist()]))


def check(tables: dict, keys: pa.Table) -> None:
    held = {}
    for playlist, track, size in zip(
        *(keys.column(c).to_pylist() for c in ("playlist_id", "track_id", "playlist_track_count"))
    ):
        held.setdefault(playlist, (size, set()))[1].add(track)
    short = {playlist for playlist, (size, _) in held.items() if size <= MAX_SEEDS}
    for model, table in tables.items():
        rows = table.to_pylist()
        assert {row["playlist_id"] for row in rows} == short, model
        for playlist in short:
            mine = sorted(
                (row for row in rows if row["playlist_id"] == playlist), key=lambda row: row["candidate_rank"]
            )
            assert [row["candidate_rank"] for row in mine] == list(range(1, len(mine) + 1))
            assert len(mine) == DEPTH
            assert all(a["score"] >= b["score"] for a, b in zip(mine, mine[1:])), (model, playlist)
            assert not {row["track_id"] for row in mine} & held[playlist][1], (model, playlist)
            # The clusters are learnt: most candidates come from the playlist's own cluster.
            cluster = int(playlist[2:]) % 4
            own = sum(cluster * 50 < int(row["track_id"][2:]) <= cluster * 50 + 50 for row in mine[:10])
            assert own >= 7, (model, playlist, own)


def test_the_step_writes_the_same_tables_on_duckdb_and_bigquery(tmp_path):
    import duckdb

    keys = keys_table()
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema tunesday_intermediate")
        con.register("keys", keys)
        con.execute("create table tunesday_intermediate.int_playlist_track_keys as select * from keys")
    assert (
        recsys(["fit-generators", "--duckdb", str(path), "--max-seed-tracks", str(MAX_SEEDS), "--depth", str(DEPTH)])
        == 0
    )
    with duckdb.connect(str(path)) as con:
        on_duckdb = {model: con.sql(f"select * from {fitted.table(model)}").to_arrow_table() for model in fitted.MODELS}
    check(on_duckdb, keys)

    from ci.emulator import EMULATOR_PROJECT, EMULATOR_VENV, running_emulator
    from tunesday.load.bigquery import load_arrow, make_client

    if not (EMULATOR_VENV / "bin" / "bqemulator").exists():
        pytest.skip(f"BigQuery emulator not installed in {EMULATOR_VENV} (make .venv-bqemu/.installed)")
    with running_emulator(tmp_path / "bqemulator") as endpoint:
        client = make_client(EMULATOR_PROJECT, endpoint)
        for dataset in ("fit_intermediate", "fit_recsys"):
            client.create_dataset(f"{EMULATOR_PROJECT}.{dataset}")
        load_arrow(client, keys, f"{EMULATOR_PROJECT}.fit_intermediate.int_playlist_track_keys")
        # Twice: the second run replaces the tables, it does not append to them.
        for _ in range(2):
            written = fitted.write_fitted_candidates_bigquery(client, "fit", DEPTH, MAX_SEEDS)
        on_bigquery = {
            model: client.query(f"select * from `{EMULATOR_PROJECT}.fit_recsys.playlist_{model}_candidates`").to_arrow()
            for model in fitted.MODELS
        }
    assert written.rows == {model: table.num_rows for model, table in on_duckdb.items()}
    check(on_bigquery, keys)
    for model in fitted.MODELS:
        order = [("playlist_id", "ascending"), ("candidate_rank", "ascending")]
        duck, bq = on_duckdb[model].sort_by(order), on_bigquery[model].sort_by(order)
        assert duck.column("track_id").to_pylist() == bq.column("track_id").to_pylist(), model
        assert np.allclose(duck.column("score").to_numpy(), bq.column("score").to_numpy(), rtol=1e-6), model


def test_bigquery_without_a_target_is_one_line(capsys, monkeypatch):
    monkeypatch.setenv("TUNESDAY_TARGET", "dev")
    assert recsys(["fit-generators", "--bigquery"]) == 1
    assert capsys.readouterr().err.strip() == (
        "tunesday-recsys fit-generators: --bigquery needs TUNESDAY_TARGET=bigquery or bq_emulator"
    )
