"""tunesday-load on hostile input (issue 14): bad records, bad files, a loader killed half-way
through a file, a torn ledger line.

Real files in a temporary folder through the real CLI. The crash tests run the loader in a child
process that SIGKILLs itself at a chosen point of its writing (found by wrapping the library call
it is about to make: nothing in the loader knows), then load again in this process.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import PROJECT_DIR
from test_loaders import emulator, rows, run  # noqa: F401 (emulator: a fixture)

from tunesday.load.cli import load, main
from tunesday.load.stores import ParquetStore

RICK, SHAPE, JUDE, KILLERS = (
    "4uLU6hMCjMI75M1A2tKUQC",
    "7qiZfU4dY1lWllzX7mPBI3",
    "0aym2LBJBk9DAYuHHutrIl",
    "3n3Ppam7vgaVa1iaRUc9Lp",
)
NAMES = {
    RICK: ("Rick Astley", "Never Gonna Give You Up"),
    SHAPE: ("Ed Sheeran", "Shape of You"),
    JUDE: ("The Beatles", "Hey Jude"),
    KILLERS: ("The Killers", "Mr. Brightside"),
}


def play(track: str, ts: str, **fields) -> dict:
    artist, name = NAMES[track]
    return {
        "ts": ts,
        "platform": "android",
        "ms_played": 200000,
        "conn_country": "GB",
        "master_metadata_track_name": name,
        "master_metadata_album_artist_name": artist,
        "master_metadata_album_album_name": f"{name} (single)",
        "spotify_track_uri": f"spotify:track:{track}",
        "reason_start": "clickrow",
        "reason_end": "trackdone",
        "shuffle": False,
        "skipped": False,
        "incognito_mode": False,
        **fields,
    }


def entry(pos, track: str, **fields) -> dict:
    artist, name = NAMES[track]
    return {
        "pos": pos,
        "artist_name": artist,
        "track_uri": f"spotify:track:{track}",
        "track_name": name,
        "album_name": f"{name} (single)",
        "duration_ms": 200000,
        **fields,
    }


def playlist(pid, *tracks, **fields) -> dict:
    return {"pid": pid, "name": f"list {pid}", "modified_at": 1493424000, "tracks": list(tracks), **fields}


def write_json(path: Path, value) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))
    return path


def set_aside(raw: Path) -> list[dict]:
    return pq.ParquetDataset(sorted(raw.glob("_set_aside/*/*.parquet"))).read().to_pylist()


def ledger_lines(raw: Path) -> list[dict]:
    return [json.loads(line) for line in (raw / "_loads" / "ledger.jsonl").read_text().splitlines()]


def reconciles(file_report) -> bool:
    """Every record read is usable (written or already known) or set aside, once."""
    return file_report.records == file_report.usable + sum(file_report.set_aside.values())


# --- Defect 1: a load that crashed half-way lost the file's tracks for good -------------------


def test_mpd_position_beyond_64_bits_is_noted_and_the_file_loads_whole(tmp_path):
    """The record that used to raise OverflowError between the playlists and playlist_tracks."""
    raw = tmp_path / "raw"
    slice_path = write_json(
        tmp_path / "mpd" / "mpd.slice.0-1.json",
        {
            "playlists": [
                playlist(0, entry(0, RICK), entry(10**20, SHAPE), entry(2, JUDE)),
                playlist(1, entry(0, KILLERS), entry(1, RICK)),
            ]
        },
    )
    report, _ = run("mpd", slice_path, raw_dir=raw)
    [loaded] = report.files
    assert loaded.status == "loaded" and loaded.notes == {"bad_position": 1} and reconciles(loaded)
    assert loaded.written["playlists"] == 2 and loaded.written["playlist_tracks"] == 5
    assert report.exit_code == 0  # a value loaded as null is noted, not rejected
    positions = sorted(
        (r["playlist_id"], r["position"] if r["position"] is not None else -1, r["track_id"])
        for r in rows(raw, "playlist_tracks")
    )
    assert positions == [
        ("pl_mpd_0", -1, SHAPE),
        ("pl_mpd_0", 0, RICK),
        ("pl_mpd_0", 2, JUDE),
        ("pl_mpd_1", 0, KILLERS),
        ("pl_mpd_1", 1, RICK),
    ]
    again, _ = run("mpd", slice_path, raw_dir=raw)
    assert again.files[0].status == "already loaded"


# The child loader: wraps the call it is about to make at the chosen point and SIGKILLs itself there.
KILLING_LOADER = """
import os, signal, sys
from pathlib import Path
import pyarrow.parquet as pq
from tunesday.contract import SCHEMAS
from tunesday.load.cli import load, main

