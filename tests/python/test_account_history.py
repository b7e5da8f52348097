"""tunesday-load spotify-account-history: the account-data streaming history (names and minutes,
no ids) into the raw contract, matched to the catalog by name, and loaded once with the extended
history of the same listener, whichever comes first.

Hand-made fixtures in tests/fixtures/account_history/ (invented artists and tracks), laid out
under the names real exports have in a temporary folder; and the shared real histories, re-shaped
into the account-data format (skipped when ../shared/data is absent).
"""

import datetime as dt
import json
import shutil
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from conftest import PROJECT_DIR
from test_loaders import emulator, rows, run, snapshot  # noqa: F401 (emulator: a fixture)

from tunesday.load import ids
from tunesday.load.cli import load, main
from tunesday.load.history import OVERLAP
from tunesday.load.spotify_history import map_play, set_aside_reason

FIXTURES = PROJECT_DIR / "tests" / "fixtures" / "account_history"
LISTENER = "account_listener"
LANTERNS, COMETS, ELEVATOR = "4AhVelvetLanternsTide0", "4AhVelvetPaperComets00", "4AhNimbusGlassElevator"
STATIC_SINGLE, STATIC_ALBUM, SIGNAL = "4AhOrchardStaticSingle", "4AhOrchardStaticAlbum0", "4AhCopperSignalFires00"
STATIC_BY_NAME = ids.name_track_id(("the quiet orchard", "morning static"))
SIGNAL_BY_NAME = ids.name_track_id(("copper wolves", "signal fires"))
EMPTY_COLUMNS = (
    "context_type",
    "context_id",
    "reason_start",
    "reason_end",
    "shuffle",
    "skipped",
    "platform",
    "country",
)


def lay_out(root: Path, files: dict[str, str]) -> Path:
    """Copy fixtures to their real names under `root` ({real path: fixture name})."""
    for target, name in files.items():
        (root / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / name, root / target)
    return root


@pytest.fixture
def catalog_raw(tmp_path) -> Path:
    """A raw folder whose catalog knows the fixture's tracks (from an MPD slice): one track per
    name, except "Morning Static", a single and an album version."""
    raw = tmp_path / "raw"
    slice_path = lay_out(tmp_path / "mpd", {"mpd.slice.0-0.json": "catalog_mpd_slice.json"}) / "mpd.slice.0-0.json"
    report, _ = run("mpd", slice_path, raw_dir=raw)
    assert report.exit_code == 0
    return raw


def events_of(raw: Path, user_id: str) -> list[dict]:
    return [e for e in rows(raw, "listening_events") if e["user_id"] == user_id]


# --- Reading the account-data files ---------------------------------------------------------


