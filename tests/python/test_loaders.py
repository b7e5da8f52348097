"""tunesday-load: real export formats into the raw contract, on DuckDB and on the BigQuery emulator.

Always on: hand-made fixtures in tests/fixtures/loaders/, laid out under their real names in a
temporary folder (the repository keeps them under other names: real names are for real data).
On the real files in ../shared/data when present (skipped otherwise).
"""

import datetime as dt
import gzip
import hashlib
import json
import shutil
import unicodedata
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import PROJECT_DIR

from tunesday import mpd
from tunesday.contract import RECORDS, SCHEMAS
from tunesday.load import ids
from tunesday.load.cli import load, main
from tunesday.load.runner import record_json
from tunesday.load.stores import LEDGER_TABLE, SET_ASIDE_SCHEMA, SET_ASIDE_TABLE

FIXTURES = PROJECT_DIR / "tests" / "fixtures" / "loaders"
LISTENER = "fixture_listener"
RICK, JUDE, KILLERS = "4uLU6hMCjMI75M1A2tKUQC", "0aym2LBJBk9DAYuHHutrIl", "3n3Ppam7vgaVa1iaRUc9Lp"
SHAPE, WEEKND, ROOM_TONE = "7qiZfU4dY1lWllzX7mPBI3", "0VjIjW4GlUZAMYd2vXMi3b", "6Y0GwzyqxkDDnvtSF4pGqn"


@pytest.fixture
def inputs(tmp_path) -> Path:
    """The fixtures under the names real exports have."""
    root = tmp_path / "inputs"
    for name, target in [
        ("history_plays.json", f"history/{LISTENER}/Streaming_History_Audio_2024.json"),
        ("history_truncated.json", f"history/{LISTENER}/Streaming_History_Audio_2025.json"),
        ("mpd_slice_0-1.json", "mpd/mpd.slice.0-1.json"),
        ("mpd_slice_2-2.json.gz", "mpd/mpd.slice.2-2.json.gz"),
        ("features_catalog.csv", "features/catalog_features.csv"),
        ("features_api.csv", "features/api_features.csv"),
    ]:
        (root / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / name, root / target)
    return root


def run(*argv, raw_dir: Path):
    lines = []
    report = load([*map(str, argv), "--raw-dir", str(raw_dir)], echo=lines.append)
    return report, lines


def rows(raw_dir: Path, table: str, loaded_at: bool = False) -> list[dict]:
    """A contract table's rows as loaded; without when they were loaded, unless asked."""
    files = sorted((raw_dir / table).glob("*.parquet"))
    if not files:
        return []
    columns = SCHEMAS[table].names if loaded_at else RECORDS[table].names
    return pq.ParquetDataset(files).read(columns=columns).to_pylist()