point, argv = sys.argv[1], sys.argv[2:]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if point == "writing playlist_tracks":
    write_table = pq.write_table
    def writing(table, where, **options):
        if table.schema.equals(SCHEMAS["playlist_tracks"]) and table.num_rows:   # not the empty file
            die()
        return write_table(table, where, **options)
    pq.write_table = writing
elif point == "moving playlist_tracks into place":
    replace = os.replace
    def moving(source, target, **options):
        if Path(target).parent.name == "playlist_tracks" and Path(target).name != "empty.parquet":
            die()
        return replace(source, target, **options)
    os.replace = moving
elif point == "appending the ledger line":
    write = os.write
    def appending(fd, data):
        if bytes(data).startswith(b'{"loader"'):
            write(fd, bytes(data)[:len(data) // 2])
            die()
        return write(fd, data)
    os.write = appending
elif point == "loading playlist_tracks into BigQuery":
    from google.cloud import bigquery
    load_table_from_file = bigquery.Client.load_table_from_file
    def loading(client, file, destination, *args, **options):
        if str(destination).endswith("playlist_tracks"):
            die()
        return load_table_from_file(client, file, destination, *args, **options)
    bigquery.Client.load_table_from_file = loading
sys.exit(main(argv))
"""


def killed_loader(point: str, *argv) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", KILLING_LOADER, point, *map(str, argv)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "point", ["writing playlist_tracks", "moving playlist_tracks into place", "appending the ledger line"]
)
def test_loader_killed_mid_file_then_rerun_loads_every_row_exactly_once(tmp_path, point):
    raw = tmp_path / "raw"
    slice_path = write_json(
        tmp_path / "mpd" / "mpd.slice.0-2.json",
        {
            "playlists": [
                playlist(pid, *(entry(pos, track) for pos, track in enumerate([RICK, SHAPE, JUDE, KILLERS][pid:])))
                for pid in range(3)
            ]
        },
    )
    killed = killed_loader(point, "mpd", slice_path, "--raw-dir", raw)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]

    report, lines = run("mpd", slice_path, raw_dir=raw)
    assert sorted(r["playlist_id"] for r in rows(raw, "playlists")) == ["pl_mpd_0", "pl_mpd_1", "pl_mpd_2"]
    assert sorted((r["playlist_id"], r["position"]) for r in rows(raw, "playlist_tracks")) == [
        ("pl_mpd_0", 0),
        ("pl_mpd_0", 1),
        ("pl_mpd_0", 2),
        ("pl_mpd_0", 3),
        ("pl_mpd_1", 0),
        ("pl_mpd_1", 1),
        ("pl_mpd_1", 2),
        ("pl_mpd_2", 0),
        ("pl_mpd_2", 1),
    ]
    assert sorted(r["track_id"] for r in rows(raw, "tracks")) == sorted(NAMES)
    assert len(ledger_lines(raw)) == 1
    # Killed before the commit point: nothing of the file was there, it loads whole now. After it:
    # opening the store finished the commit, so the file is already loaded.
    expected = "loaded" if point == "writing playlist_tracks" else "already loaded"
    assert [f.status for f in report.files] == [expected]
    assert any(line.startswith("note: ") and "interrupted load" in line for line in lines), lines
    assert not list((raw / "_loads" / "pending").iterdir())
    again, _ = run("mpd", slice_path, raw_dir=raw)
    assert [f.status for f in again.files] == ["already loaded"]


def test_bigquery_loader_killed_mid_file_then_rerun_loads_every_row_exactly_once(emulator, tmp_path):  # noqa: F811 (the fixture)
    from ci.emulator import EMULATOR_PROJECT
    from tunesday.load.bigquery import make_client

    dataset = "loaders_killed"
    target = ["--bigquery", "--project", EMULATOR_PROJECT, "--dataset", dataset, "--endpoint", emulator]
    slice_path = write_json(
        tmp_path / "mpd" / "mpd.slice.0-2.json",
        {
            "playlists": [
                playlist(pid, *(entry(pos, track) for pos, track in enumerate([RICK, SHAPE, JUDE, KILLERS][pid:])))
                for pid in range(3)
            ]
        },
    )
    killed = killed_loader("loading playlist_tracks into BigQuery", "mpd", slice_path, *target)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]

    lines = []
    report = load(["mpd", str(slice_path), *target], echo=lines.append)
    client = make_client(EMULATOR_PROJECT, emulator)

    def count(table: str) -> int:
        return next(iter(client.query(f"select count(*) as n from `{EMULATOR_PROJECT}.{dataset}.{table}`").result()))[
            "n"
        ]

    assert [count(table) for table in ("playlists", "playlist_tracks", "tracks", "_load_ledger")] == [3, 9, 4, 1]
    assert [f.status for f in report.files] == ["loaded"]
    assert any(line.startswith("note: dropped _pending_") for line in lines), lines
    assert not [t for t in client.list_tables(f"{EMULATOR_PROJECT}.{dataset}") if t.table_id.startswith("_pending_")]


# --- Defect 2: one malformed record aborted a whole load --------------------------------------


def test_history_bad_records_are_rejected_with_a_reason_and_the_rest_loads(tmp_path):
    raw, listener = tmp_path / "raw", tmp_path / "history" / "listener"
    write_json(
        listener / "Streaming_History_Audio_2024_0.json",
        [
            play(RICK, "2024-03-01T10:00:00Z"),
            play(SHAPE, "2024-03-01T10:05:00Z", master_metadata_album_artist_name={"name": "Ed Sheeran"}),
            play(SHAPE, "2024-03-01T10:06:00Z", master_metadata_album_album_name=["Divide"]),
            play(JUDE, "2024-03-01T10:10:00Z", master_metadata_track_name="Hey \ud800 Jude"),
            play(JUDE, "2024-03-01T10:15:00Z"),
            play(KILLERS, None, ms_played=2**63),
            play(RICK, "2024-03-01T10:20:00Z", incognito_mode=True, extra=json.loads("[" * 600 + "]" * 600)),
        ],
    )
    write_json(listener / "Streaming_History_Audio_2024_1.json", [play(KILLERS, "2024-03-02T10:00:00Z")])
    report, _ = run("spotify-history", listener, raw_dir=raw)
    bad, after = report.files
    assert bad.status == after.status == "loaded"
    assert bad.set_aside == {"unparseable_record": 3, "private_session": 1} and bad.rejected == 3
    assert reconciles(bad)
    assert bad.notes["unparseable_ms_played"] == 1 and bad.notes["unparseable_ts"] == 1
    assert report.exit_code == 3  # loaded, with rejections
    kept = {r["reason"]: json.loads(r["record"]) for r in set_aside(raw)}
    assert kept["private_session"] == {"not_kept": "the record is nested too deeply to keep"}
    errors = sorted(json.loads(r["record"])["error"] for r in set_aside(raw) if r["reason"] == "unparseable_record")
    assert errors == [
        "ValueError: master_metadata_album_album_name is not text: ['Divide']",
        "ValueError: master_metadata_album_artist_name is not text: {'name': 'Ed Sheeran'}",
        "ValueError: tracks.track_name is not text: 'Hey \\ud800 Jude'",
    ]
    events = rows(raw, "listening_events")
    assert sorted(e["track_id"] for e in events) == [JUDE, KILLERS, KILLERS, RICK]
    assert next(e for e in events if e["played_at"] is None)["ms_played"] is None
    tracks = {t["track_id"]: t for t in rows(raw, "tracks")}
    # The rejected play of Hey Jude merged nothing: the next play of it wrote its track row.
    assert set(tracks) == {RICK, JUDE, KILLERS} and tracks[JUDE]["track_name"] == "Hey Jude"


def test_mpd_bad_records_are_rejected_with_a_reason_and_the_rest_loads(tmp_path):
    raw = tmp_path / "raw"
    bad_path = write_json(
        tmp_path / "mpd" / "mpd.slice.0-3.json",
        {
            "playlists": [
                playlist(
                    0,
                    entry(0, RICK),
                    entry(1, SHAPE, artist_name=["Ed", "Sheeran"]),
                    entry(2, JUDE, album_name={"title": "1"}),
                    entry(3, KILLERS),
                ),
                playlist(10**20, entry(0, RICK)),
                playlist(2, entry(0, RICK), modified_at=10**15),  # year 31,690,708
                playlist(3, entry(0, SHAPE)),
            ]
        },
    )
    after_path = write_json(tmp_path / "mpd" / "mpd.slice.4-4.json", {"playlists": [playlist(4, entry(0, JUDE))]})
    report, _ = run("mpd", bad_path, after_path, raw_dir=raw)
    bad, after = report.files
    assert bad.status == after.status == "loaded" and reconciles(bad)
    assert bad.set_aside == {"bad_pid": 1, "unparseable_record": 3} and bad.rejected == 4
    assert report.exit_code == 3
    assert {r["record_ref"] for r in set_aside(raw)} == {
        "playlists[0].tracks[1]",
        "playlists[0].tracks[2]",
        "playlists[1]",
        "playlists[2]",
    }
    assert sorted(r["playlist_id"] for r in rows(raw, "playlists")) == ["pl_mpd_0", "pl_mpd_3", "pl_mpd_4"]
    assert sorted((r["playlist_id"], r["position"]) for r in rows(raw, "playlist_tracks")) == [
        ("pl_mpd_0", 0),
        ("pl_mpd_0", 3),
        ("pl_mpd_3", 0),
        ("pl_mpd_4", 0),
    ]


def test_audio_features_values_beyond_64_bits_are_null_and_noted(tmp_path):
    raw = tmp_path / "raw"
    csv_path = tmp_path / "features" / "features.csv"
    csv_path.parent.mkdir()
    csv_path.write_text(
        "track_id,artist_name,key,popularity,tempo,energy\n"
        f"{RICK},Rick Astley,1e30,-1e19,1e400,0.9\n"
        f"{SHAPE},Ed Sheeran,1,80,96.0,0.65\n"
    )
    report, _ = run("audio-features", csv_path, raw_dir=raw)
    [loaded] = report.files
    assert loaded.status == "loaded" and loaded.notes == {"unparseable_value": 3} and reconciles(loaded)
    assert report.exit_code == 0
    tracks = {t["track_id"]: t for t in rows(raw, "tracks")}
    assert (tracks[RICK]["key"], tracks[RICK]["popularity"], tracks[RICK]["tempo"], tracks[RICK]["energy"]) == (
        None,
        None,
        None,
        0.9,
    )
    assert tracks[SHAPE]["key"] == 1 and tracks[SHAPE]["popularity"] == 80


def test_a_file_nested_too_deeply_fails_alone(tmp_path):
    raw, listener = tmp_path / "raw", tmp_path / "history" / "listener"
    write_json(listener / "Streaming_History_Audio_2024_0.json", [play(RICK, "2024-03-01T10:00:00Z")])
    (listener / "Streaming_History_Audio_2024_1.json").write_text("[" * 100_000 + "]" * 100_000)
    write_json(listener / "Streaming_History_Audio_2024_2.json", [play(JUDE, "2024-03-01T11:00:00Z")])
    deep = tmp_path / "mpd" / "mpd.slice.0-0.json"
    deep.parent.mkdir()
    deep.write_text('{"playlists": [' + "[" * 100_000 + "]" * 100_000 + "]}")
    write_json(tmp_path / "mpd" / "mpd.slice.1-1.json", {"playlists": [playlist(1, entry(0, RICK))]})

    history, lines = run("spotify-history", listener, raw_dir=raw)
    assert [f.status for f in history.files] == ["loaded", "failed", "loaded"]
    assert history.files[1].error == "JSON nested too deeply to read"
    assert sum("FAILED" in line for line in lines) == 1 and history.exit_code == 3
    mpd, _ = run("mpd", tmp_path / "mpd", raw_dir=raw)
    assert [f.status for f in mpd.files] == ["failed", "loaded"]
    assert mpd.files[0].error.startswith("not a whole MPD slice (RecursionError") and "\n" not in mpd.files[0].error
    assert sorted(e["track_id"] for e in rows(raw, "listening_events")) == [JUDE, RICK]


def test_a_folder_without_input_files_is_a_one_line_error(tmp_path, capsys):
    raw, empty = tmp_path / "raw", tmp_path / "empty"
    (empty / "not-a-slice.json").parent.mkdir()
    (empty / "not-a-slice.json").write_text("{}")
    assert main(["mpd", str(empty), "--raw-dir", str(raw)]) == 1
    assert main(["audio-features", str(empty), "--raw-dir", str(raw)]) == 1
    out = capsys.readouterr().out
    assert f"{empty}: FAILED, no mpd.slice.*.json(.gz) files here" in out.splitlines()
    assert f"{empty}: FAILED, no *.csv or *.csv.gz files here" in out.splitlines()
    slice_path = write_json(tmp_path / "mpd" / "mpd.slice.0-0.json", {"playlists": [playlist(0, entry(0, RICK))]})
    assert main(["mpd", str(empty), str(slice_path), "--raw-dir", str(raw)]) == 3  # the other path loads
    assert "Traceback" not in capsys.readouterr().err


def test_a_file_name_that_is_not_utf8_is_shown_with_a_replacement_character(tmp_path):
    raw, folder = tmp_path / "raw", tmp_path / "mpd"
    name = os.fsdecode(b"mpd.slice.0-0\xff.json")
    write_json(folder / name, {"playlists": [playlist(0, entry(0, RICK), "not an entry")]})
    report, _ = run("mpd", folder, raw_dir=raw)
    [loaded] = report.files
    assert loaded.status == "loaded" and loaded.set_aside == {"bad_track": 1}
    assert loaded.path.endswith("mpd.slice.0-0\ufffd.json")
    assert [r["source_file"] for r in set_aside(raw)] == [loaded.path]


# --- The load ledger ------------------------------------------------------------------------


def test_a_torn_last_ledger_line_is_dropped_with_a_notice(tmp_path, capsys):
    raw = tmp_path / "raw"
    first = write_json(tmp_path / "mpd" / "mpd.slice.0-0.json", {"playlists": [playlist(0, entry(0, RICK))]})
    second = write_json(tmp_path / "mpd" / "mpd.slice.1-1.json", {"playlists": [playlist(1, entry(0, JUDE))]})
    run("mpd", first, raw_dir=raw)
    ledger = raw / "_loads" / "ledger.jsonl"
    whole = ledger.read_bytes()
    with ledger.open("ab") as fh:
        fh.write(whole[: len(whole) // 2])  # what a crash during an append leaves
    report, lines = run("mpd", first, second, raw_dir=raw)
    assert [f.status for f in report.files] == ["already loaded", "loaded"]
    assert any(line.startswith("note: dropped a half-written last line of the load ledger") for line in lines)
    assert len(ledger_lines(raw)) == 2  # every line whole again

    # A damaged line before the last is not a torn write: what was loaded is unknown, so stop.
    ledger.write_bytes(b"not json\n" + ledger.read_bytes())
    assert main(["mpd", str(second), "--raw-dir", str(raw)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ledger" in err and "damaged at line 1" in err


def test_a_second_loader_on_the_same_raw_folder_is_refused(tmp_path, capsys):
    raw = tmp_path / "raw"
    slice_path = write_json(tmp_path / "mpd" / "mpd.slice.0-0.json", {"playlists": [playlist(0, entry(0, RICK))]})
    with ParquetStore(raw):
        assert main(["mpd", str(slice_path), "--raw-dir", str(raw)]) == 2
    assert "another load is writing to" in capsys.readouterr().err
    assert main(["mpd", str(slice_path), "--raw-dir", str(raw)]) == 0