def test_account_history_loads_music_and_sets_aside_the_rest(catalog_raw, tmp_path):
    listener = lay_out(
        tmp_path / "export" / LISTENER,
        {"StreamingHistory_music_0.json": "music_plays.json", "StreamingHistory_podcast_0.json": "podcast_plays.json"},
    )
    report, lines = run("spotify-account-history", listener, raw_dir=catalog_raw)
    music, podcasts = report.files
    assert music.status == podcasts.status == "loaded" and music.records == 12
    # Rejected as bad: the string, the artist given as an object, the object that is no play.
    assert music.set_aside == {"not_an_object": 1, "unparseable_record": 2} and music.rejected == 3
    assert music.usable == 9 and music.written["listening_events"] == 9
    assert music.notes == {
        "track_matched": 6,
        "track_ambiguous_in_catalog": 1,
        "track_not_in_catalog": 1,
        "missing_track_name": 1,
        "unparseable_end_time": 1,
        "unparseable_ms_played": 1,
        "zero_ms_played": 1,
    }
    assert "track_matched 6" in lines[0]  # the match rate is in the file's line
    # A podcast file is set aside whole (an episode without names too), by policy: not a rejection.
    assert podcasts.set_aside == {"podcast_episode": 3} and podcasts.rejected == 0 and podcasts.usable == 0
    assert report.exit_code == 3

    events = events_of(catalog_raw, LISTENER)
    assert len(events) == 9 and all(e["event_id"].startswith("ah_") for e in events)
    first = next(e for e in events if e["ms_played"] == 201000)
    # endTime is UTC, when the play ended: played_at = endTime - msPlayed.
    assert first["played_at"] == dt.datetime(2024, 3, 1, 17, 38, 39)
    assert first["track_id"] == LANTERNS
    assert first["event_id"] == ids.event_id(
        "ah_", LISTENER, ("2024-03-01 17:42", "Velvet Harbour", "Lanterns at Low Tide", 201000)
    )
    # The exact duplicate is loaded with the same id (staging counts it as a duplicate).
    assert sum(e["event_id"] == first["event_id"] for e in events) == 2
    by_ms = {e["ms_played"]: e for e in events}
    assert by_ms[222000]["track_id"] == COMETS  # "velvet  HARBOUR", "PAPER COMETS "
    assert by_ms[0]["track_id"] == COMETS  # msPlayed 0 loads (staging: a skip)
    # Two catalog tracks are called "Morning Static": which was played is unknown, so by name.
    assert by_ms[187500]["track_id"] == STATIC_BY_NAME and STATIC_BY_NAME.startswith("trn_")
    assert by_ms[160000]["track_id"] == SIGNAL_BY_NAME
    assert by_ms[5000]["track_id"] is None  # no track name: staging rejects it
    unparseable = by_ms[61000]
    assert unparseable["played_at"] is None and unparseable["track_id"] == COMETS
    assert by_ms[None]["ms_played"] is None and by_ms[None]["played_at"] == dt.datetime(2024, 3, 1, 18, 2)
    assert all(e[column] is None for e in events for column in EMPTY_COLUMNS)

    tracks = {t["track_id"]: t for t in rows(catalog_raw, "tracks")}
    assert tracks[STATIC_BY_NAME]["track_name"] == "Morning Static"
    assert tracks[STATIC_BY_NAME]["artist_id"] == ids.artist_id("The Quiet Orchard")
    assert tracks[SIGNAL_BY_NAME]["album_id"] is None
    assert "Copper Wolves" in {a["artist_name"] for a in rows(catalog_raw, "artists")}
    assert [u for u in rows(catalog_raw, "users") if u["user_id"] == LISTENER] == [
        {"user_id": LISTENER, "country": None, "signup_date": None, "product_tier": None}
    ]
    # Nothing missing for staging: every play's track and every track's artist is in the contract.
    con = duckdb.connect()
    for table in ("listening_events", "tracks", "artists"):
        con.sql(f"create view {table} as select * from read_parquet('{catalog_raw}/{table}/*.parquet')")
    assert con.sql(
        "select count(*) from listening_events where track_id is not null and track_id not in "
        "(select track_id from tracks)"
    ).fetchall() == [(0,)]
    assert con.sql("select count(*) from tracks where artist_id not in (select artist_id from artists)").fetchall() == [
        (0,)
    ]


def test_old_mixed_files_cannot_tell_a_podcast_from_a_song(catalog_raw, tmp_path):
    listener = lay_out(tmp_path / "export" / LISTENER, {"StreamingHistory0.json": "mixed_plays.json"})
    report, _ = run("spotify-account-history", listener, raw_dir=catalog_raw)
    [mixed] = report.files
    # Only a record that names its podcast is known to be one; the show as an artist is a "song".
    assert mixed.set_aside == {"podcast_episode": 1} and mixed.written["listening_events"] == 2
    assert mixed.notes == {"track_matched": 1, "track_not_in_catalog": 1} and report.exit_code == 0
    show = next(e for e in events_of(catalog_raw, LISTENER) if e["ms_played"] == 1805000)
    assert show["track_id"] == ids.name_track_id(("the lighthouse hour", "fog signals"))