def snapshot(raw_dir: Path) -> dict[str, str]:
    return {
        str(p.relative_to(raw_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(raw_dir.rglob("*"))
        if p.is_file()
    }


def load_all(inputs: Path, raw_dir: Path) -> dict:
    return {
        "history": run("spotify-history", inputs / "history" / LISTENER, raw_dir=raw_dir),
        "mpd": run("mpd", inputs / "mpd", raw_dir=raw_dir),
        "features": run("audio-features", inputs / "features", raw_dir=raw_dir),
    }


# --- Spotify extended streaming history ------------------------------------------------------


def test_history_loads_music_and_sets_aside_the_rest(inputs, tmp_path):
    raw = tmp_path / "raw"
    report, lines = run("spotify-history", inputs / "history" / LISTENER, raw_dir=raw)
    good, bad = report.files
    assert bad.status == "failed" and "not valid JSON" in bad.error  # the malformed file
    assert good.status == "loaded" and good.records == 10
    assert good.set_aside == {"podcast_episode": 1, "audiobook": 1, "private_session": 1, "not_an_object": 1}
    assert good.written == {"artists": 3, "tracks": 3, "users": 1, "listening_events": 6}
    assert good.notes["zero_ms_played"] == 1 and good.notes["unparseable_ts"] == 1
    # Loaded with rejections (the malformed file, the record that is not an object): exit status 3.
    assert report.exit_code == 3 and any("FAILED" in line for line in lines)

    events = rows(raw, "listening_events")
    assert {e["user_id"] for e in events} == {LISTENER}
    # ts is when playback ended: played_at = ts - ms_played.
    rick = next(e for e in events if e["track_id"] == RICK and e["ms_played"] == 213573)
    assert rick["played_at"].isoformat() == "2024-03-01T09:59:59.427000"  # 10:03:33 - 213.573 s
    # The exact duplicate is loaded with the same event id (staging counts it as a duplicate).
    jude = [e for e in events if e["track_id"] == JUDE]
    assert len(jude) == 2 and jude[0]["event_id"] == jude[1]["event_id"]
    assert len({e["event_id"] for e in events}) == 5
    # ms_played = 0 is a play; the unparseable row is loaded with nulls for staging to reject.
    assert any(e["ms_played"] == 0 and e["skipped"] for e in events)
    broken = next(e for e in events if e["played_at"] is None)
    assert broken["ms_played"] is None and broken["track_id"] is None and broken["shuffle"] is None
    assert {e["platform"] for e in events} == {"android", "ios", "web", "smart_speaker", None}
    assert {e["country"] for e in events} == {"GB", None}  # ZZ is Spotify's unknown
    assert all(e["context_type"] is None for e in events)

    assert rows(raw, "users") == [{"user_id": LISTENER, "country": "GB", "signup_date": None, "product_tier": None}]
    tracks = {t["track_id"]: t for t in rows(raw, "tracks")}
    assert set(tracks) == {RICK, JUDE, KILLERS}
    assert tracks[JUDE]["artist_id"] == "art_" + hashlib.md5(b"the beatles").hexdigest()[:16]
    assert tracks[JUDE]["album_name"] == "1 (Remastered)" and tracks[JUDE]["tempo"] is None
    assert {a["artist_name"] for a in rows(raw, "artists")} == {"Rick Astley", "The Beatles", "The Killers"}


def test_ip_addresses_are_never_written(inputs, tmp_path):
    raw = tmp_path / "raw"
    run("spotify-history", inputs / "history" / LISTENER, raw_dir=raw)
    set_aside = pq.ParquetDataset(sorted(raw.glob("_set_aside/*/*.parquet"))).read()
    assert set_aside.schema.equals(SET_ASIDE_SCHEMA)
    assert any(json.loads(r)["episode_name"] for r in set_aside["record"].to_pylist() if r.startswith('{"ts'))
    assert "ip_addr" not in record_json({"error": "x", "record": {"ip_addr": "192.0.2.1", "ts": "t"}})
    for path in raw.rglob("*"):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            assert "ip_addr" not in table.column_names
            assert "192.0.2.1" not in json.dumps(table.to_pylist(), default=str), path
        elif path.is_file():
            assert b"192.0.2.1" not in path.read_bytes(), path


def test_user_id_option_and_folder_of_listeners(inputs, tmp_path):
    report, _ = run(
        "spotify-history", inputs / "history" / LISTENER, "--user-id", "usr_someone", raw_dir=tmp_path / "a"
    )
    assert {e["user_id"] for e in rows(tmp_path / "a", "listening_events")} == {"usr_someone"}
    # A folder of listener folders: each folder's name is its listener.
    second = inputs / "history" / "Second Listener!"
    second.mkdir()
    shutil.copy(FIXTURES / "history_plays.json", second / "Streaming_History_Audio_2024.json")
    report, _ = run("spotify-history", inputs / "history", raw_dir=tmp_path / "b")
    assert {u["user_id"] for u in rows(tmp_path / "b", "users")} == {"Second_Listener_", LISTENER}
    with pytest.raises(SystemExit):
        load(["spotify-history", str(inputs / "history"), "--user-id", "x y"])
    report, lines = run("spotify-history", inputs / "history", "--user-id", "usr_one", raw_dir=tmp_path / "c")
    assert report.exit_code == 1 and "several listener folders" in lines[0]


def test_overlapping_export_writes_only_new_plays(inputs, tmp_path):
    raw = tmp_path / "raw"
    run("spotify-history", inputs / "history" / LISTENER, raw_dir=raw)
    plays = json.loads((FIXTURES / "history_plays.json").read_text())
    new_play = {**plays[0], "ts": "2024-03-05T10:03:33Z"}
    later = inputs / "later" / LISTENER
    later.mkdir(parents=True)
    (later / "Streaming_History_Audio_2024_1.json").write_text(json.dumps(plays + [new_play]))
    report, _ = run("spotify-history", later, raw_dir=raw)
    [file_report] = report.files
    assert file_report.written == {"listening_events": 1}
    assert file_report.already_known == 6


# --- Million Playlist Dataset ----------------------------------------------------------------


def test_mpd_plain_and_gzipped_slices(inputs, tmp_path):
    raw = tmp_path / "raw"
    report, _ = run("mpd", inputs / "mpd", FIXTURES / "bad_mpd_slice.json", raw_dir=raw)
    plain, gzipped, bad = report.files
    assert plain.status == gzipped.status == "loaded" and bad.status == "failed"
    # The reasons of the one MPD reader (tunesday.mpd.REASONS), as tunesday-recsys counts them.
    assert plain.set_aside == {"bad_pid": 1, "bad_track": 1}
    assert plain.notes == {"bad_track_uri": 1}
    assert "not a whole MPD slice" in bad.error
    assert report.exit_code == 3

    playlists = {p["playlist_id"]: p for p in rows(raw, "playlists")}
    assert set(playlists) == {"pl_mpd_0", "pl_mpd_1", "pl_mpd_2"}
    assert playlists["pl_mpd_0"]["created_at"].isoformat() == "2017-04-29T00:00:00"
    assert playlists["pl_mpd_1"]["created_at"] is None
    assert playlists["pl_mpd_2"]["playlist_name"] == "Chill \U0001f30a"
    assert {p["owner_user_id"] for p in playlists.values()} == {"usr_mpd"}
    assert [u["user_id"] for u in rows(raw, "users")] == ["usr_mpd"]

    positions = sorted((t["playlist_id"], t["position"], t["track_id"]) for t in rows(raw, "playlist_tracks"))
    # The repeated track keeps both positions; the local file has no track id (staging rejects it).
    assert positions[:3] == [("pl_mpd_0", 0, RICK), ("pl_mpd_0", 1, SHAPE), ("pl_mpd_0", 2, RICK)]
    assert ("pl_mpd_1", 2, None) in positions
    tracks = {t["track_id"]: t for t in rows(raw, "tracks")}
    assert set(tracks) == {RICK, SHAPE, JUDE, WEEKND, KILLERS}
    assert tracks[RICK]["duration_ms"] == 213573
    assert tracks[RICK]["album_id"] == ids.album_id("rick astley", "Whenever You Need Somebody")
    # The same artist spelled "THE  Beatles" here and "The Beatles" in a history is one artist.
    assert tracks[JUDE]["artist_id"] == ids.artist_id("The Beatles")
    artists = rows(raw, "artists")
    assert len(artists) == len({a["artist_id"] for a in artists}) == 5


def test_mpd_loader_and_recsys_harness_name_bad_records_alike(tmp_path):
    """The harness's fixture through the loader: the same words, each consumer its own policy."""
    slice_path = tmp_path / "mpd" / "mpd.slice.0-5.json"
    slice_path.parent.mkdir()
    shutil.copy(PROJECT_DIR / "tests" / "fixtures" / "recsys" / "playlists_0-5.json", slice_path)
    report, _ = run("mpd", slice_path, raw_dir=tmp_path / "raw")
    [loaded] = report.files
    # set aside: what cannot be a row; noted and loaded as null: a bad uri; gaps, order and repeated
    # pids are staging's to judge
    assert loaded.set_aside == {"bad_pid": 1, "not_an_object": 1}
    assert loaded.notes == {"bad_track_uri": 1}
    stats = mpd.ReadStats()
    list(mpd.read_playlists([slice_path], stats))
    assert set(stats.skipped) | set(loaded.set_aside) | set(loaded.notes) <= set(mpd.REASONS)
    assert set(loaded.set_aside) | set(loaded.notes) <= set(stats.skipped)


def test_mpd_same_playlists_in_a_gzipped_copy_load_nothing_new(inputs, tmp_path):
    raw = tmp_path / "raw"
    run("mpd", inputs / "mpd" / "mpd.slice.0-1.json", raw_dir=raw)
    copy = tmp_path / "copy" / "mpd.slice.0-1.json.gz"
    copy.parent.mkdir()
    copy.write_bytes(gzip.compress((inputs / "mpd" / "mpd.slice.0-1.json").read_bytes()))
    before = snapshot(raw)
    report, _ = run("mpd", copy, raw_dir=raw)
    [file_report] = report.files
    assert file_report.status == "loaded" and file_report.written == {}
    assert file_report.already_known == 8  # 2 playlists, 6 tracks (2 records set aside)
    assert {k: v for k, v in snapshot(raw).items() if not k.startswith("_")} == {
        k: v for k, v in before.items() if not k.startswith("_")
    }


# --- Audio features --------------------------------------------------------------------------


def test_audio_features_id_variants_key_minus_one_and_set_aside(inputs, tmp_path):
    raw = tmp_path / "raw"
    run("spotify-history", inputs / "history" / LISTENER, raw_dir=raw)  # knows Rick, Jude, Killers
    history_rows = len(rows(raw, "tracks"))
    report, _ = run("audio-features", inputs / "features", FIXTURES / "bad_features_no_id.csv", raw_dir=raw)
    api, catalog, bad = report.files
    assert bad.status == "failed" and "no track id column" in bad.error
    # The Weeknd's features name no artist, and the contract does not know the track yet.
    assert api.set_aside == {"missing_track_id": 1, "new_track_without_artist": 1}
    assert api.written == {"tracks": 2}
    assert catalog.set_aside == {"missing_track_id": 1, "bad_track_id": 1}
    assert catalog.notes == {"unparseable_value": 1}
    assert catalog.written == {"artists": 2, "tracks": 3}
    # The same track twice with identical features is one row.
    assert catalog.already_known == 1
    written = pq.ParquetDataset(sorted(raw.glob("tracks/audio-features-*.parquet"))).read().to_pylist()
    tracks = {t["track_id"]: t for t in written}
    assert len(written) == len(tracks) == 5 and len(rows(raw, "tracks")) == history_rows + 5
    assert tracks[ROOM_TONE]["key"] == -1 and tracks[ROOM_TONE]["mode"] == 0
    assert tracks[ROOM_TONE]["time_signature"] == 4 and tracks[ROOM_TONE]["genre"] == "ambient"
    assert tracks[ROOM_TONE]["artist_id"] == ids.artist_id("quiet artist")
    assert tracks[RICK]["duration_ms"] == 213573 and tracks[RICK]["popularity"] == 78
    assert tracks[SHAPE]["danceability"] is None and tracks[SHAPE]["popularity"] is None
    # A spotify:track: URI and an open.spotify.com link give the track id (and the names stay).
    assert {KILLERS, JUDE} <= set(tracks) and WEEKND not in tracks
    assert tracks[JUDE]["tempo"] == 147.207 and tracks[JUDE]["track_name"] == "Hey Jude"


def test_audio_features_enrich_what_is_known_and_never_blank_it(inputs, tmp_path):
    raw = tmp_path / "raw"
    run("spotify-history", inputs / "history" / LISTENER, raw_dir=raw)
    run("audio-features", inputs / "features", raw_dir=raw)
    latest = {}
    for track in rows(raw, "tracks"):  # rows of one track only grow: keep the fullest
        if sum(v is not None for v in track.values()) >= sum(
            v is not None for v in latest.get(track["track_id"], {}).values()
        ):
            latest[track["track_id"]] = track
    rick = latest[RICK]
    assert rick["album_name"] == "Whenever You Need Somebody"  # from the history
    assert rick["artist_id"] == ids.artist_id("Rick Astley")
    assert rick["tempo"] == 113.309 and rick["energy"] == 0.939  # from the features
    # A later file with only a new tempo (and an empty energy) keeps every other field.
    report, _ = run("audio-features", FIXTURES / "features_tempo_only.csv", raw_dir=raw)
    assert report.files[0].written == {"tracks": 1}
    newest = [t for t in rows(raw, "tracks") if t["track_id"] == RICK and t["tempo"] == 114.0]
    assert len(newest) == 1
    assert {k: v for k, v in newest[0].items() if k != "tempo"} == {k: v for k, v in rick.items() if k != "tempo"}
    # Every row written is the fullest row of its track so far: one row per track has all it knows.
    artists = {a["artist_id"] for a in rows(raw, "artists")}
    assert all(t["artist_id"] in artists for t in rows(raw, "tracks"))


# --- All loaders: contract schema, idempotency, exit status ---------------------------------


def test_written_parquet_has_the_contract_schema_and_new_names(inputs, tmp_path):
    raw = tmp_path / "raw"
    load_all(inputs, raw)
    tables = {p.parent.name for p in raw.glob("*/*.parquet") if not p.parent.name.startswith("_")}
    assert tables == set(SCHEMAS)  # follows and saved_tracks: one empty file each
    assert pq.read_table(raw / "follows" / "empty.parquet").num_rows == 0
    for path in raw.glob("*/*.parquet"):
        if not path.parent.name.startswith("_"):
            assert pq.read_schema(path).equals(SCHEMAS[path.parent.name]), path
            assert path.name.split("-")[0] in {"spotify", "mpd", "audio", "empty.parquet"}, path
    # The warehouse's raw views read the same folders the same way.
    con = duckdb.connect()
    [(count,)] = con.sql(f"select count(*) from read_parquet('{raw}/listening_events/*.parquet')").fetchall()
    assert count == 6
    # Every row is stamped with the time of its file's ledger entry: when it was loaded.
    ledger = {
        dt.datetime.fromisoformat(json.loads(line)["loaded_at"])
        for line in (raw / "_loads" / "ledger.jsonl").read_text().splitlines()
    }
    stamps = {row["loaded_at"] for table in SCHEMAS for row in rows(raw, table, loaded_at=True)}
    assert stamps and stamps <= ledger


def test_a_raw_folder_with_files_from_before_loaded_at_still_loads(inputs, tmp_path):
    """A file written before the contract had loaded_at (a track the history plays) is read with
    it null beside newer files: the history's plays match the track, the audio features look up
    tracks in old and new files, and only the new rows carry a load time."""
    raw = tmp_path / "raw"
    (raw / "tracks").mkdir(parents=True)
    old_track = {"track_id": RICK, "track_name": "Never Gonna Give You Up", "artist_id": ids.artist_id("Rick Astley")}
    pq.write_table(pa.Table.from_pylist([old_track], schema=RECORDS["tracks"]), raw / "tracks" / "old.parquet")
    for command, path in [("spotify-history", inputs / "history" / LISTENER), ("audio-features", inputs / "features")]:
        report, lines = run(command, path, raw_dir=raw)  # the features look up old and new tracks files
        assert any(f.status == "loaded" for f in report.files), lines
    plays = rows(raw, "listening_events", loaded_at=True)
    assert plays and all(play["loaded_at"] is not None for play in plays)
    con = duckdb.connect()
    tracks = con.sql(
        f"select album_name, loaded_at from read_parquet('{raw}/tracks/*.parquet', union_by_name = true) "
        f"where track_id = '{RICK}'"
    ).fetchall()
    assert (None, None) in tracks  # the old row
    assert all(loaded_at is not None for album, loaded_at in tracks if album is not None)


def test_loading_the_same_files_twice_loads_nothing_new(inputs, tmp_path):
    raw = tmp_path / "raw"
    load_all(inputs, raw)
    before = snapshot(raw)
    again = load_all(inputs, raw)
    after = snapshot(raw)
    assert {k: v for k, v in after.items() if k != "_loads/ledger.jsonl"} == {
        k: v for k, v in before.items() if k != "_loads/ledger.jsonl"
    }
    for report, lines in again.values():
        assert all(f.status in {"already loaded", "failed"} for f in report.files), lines
        assert report.exit_code == (3 if any(f.status == "failed" for f in report.files) else 0)


def test_nothing_usable_exits_one_without_a_traceback(tmp_path, capsys):
    listener = tmp_path / "podcasts_only"
    listener.mkdir()
    plays = json.loads((FIXTURES / "history_plays.json").read_text())
    (listener / "Streaming_History_Audio_2024.json").write_text(json.dumps(plays[4:6]))
    (listener / "Streaming_History_Audio_2025.json").write_text("{not json")
    raw = tmp_path / "raw"
    assert main(["spotify-history", str(listener), "--raw-dir", str(raw)]) == 1
    assert main(["mpd", str(tmp_path / "missing"), "--raw-dir", str(raw)]) == 1
    assert main(["audio-features", str(FIXTURES / "bad_features_no_id.csv"), "--raw-dir", str(raw)]) == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    assert out.out.count("nothing usable found") == 3
    assert all(pq.read_table(p).num_rows == 0 for p in raw.glob("*/*.parquet") if not p.parent.name.startswith("_"))
    assert list(raw.glob("_set_aside/*/*.parquet"))


def test_artist_ids_are_the_normalised_name_hashed():
    assert ids.artist_id("  The  Beatles ") == ids.artist_id("the beatles") == ids.artist_id("THE BEATLES")
    name = unicodedata.normalize("NFD", "Beyoncé")
    assert ids.artist_id(name) == "art_" + hashlib.md5("beyoncé".encode()).hexdigest()[:16]
    assert ids.artist_id(None) is None and ids.artist_id("  ") is None
    assert ids.track_id("spotify:track:" + RICK) == ids.track_id(RICK) == RICK
    assert ids.track_id(f"https://open.spotify.com/intl-de/track/{RICK}?si=x") == RICK
    assert ids.track_id("spotify:episode:" + RICK) is None and ids.track_id("short") is None


# --- BigQuery (emulator) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    from ci.emulator import EMULATOR_VENV, running_emulator

    if not (EMULATOR_VENV / "bin" / "bqemulator").exists():
        pytest.skip(f"BigQuery emulator not installed in {EMULATOR_VENV} (make .venv-bqemu/.installed)")
    with running_emulator(tmp_path_factory.mktemp("bqemulator-loaders")) as endpoint:
        yield endpoint


def test_bigquery_load_jobs_count_and_idempotency(inputs, emulator, tmp_path):
    from ci.emulator import EMULATOR_PROJECT
    from tunesday.load.bigquery import make_client

    dataset = "loaders_raw"
    target = ["--bigquery", "--project", EMULATOR_PROJECT, "--dataset", dataset, "--endpoint", emulator]

    def load_everything():
        return [
            load([command, str(path), *target], echo=lambda line: None)
            for command, path in [
                ("spotify-history", inputs / "history" / LISTENER),
                ("mpd", inputs / "mpd"),
                ("audio-features", inputs / "features"),
            ]
        ]

    client = make_client(EMULATOR_PROJECT, emulator)

    def counts():
        return {
            table: next(
                iter(client.query(f"select count(*) as n from `{EMULATOR_PROJECT}.{dataset}.{table}`").result())
            )["n"]
            for table in [*SCHEMAS, LEDGER_TABLE, SET_ASIDE_TABLE]
        }

    first = load_everything()
    assert [r.exit_code for r in first] == [3, 3, 3]  # each fixture holds bad files or records
    loaded = counts()
    # The same rows as on DuckDB.
    duck = load_all(inputs, tmp_path / "raw")
    for table in SCHEMAS:
        assert loaded[table] == len(rows(tmp_path / "raw", table)), table
    assert loaded["listening_events"] == 6 and loaded["playlist_tracks"] == 8
    assert loaded[LEDGER_TABLE] == 5 and loaded[SET_ASIDE_TABLE] == 4 + 2 + 3
    assert duck["history"][0].files[0].written == first[0].files[0].written
    # Again: nothing new anywhere.
    second = load_everything()
    assert all(f.status in {"already loaded", "failed"} for r in second for f in r.files)
    assert counts() == loaded
    [(key, release)] = [
        (t["key"], t["release_date"])
        for t in client.query(
            f"select * from `{EMULATOR_PROJECT}.{dataset}.tracks` where track_id = '{ROOM_TONE}'"
        ).result()
    ]
    assert key == -1 and release is None
    # The store made the raw tables laid out for daily runs: plays by day of play, by listener.
    plays = client.get_table(f"{EMULATOR_PROJECT}.{dataset}.listening_events")
    assert plays.time_partitioning.field == "played_at" and plays.clustering_fields == ["user_id"]
    assert client.get_table(f"{EMULATOR_PROJECT}.{dataset}.tracks").clustering_fields == ["track_id"]


def test_raw_files_from_before_loaded_at_load_into_bigquery_with_it_null(inputs, emulator, tmp_path, capsys):
    """tunesday-load raw --bigquery: a raw folder whose files predate loaded_at loads with it null,
    as the DuckDB views read it; a file of another schema fails on one line of the report, the
    others load, and a rerun loads only what is new. The loaders' store adds loaded_at to a raw
    table made before it, and says how to partition it (made before the loaders partitioned
    plays by day)."""
    from google.cloud import bigquery

    from ci.emulator import EMULATOR_PROJECT
    from tunesday.load.bigquery import bigquery_fields, make_client

    raw, dataset = tmp_path / "raw", "old_raw"
    for table, schema in RECORDS.items():
        (raw / table).mkdir(parents=True)
        pq.write_table(schema.empty_table(), raw / table / "part-00000.parquet")
    play = {
        "event_id": "e1",
        "user_id": "u1",
        "track_id": "t1",
        "played_at": dt.datetime(2024, 3, 1, 10),
        "ms_played": 1,
    }
    pq.write_table(
        pa.Table.from_pylist([play], schema=RECORDS["listening_events"]),
        raw / "listening_events" / "part-00000.parquet",
    )
    target = ["--bigquery", "--project", EMULATOR_PROJECT, "--dataset", dataset, "--endpoint", emulator]
    assert main(["raw", str(raw), *target]) == 0
    client = make_client(EMULATOR_PROJECT, emulator)
    table = f"{EMULATOR_PROJECT}.{dataset}.listening_events"
    assert [tuple(row.values()) for row in client.query(f"select event_id, loaded_at from `{table}`").result()] == [
        ("e1", None)
    ]

    # The same file under another name (nothing new), a file of another schema and a new one.
    (raw / "listening_events" / "part-00000.parquet").rename(raw / "listening_events" / "part-00001.parquet")
    pq.write_table(pa.table({"event_id": ["e2"]}), raw / "listening_events" / "part-00000.parquet")
    pq.write_table(
        pa.Table.from_pylist([{**play, "event_id": "e3"}], schema=RECORDS["listening_events"]),
        raw / "listening_events" / "part-00002.parquet",
    )
    capsys.readouterr()
    assert main(["raw", str(raw), *target]) == 3
    out = capsys.readouterr().out
    [failed] = [line for line in out.splitlines() if "FAILED" in line]
    assert "part-00000.parquet: FAILED, does not match the raw contract of listening_events: columns event_id" in failed
    assert "part-00001.parquet: already loaded" in out
    assert sorted(row["event_id"] for row in client.query(f"select event_id from `{table}`").result()) == ["e1", "e3"]

    # A raw table made before loaded_at: the store adds the column, old rows keep it null.
    client.delete_table(table)
    client.create_table(bigquery.Table(table, schema=bigquery_fields(RECORDS["listening_events"])))
    client.query(f"insert into `{table}` (event_id) values ('old')").result()
    lines = []
    report = load(
        [
            "spotify-history",
            str(inputs / "history" / LISTENER),
            "--bigquery",
            "--project",
            EMULATOR_PROJECT,
            "--dataset",
            dataset,
            "--endpoint",
            emulator,
        ],
        echo=lines.append,
    )
    assert report.files[0].status == "loaded", lines
    assert any("added loaded_at to listening_events" in line for line in lines), lines
    # Made before the loaders partitioned it: kept, and the notice says how to re-create it.
    [relayout] = [line for line in lines if "listening_events is not laid out" in line]
    assert (
        f"create or replace table `{table}` partition by timestamp_trunc(played_at, day) cluster by user_id" in relayout
    )
    stamped = {
        row["event_id"]: row["loaded_at"] for row in client.query(f"select event_id, loaded_at from `{table}`").result()
    }
    assert stamped.pop("old") is None and stamped and all(stamped.values())


# --- Real files (../shared/data) -------------------------------------------------------------


def test_real_exports_load_completely(shared_data, tmp_path):
    raw = tmp_path / "raw"
    history, _ = run("spotify-history", shared_data / "streaming_history", raw_dir=raw)
    mpd, _ = run("mpd", shared_data / "mpd", raw_dir=raw)
    features, _ = run("audio-features", shared_data / "audio_features", raw_dir=raw)
    for report in (history, mpd, features):
        assert report.files and all(f.status == "loaded" for f in report.files), report.summary()
        assert report.exit_code == 0
        for f in report.files:  # every record is loaded, already known or set aside
            assert f.usable + sum(f.set_aside.values()) == f.records, f
    h = history.totals()
    assert len({f.path.split("/")[-2] for f in history.files}) == 4
    assert h["set_aside"]["podcast_episode"] > 300 and set(h["set_aside"]) <= {
        "podcast_episode",
        "audiobook",
        "private_session",
    }
    assert h["written"]["users"] == 4
    assert mpd.totals()["written"]["playlists"] == 4292
    assert mpd.totals()["written"]["playlist_tracks"] > 400_000
    con = duckdb.connect()
    for table in ("listening_events", "tracks", "artists", "playlist_tracks"):
        con.sql(f"create view {table} as select * from read_parquet('{raw}/{table}/*.parquet')")
    with_features = "(select track_id from tracks where tempo is not null)"
    [(plays, mpd_rows)] = con.sql(f"""
        select
            (select avg(cast(track_id in {with_features} as double)) from listening_events),
            (select avg(cast(track_id in {with_features} as double)) from playlist_tracks)
    """).fetchall()
    assert 0.1 < plays < 0.4 and 0.2 < mpd_rows < 0.4  # SOURCES.md: 16 % and 28 %
    # Nothing missing for staging: every play's track and every track's artist is in the contract.
    assert con.sql(
        "select count(*) from listening_events where track_id not in (select track_id from tracks)"
    ).fetchall() == [(0,)]
    assert con.sql("select count(*) from tracks where artist_id not in (select artist_id from artists)").fetchall() == [
        (0,)
    ]
    before = snapshot(raw)
    for command, path in [
        ("spotify-history", "streaming_history"),
        ("mpd", "mpd"),
        ("audio-features", "audio_features"),
    ]:
        report, _ = run(command, shared_data / path, raw_dir=raw)
        assert all(f.status == "already loaded" for f in report.files)
    assert {k for k in snapshot(raw)} == set(before)


def test_real_exports_are_refused_in_the_generators_folder(tmp_path, capsys):
    """Loaded into generated data they would mix with synthetic listeners (and the generator's next
    run would delete them): one line, nothing written. Exposures of the generated warehouse may."""
    from tunesday.generate.cli import main as generate_main

    assert generate_main(["--users", "20", "--tracks", "300", "--days", "2", "--out", str(tmp_path / "data")]) == 0
    raw = tmp_path / "data" / "raw"
    before = sorted(raw.rglob("*"))
    listener = tmp_path / "export"
    listener.mkdir()
    (listener / "StreamingHistory_music_0.json").write_text("[]")
    assert main(["spotify-history", str(listener), "--raw-dir", str(raw)]) == 2
    assert "holds generated data" in capsys.readouterr().err and sorted(raw.rglob("*")) == before
    log = tmp_path / "log"
    log.mkdir()
    assert main(["exposures", str(log), "--raw-dir", str(raw)]) == 1  # allowed; nothing to ship


def test_raw_contract_files_load_as_they_are_once(tmp_path, capsys):
    """tunesday-load raw: generated raw files land row for row (loaded_at and bad rows included),
    a rerun loads nothing new, and a file that is not the contract fails on one line while the
    others load. (The BigQuery path loads the test warehouse's raw folder this way.)"""
    from tunesday.generate.cli import main as generate_main

    generated = tmp_path / "data" / "raw"
    args = ["--users", "20", "--tracks", "300", "--days", "3", "--bad-share", "0.05", "--out", str(tmp_path / "data")]
    assert generate_main(args) == 0
    copy = tmp_path / "copy" / "raw"
    first, lines = run("raw", generated, raw_dir=copy)
    assert first.exit_code == 0 and len(first.files) == len(list(generated.glob("*/*.parquet"))), lines
    for table in SCHEMAS:
        key = lambda row: json.dumps(row, default=str, sort_keys=True)  # noqa: E731
        assert sorted(rows(copy, table, loaded_at=True), key=key) == sorted(
            rows(generated, table, loaded_at=True), key=key
        ), table
    again, _ = run("raw", generated, raw_dir=copy)
    assert again.exit_code == 0 and {f.status for f in again.files} == {"already loaded"}
    (tmp_path / "more" / "tracks").mkdir(parents=True)
    pq.write_table(pa.table({"track_id": ["t"]}), tmp_path / "more" / "tracks" / "odd.parquet")
    (tmp_path / "more" / "tracks" / "junk.parquet").write_text("not parquet")
    report, lines = run("raw", tmp_path / "more" / "tracks", raw_dir=copy)
    assert report.exit_code == 1 and [f.status for f in report.files] == ["failed", "failed"], lines
    assert "junk.parquet: FAILED, not a Parquet file" in lines[0], lines
    assert "odd.parquet: FAILED, does not match the raw contract of tracks: columns track_id" in lines[1], lines
    (tmp_path / "plain").mkdir()
    report, lines = run("raw", tmp_path / "plain", raw_dir=copy)  # a folder that is neither
    assert report.exit_code == 1 and "FAILED, no raw contract Parquet files here" in lines[0], lines
    # Not into the generator's own folder.
    capsys.readouterr()
    assert main(["raw", str(generated), "--raw-dir", str(generated)]) == 2
    assert "holds generated data" in capsys.readouterr().err


def test_bigquery_datasets_are_made_in_the_profiles_location_and_a_mismatch_is_one_line(emulator, tmp_path, capsys):
    """The BigQuery loads (real exports and raw contract files) create a missing dataset in
    TUNESDAY_BQ_LOCATION (the dbt profile's location), and refuse, in one line, a dataset that
    exists elsewhere."""
    from google.cloud import bigquery

    from ci.emulator import EMULATOR_PROJECT
    from tunesday.load.bigquery import make_client

    client = make_client(EMULATOR_PROJECT, emulator)
    target = ["--project", EMULATOR_PROJECT, "--endpoint", emulator, "--location", "EU"]
    listener = tmp_path / "export"
    listener.mkdir()
    (listener / "StreamingHistory_music_0.json").write_text("[]")
    assert main(["spotify-account-history", str(listener), "--bigquery", "--dataset", "made_here", *target]) in (0, 1)
    assert client.get_dataset(f"{EMULATOR_PROJECT}.made_here").location == "EU"
    elsewhere = bigquery.Dataset(f"{EMULATOR_PROJECT}.made_elsewhere")
    elsewhere.location = "US"
    client.create_dataset(elsewhere)
    capsys.readouterr()
    assert main(["spotify-account-history", str(listener), "--bigquery", "--dataset", "made_elsewhere", *target]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "is in US, but TUNESDAY_BQ_LOCATION" in line, line
    from tunesday.generate.cli import main as generate_main

    assert generate_main(["--users", "20", "--tracks", "300", "--days", "2", "--out", str(tmp_path / "data")]) == 0
    capsys.readouterr()
    assert main(["raw", str(tmp_path / "data" / "raw"), "--bigquery", "--dataset", "made_elsewhere", *target]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "is in US, but TUNESDAY_BQ_LOCATION" in line, line