def test_reloading_account_files_loads_nothing_new(catalog_raw, tmp_path):
    listener = lay_out(
        tmp_path / "export" / LISTENER,
        {"StreamingHistory_music_0.json": "music_plays.json", "StreamingHistory_podcast_0.json": "podcast_plays.json"},
    )
    run("spotify-account-history", listener, raw_dir=catalog_raw)
    before = snapshot(catalog_raw)
    report, _ = run("spotify-account-history", listener, raw_dir=catalog_raw)
    assert [f.status for f in report.files] == ["already loaded", "already loaded"]
    assert report.exit_code == 0 and snapshot(catalog_raw) == before
    # The same plays in a file with other bytes (a later download): known by their ids.
    again = tmp_path / "later" / LISTENER / "StreamingHistory_music_0.json"
    again.parent.mkdir(parents=True)
    again.write_text(json.dumps(json.loads((FIXTURES / "music_plays.json").read_text()), indent=2))
    report, _ = run("spotify-account-history", again.parent, raw_dir=catalog_raw)
    [file_report] = report.files
    assert file_report.status == "loaded" and file_report.written == {} and file_report.already_known == 9


def test_a_bad_account_file_fails_alone_in_one_line(catalog_raw, tmp_path, capsys):
    listener = lay_out(tmp_path / "export" / LISTENER, {"StreamingHistory_music_2.json": "music_plays.json"})
    (listener / "StreamingHistory_music_0.json").write_text('[{"endTime": "2024-03-01 17:42", "artistNa')
    (listener / "StreamingHistory_music_1.json").write_text('{"endTime": "2024-03-01 17:42"}')
    assert (
        main(
            ["spotify-account-history", str(listener), str(tmp_path / "no such folder"), "--raw-dir", str(catalog_raw)]
        )
        == 3
    )
    out = capsys.readouterr().out
    assert "StreamingHistory_music_0.json: FAILED, not valid JSON" in out
    assert "StreamingHistory_music_1.json: FAILED, expected a JSON list of plays, found a JSON dict" in out
    assert "no such folder: FAILED, no StreamingHistory*.json* files here" in out and "Traceback" not in out
    assert len(events_of(catalog_raw, LISTENER)) == 9  # the good file loaded whole


# --- The same listener's two exports --------------------------------------------------------


def load_both(raw: Path, root: Path, extended_first: bool) -> dict:
    """The overlap fixtures as a listener's two downloads (folders named as Spotify names them,
    so both need --user-id), loaded in the given order; the reports by export."""
    lay_out(
        root,
        {
            "Spotify Account Data/StreamingHistory_music_0.json": "overlap_account.json",
            "Spotify Extended Streaming History/Streaming_History_Audio_2024.json": "overlap_extended.json",
        },
    )
    loads = [
        ("spotify-history", root / "Spotify Extended Streaming History"),
        ("spotify-account-history", root / "Spotify Account Data"),
    ]
    reports = {}
    for command, folder in loads if extended_first else loads[::-1]:
        reports[command], _ = run(command, folder, "--user-id", LISTENER, raw_dir=raw)
        assert reports[command].exit_code == 0
    return reports


@pytest.mark.parametrize("extended_first", [True, False], ids=["extended-first", "account-first"])
def test_both_exports_of_a_listener_load_each_play_once(catalog_raw, tmp_path, extended_first):
    """10 plays in the extended export, 8 in the account data, 6 of them in both: 12 plays, in
    either order. In both: the minute cut from ts (08:03:59 -> 08:03), a minute apart (10:00:58
    and 10:01), two identical extended plays in one minute for one account record, an artist
    credited otherwise (only the title and the length agree). Not the same: a play of another
    length in the same minute; the same length and minute, but another artist and title."""
    reports = load_both(catalog_raw, tmp_path / "downloads", extended_first)
    second = reports["spotify-account-history" if extended_first else "spotify-history"].files[0]
    assert second.already_known == 6 and second.notes[OVERLAP] == 6
    assert second.written.get("listening_events") == (2 if extended_first else 4)
    events = events_of(catalog_raw, LISTENER)
    assert len(events) == len({e["event_id"] for e in events}) == 12
    # The first export loaded keeps its record of the plays both hold.
    kept = Counter(e["event_id"][:3] for e in events)
    assert kept == ({"ev_": 10, "ah_": 2} if extended_first else {"ah_": 8, "ev_": 4})
    if extended_first:  # the richer record, and the extended export is a catalog too
        assert {e["track_id"] for e in events if e["ms_played"] == 1200} == {SIGNAL}
        assert all((e["platform"] == "android") == e["event_id"].startswith("ev_") for e in events)
        assert reports["spotify-account-history"].files[0].notes["track_matched"] == 6
    else:
        assert {e["track_id"] for e in events if e["ms_played"] == 1200} == {SIGNAL_BY_NAME}
    # Loading both again from copies with other bytes adds nothing (matches do not wear out).
    before = len(rows(catalog_raw, "listening_events"))
    for folder, command in [
        ("Spotify Extended Streaming History", "spotify-history"),
        ("Spotify Account Data", "spotify-account-history"),
    ]:
        for path in (tmp_path / "downloads" / folder).glob("*.json"):
            copy = tmp_path / "copies" / folder / path.name
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(json.dumps(json.loads(path.read_text()), indent=3))
        report, _ = run(command, copy.parent, "--user-id", LISTENER, raw_dir=catalog_raw)
        assert report.files[0].status == "loaded" and report.files[0].written == {}
    assert len(rows(catalog_raw, "listening_events")) == before


def test_listener_plays_on_bigquery(emulator, tmp_path):  # noqa: F811 (emulator: the fixture imported above)
    """The overlap query on the BigQuery store (the emulator): an account export after the
    extended one writes only the play the extended export does not hold."""
    from ci.emulator import EMULATOR_PROJECT
    from tunesday.load.bigquery import make_client
    from tunesday.load.stores import BigQueryStore

    dataset = "account_history_raw"
    target = ["--bigquery", "--project", EMULATOR_PROJECT, "--dataset", dataset, "--endpoint", emulator]
    root = lay_out(
        tmp_path,
        {
            "account/StreamingHistory_music_0.json": "overlap_account.json",
            "extended/Streaming_History_Audio_2024.json": "overlap_extended.json",
        },
    )
    load(["spotify-history", str(root / "extended"), "--user-id", LISTENER, *target], echo=lambda line: None)
    report = load(
        ["spotify-account-history", str(root / "account"), "--user-id", LISTENER, *target], echo=lambda line: None
    )
    [account] = report.files
    assert account.notes[OVERLAP] == 6 and account.written["listening_events"] == 2
    assert account.notes["track_matched"] == 7  # the extended export's tracks are the catalog
    store = BigQueryStore(make_client(EMULATOR_PROJECT, emulator), dataset)
    plays = store.listener_plays(LISTENER, "ev_")
    assert len(plays) == 10 and {p["artist_name"] for p in plays} >= {"Nimbus Parade", "Copper Wolves"}
    assert {(p["artist_name"], p["track_name"]) for p in store.listener_plays(LISTENER, "ah_")} == {
        ("Velvet Harbour", "Paper Comets")
    }


# --- The shared real histories, re-shaped into account data ---------------------------------


def reshape(listener_folder: Path, out: Path) -> dict[str, set[str]]:
    """A listener's extended export as their account data would hold it (endTime: ts cut to the
    minute; the album artist, the track name, ms_played; podcasts in their own file; private
    sessions and audiobooks dropped); the true track ids by the account play's event id."""
    music, podcasts, truth = [], [], {}
    user_id = listener_folder.name
    for path in sorted(listener_folder.glob("Streaming_History_Audio_*.json")):
        for play in json.loads(path.read_text()):
            end_time = f"{play['ts'][:10]} {play['ts'][11:16]}"
            if play.get("incognito_mode"):
                continue
            if play.get("spotify_track_uri"):
                record = {
                    "endTime": end_time,
                    "artistName": play["master_metadata_album_artist_name"],
                    "trackName": play["master_metadata_track_name"],
                    "msPlayed": play["ms_played"],
                }
                music.append(record)
                truth.setdefault(ids.event_id("ah_", user_id, tuple(record.values())), set()).add(
                    ids.track_id(play["spotify_track_uri"])
                )
            elif play.get("episode_name"):
                podcasts.append(
                    {
                        "endTime": end_time,
                        "podcastName": play["episode_show_name"],
                        "episodeName": play["episode_name"],
                        "msPlayed": play["ms_played"],
                    }
                )
    out.mkdir(parents=True)
    (out / "StreamingHistory_music_0.json").write_text(json.dumps(music))
    (out / "StreamingHistory_podcast_0.json").write_text(json.dumps(podcasts))
    return truth


def test_shared_histories_as_account_data(shared_data, tmp_path):
    """Three listeners' extended exports are the catalog for the fourth listener's account data
    (match rate, and precision: the matched id is the id of the track truly played). Then a
    listener's other export: the account data after the extended export for two of the three
    (listener_in_1's history renames artists between plays), the extended export after the
    account data for the fourth. Each ends with exactly the plays of their extended export."""
    histories = shared_data / "streaming_history"
    raw = tmp_path / "raw"
    catalog_listeners, measured = ["listener_ar", "listener_in_1", "listener_in_2"], "listener_pl"
    for listener in catalog_listeners:
        run("spotify-history", histories / listener, raw_dir=raw)
    catalog = {t["track_id"] for t in rows(raw, "tracks")}

    truth = reshape(histories / measured, tmp_path / "account" / measured)
    report, _ = run("spotify-account-history", tmp_path / "account" / measured, raw_dir=raw)
    assert report.exit_code == 0
    notes = Counter()
    for f in report.files:
        notes.update(f.notes)
    events = events_of(raw, measured)
    matched = [e for e in events if ids.is_spotify_id(e["track_id"])]
    right = [e for e in matched if e["track_id"] in truth[e["event_id"]]]
    findable = [e for e in events if truth[e["event_id"]] & catalog]
    matched_findable = [e for e in matched if truth[e["event_id"]] & catalog]
    assert notes["track_matched"] == len(matched) and len({e["event_id"] for e in events}) == len(truth) > 5000
    print(
        f"\n{measured}'s account data matched by name against the three other listeners' extended exports: "
        f"{len(events):,} plays, {len(matched) / len(events):.1%} matched "
        f"({notes['track_ambiguous_in_catalog'] / len(events):.1%} ambiguous in the catalog), "
        f"precision {len(right) / len(matched):.1%}; of the plays whose true track the catalog holds, "
        f"{sum(e in right for e in findable) / len(findable):.1%} matched it, and precision there "
        f"{sum(e in right for e in matched_findable) / len(matched_findable):.1%}"
    )
    assert len(matched) / len(events) > 0.12 and len(right) / len(matched) > 0.5
    # A wrong id only where the catalog holds the track's names under another release's id only.
    assert all(e in right for e in matched_findable)
    assert sum(e in right for e in findable) / len(findable) > 0.7

    # A listener's other export: no play counted twice, in either order.
    extended_first = ["listener_ar", "listener_in_1"]
    for listener in extended_first:
        reshape(histories / listener, tmp_path / "account" / listener)
        report, _ = run("spotify-account-history", tmp_path / "account" / listener, raw_dir=raw)
        assert all(f.written.get("listening_events", 0) == 0 for f in report.files), report.summary()
        assert sum(f.notes.get(OVERLAP, 0) for f in report.files) > 1000
    report, _ = run("spotify-history", histories / measured, raw_dir=raw)
    assert sum(f.notes.get(OVERLAP, 0) for f in report.files) > 9000
    # The plays staging counts (exact copies are one play) are the extended export's plays.
    for listener in extended_first + [measured]:
        plays = {e["event_id"] for e in events_of(raw, listener)}
        assert len(plays) == len(extended_plays(histories / listener)), listener


def extended_plays(listener_folder: Path) -> set[str]:
    """The event ids of the plays a listener's extended export loads alone."""
    return {
        map_play("", play, listener_folder.name, Counter()).event["event_id"]
        for path in sorted(listener_folder.glob("Streaming_History_Audio_*.json"))
        for play in json.loads(path.read_text())
        if not set_aside_reason(play)
    }
