"""Tests of the synthetic data generator: contract, determinism, bad-row bookkeeping, realism.

The realism tests measure, on a small dataset, the properties that make recommendations
meaningful (taste concentration, skips, repeats, discoveries, follows, saves, playlists, sessions)
against the generator's ground truth. All datasets are generated once per module.
"""

import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tunesday.contract import KEYS, SCHEMAS, SERVICE_LAUNCH_DATE
from tunesday.experiments import read_experiments
from tunesday.generate import GeneratorConfig, generate
from tunesday.generate.bad_rows import REASONS
from tunesday.generate.cli import main
from tunesday.generate.writer import MARKER

END = dt.date(2024, 6, 1)
DAYS = 21
WINDOW_START = END - dt.timedelta(days=DAYS)
LOADED_AT = dt.datetime(2024, 6, 1, 6, 30)  # pinned: the same arguments give the same files
SMALL = dict(users=300, tracks=2000, days=DAYS, seed=7, end_date=END, loaded_at=LOADED_AT)
MS_PER_DAY = 86_400_000
TRUTH_TABLES = ("user_taste", "user_profile", "user_favourite_artists", "artist_clusters")


def read(out: Path, table: str, area: str = "raw") -> pa.Table:
    files = sorted((out / area / table).glob("part-*.parquet"))
    assert files, f"no part files for {area}/{table}"
    return pa.concat_tables([pq.read_table(f) for f in files])


def index_of(values: pa.Array, keys: pa.Array) -> np.ndarray:
    """Position of each value in keys; -1 when missing or null."""
    found = pc.index_in(values, value_set=keys)
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def ts_ms(column) -> np.ndarray:
    return pc.cast(column, pa.int64()).to_numpy(zero_copy_only=False) // 1000


def day_ms(date: dt.date) -> int:
    return (date - dt.date(1970, 1, 1)).days * MS_PER_DAY


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    generate(GeneratorConfig(**SMALL, out=out, bad_share=0))
    return out


@pytest.fixture(scope="module")
def dirty(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dirty")
    generate(GeneratorConfig(**SMALL, out=out, bad_share=0.01))
    return out


@pytest.fixture(scope="module")
def data(clean):
    """The clean dataset's tables and the joins the realism tests share, as numpy arrays."""
    t = {name: read(clean, name) for name in SCHEMAS}
    truth = {name: read(clean, name, "truth") for name in TRUTH_TABLES}
    ev, tracks, users = t["listening_events"], t["tracks"], t["users"]
    artist_cluster = truth["artist_clusters"]
    track_artist = index_of(tracks["artist_id"], artist_cluster["artist_id"])
    d = {
        "t": t,
        "truth": truth,
        "user": index_of(ev["user_id"], users["user_id"]),
        "track": index_of(ev["track_id"], tracks["track_id"]),
        "played_ms": ts_ms(ev["played_at"]),
        "ms_played": ev["ms_played"].to_numpy(),
        "skipped": ev["skipped"].to_numpy(zero_copy_only=False),
        "reason_start": np.array(ev["reason_start"].to_pylist()),
        "reason_end": np.array(ev["reason_end"].to_pylist()),
        "track_artist": track_artist,
        "track_cluster": artist_cluster["cluster_id"].to_numpy()[track_artist],
        "n_users": users.num_rows,
        "n_clusters": int(pc.max(artist_cluster["cluster_id"]).as_py()) + 1,
    }
    d["day"] = (d["played_ms"] - day_ms(WINDOW_START)) // MS_PER_DAY
    taste = truth["user_taste"]
    d["taste_keys"] = index_of(taste["user_id"], users["user_id"]) * d["n_clusters"] + taste["cluster_id"].to_numpy()
    d["in_taste"] = np.isin(d["user"] * d["n_clusters"] + d["track_cluster"][d["track"]], d["taste_keys"])
    return d


def tables_equal(a: Path, b: Path) -> dict[str, bool]:
    return {
        f"{area}/{name}": read(a, name, area).equals(read(b, name, area))
        for area, names in (("raw", SCHEMAS), ("truth", TRUTH_TABLES))
        for name in names
    }


# Layout, contract, determinism ------------------------------------------------------------------


def test_layout_and_schemas_follow_the_contract(clean):
    for name, schema in SCHEMAS.items():
        for part in (clean / "raw" / name).glob("*.parquet"):
            assert pq.read_schema(part).equals(schema), f"{part} does not match contract.SCHEMAS[{name!r}]"
        # Every row is stamped with the time the dataset counts as loaded. (No experiment of the
        # seeds runs in this window: no exposures.)
        stamps = set(read(clean, name)["loaded_at"].to_pylist())
        assert stamps == {LOADED_AT} or (name == "exposures" and not stamps), name
    for name in TRUTH_TABLES:
        assert read(clean, name, "truth").num_rows > 0
    manifest = json.loads((clean / "manifest.json").read_text())
    assert manifest["args"]["seed"] == 7 and manifest["args"]["end_date"] == END.isoformat()
    assert manifest["args"]["loaded_at"] == LOADED_AT.isoformat()
    assert manifest["generation_seconds"] > 0


def test_exposures_are_each_listening_day_of_a_running_experiment_in_the_listeners_variant(tmp_path):
    """The simulated shim serves experiments from halfway through the window, here 2026-01-01, the
    seeds' experiment's start: a listener is exposed on each day from then on that they listen, at
    their first play, to the variant Python assigns them."""
    experiment = read_experiments()["for_you_ranker_vs_blend"]
    generate(
        GeneratorConfig(
            users=150,
            tracks=600,
            days=14,
            seed=5,
            end_date=dt.date(2026, 1, 8),
            bad_share=0,
            loaded_at=dt.datetime(2026, 1, 8, 6),
            out=tmp_path,
        )
    )
    events, exposures = read(tmp_path, "listening_events"), read(tmp_path, "exposures")  # noqa: F841 (DuckDB reads them by name)
    expected = duckdb.sql("""
        select user_id, min(played_at) as first_play from events
        where played_at >= timestamp '2026-01-01' group by user_id, cast(played_at as date)
    """).fetchall()
    found = duckdb.sql("select user_id, exposed_at, variant, experiment_id, surface from exposures").fetchall()
    assert sorted(row[:2] for row in found) == sorted(expected) and len(found) > 100
    assert all(
        (row[2], row[3], row[4]) == (experiment.variant_of(row[0]).name, experiment.experiment_id, "for_you")
        for row in found
    )
    assert {row[2] for row in found} == {"blend", "control"}
    assert len(set(exposures["exposure_id"].to_pylist())) == exposures.num_rows


def test_same_arguments_give_the_same_data_and_another_seed_does_not(clean, tmp_path):
    again, other = tmp_path / "again", tmp_path / "other"
    generate(GeneratorConfig(**SMALL, out=again, bad_share=0))
    assert all(tables_equal(clean, again).values())
    generate(GeneratorConfig(**{**SMALL, "seed": 8}, out=other, bad_share=0))
    differs = [name for name, same in tables_equal(clean, other).items() if not same]
    assert "raw/listening_events" in differs and "raw/tracks" in differs


def test_output_does_not_depend_on_workers(tmp_path):
    """Three chunks of 100 listeners, generated in one process and in two."""
    settings = dict(
        users=260, tracks=600, days=7, seed=3, end_date=END, bad_share=0.01, chunk_users=100, loaded_at=LOADED_AT
    )
    generate(GeneratorConfig(**settings, out=tmp_path / "one", workers=1))
    manifest = generate(GeneratorConfig(**settings, out=tmp_path / "two", workers=2))
    assert manifest["chunks"] == 3
    assert len(list((tmp_path / "two" / "raw" / "listening_events").glob("*.parquet"))) == 3
    assert all(tables_equal(tmp_path / "one", tmp_path / "two").values())


def test_bad_rows_do_not_change_the_good_rows(clean, dirty):
    users = read(clean, "users")
    dirty_users = read(dirty, "users")
    assert pc.all(pc.is_in(users["user_id"], value_set=dirty_users["user_id"])).as_py()
    clean_events = read(clean, "listening_events")
    dirty_events = read(dirty, "listening_events")
    assert pc.all(pc.is_in(clean_events["event_id"], value_set=dirty_events["event_id"])).as_py()


def test_a_rerun_replaces_the_dataset(tmp_path):
    """A part file left by an earlier run (the folder is the generator's: its marker) is removed."""
    stale = tmp_path / "raw" / "listening_events" / "part-09999.parquet"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    (tmp_path / MARKER).write_text("an earlier run\n")
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    main(
        [
            "--users",
            "20",
            "--tracks",
            "400",
            "--days",
            "3",
            "--end-date",
            END.isoformat(),
            "--out",
            str(tmp_path),
            "--seed",
            "1",
        ]
    )
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert not stale.exists()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["args"]["users"] == 20 and manifest["args"]["artists"] == 40
    assert manifest["rows"]["users"] == read(tmp_path, "users").num_rows
    # Without --loaded-at the rows count as loaded when they were generated (fresh data is fresh).
    [loaded_at] = set(read(tmp_path, "listening_events")["loaded_at"].to_pylist())
    assert before <= loaded_at <= after


def test_loaded_at_option_takes_utc_and_pins_the_stamp(tmp_path):
    main(
        [
            "--users",
            "5",
            "--tracks",
            "400",
            "--days",
            "2",
            "--end-date",
            END.isoformat(),
            "--out",
            str(tmp_path),
            "--loaded-at",
            "2024-06-01T08:30:00+02:00",
        ]
    )
    assert set(read(tmp_path, "users")["loaded_at"].to_pylist()) == {dt.datetime(2024, 6, 1, 6, 30)}


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--users", "0", "--tracks", "400", "--days", "3", "--out", str(tmp_path)])
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    with pytest.raises(SystemExit):
        main(
            [
                "--users",
                "5",
                "--tracks",
                "400",
                "--days",
                "3",
                "--end-date",
                tomorrow.isoformat(),
                "--out",
                str(tmp_path),
            ]
        )
    capsys.readouterr()
    for loaded_at, says in [
        ("yesterday", "is not an ISO date and time"),
        ("2024-05-31T23:00:00", "must not be before --end-date"),
        (f"{tomorrow}T00:00:00", "must not be in the future"),
    ]:
        with pytest.raises(SystemExit):
            main(
                [
                    "--users",
                    "5",
                    "--tracks",
                    "400",
                    "--days",
                    "3",
                    "--end-date",
                    END.isoformat(),
                    "--out",
                    str(tmp_path / "bad"),
                    "--loaded-at",
                    loaded_at,
                ]
            )
        [error] = capsys.readouterr().err.strip().splitlines()
        assert error.startswith("tunesday-generate: ") and says in error, error
    assert not (tmp_path / "bad").exists()


def test_no_event_in_the_future_when_the_window_ends_today(tmp_path):
    today = dt.datetime.now(dt.UTC).date()
    generate(GeneratorConfig(users=40, tracks=400, days=2, end_date=today, out=tmp_path, bad_share=0))
    played = ts_ms(read(tmp_path, "listening_events")["played_at"])
    assert len(played) > 0
    assert played.max() < day_ms(today)
    assert played.min() >= day_ms(today - dt.timedelta(days=2))


# Good rows are clean ---------------------------------------------------------------------------


def test_keys_are_unique_and_not_null(data):
    for name, keys in KEYS.items():
        table = data["t"][name]
        for key in keys:
            assert table[key].null_count == 0, f"{name}.{key} has nulls"
        distinct = table.group_by(list(keys)).aggregate([]).num_rows
        assert distinct == table.num_rows, f"{name} has duplicate keys"


def test_references_resolve(data):
    t = data["t"]
    pairs = [
        ("listening_events", "user_id", "users", "user_id"),
        ("listening_events", "track_id", "tracks", "track_id"),
        ("tracks", "artist_id", "artists", "artist_id"),
        ("playlists", "owner_user_id", "users", "user_id"),
        ("playlist_tracks", "playlist_id", "playlists", "playlist_id"),
        ("playlist_tracks", "track_id", "tracks", "track_id"),
        ("follows", "user_id", "users", "user_id"),
        ("follows", "artist_id", "artists", "artist_id"),
        ("saved_tracks", "user_id", "users", "user_id"),
        ("saved_tracks", "track_id", "tracks", "track_id"),
    ]
    for table, column, target, key in pairs:
        missing = (index_of(t[table][column], t[target][key]) < 0).sum()
        assert missing == 0, f"{missing} {table}.{column} not in {target}"


def test_good_rows_are_within_the_rules(data):
    t = data["t"]
    played = data["played_ms"]
    assert played.min() >= day_ms(WINDOW_START) > day_ms(dt.date.fromisoformat(SERVICE_LAUNCH_DATE))
    assert played.max() < day_ms(END)
    assert data["ms_played"].min() >= 0 and data["ms_played"].max() <= MS_PER_DAY
    tracks = t["tracks"]
    tempo = tracks["tempo"].to_numpy()
    assert tempo.min() >= 30 and tempo.max() <= 250
    assert set(tracks["key"].to_pylist()) <= set(range(-1, 12))
    assert set(tracks["mode"].to_pylist()) == {0, 1}
    assert set(tracks["time_signature"].to_pylist()) <= set(range(3, 8))
    popularity = tracks["popularity"].to_numpy()
    assert popularity.min() >= 0 and popularity.max() <= 100
    for feature in ("energy", "valence", "danceability", "acousticness", "instrumentalness"):
        values = tracks[feature].to_numpy()
        assert values.min() >= 0 and values.max() <= 1, feature
    assert tracks["loudness"].to_numpy().max() <= 0
    for name, column in (
        ("follows", "followed_at"),
        ("saved_tracks", "saved_at"),
        ("playlist_tracks", "added_at"),
        ("playlists", "created_at"),
    ):
        assert ts_ms(t[name][column]).max() < day_ms(END), f"{name}.{column} after the window"


# Bad rows: counted, one problem each -----------------------------------------------------------


def _violations(t: dict[str, pa.Table]) -> dict[str, dict[str, np.ndarray]]:
    """The staging models' rejection rules, per table and reason, as boolean masks."""

    def null(table, column):
        return table[column].is_null().to_numpy(zero_copy_only=False)

    def unknown(table, column, known):
        return ~null(table, column) & (index_of(table[column], known) < 0)

    def good_ids(name, column, masks):
        bad = np.any(list(masks.values()), axis=0) if masks else np.zeros(t[name].num_rows, bool)
        return pc.drop_null(pa.array(t[name][column].to_numpy(zero_copy_only=False)[~bad]))

    out = {}
    out["artists"] = {"missing_artist_id": null(t["artists"], "artist_id")}
    out["users"] = {"missing_user_id": null(t["users"], "user_id")}
    artists = good_ids("artists", "artist_id", out["artists"])
    users = good_ids("users", "user_id", out["users"])
    tr = t["tracks"]
    tempo, key, mode = (tr[c].to_numpy() for c in ("tempo", "key", "mode"))
    out["tracks"] = {
        "missing_track_id": null(tr, "track_id"),
        "missing_artist_id": null(tr, "artist_id"),
        "unknown_artist_id": unknown(tr, "artist_id", artists),
        "tempo_out_of_range": (tempo < 30) | (tempo > 250),
        "key_out_of_range": (key < -1) | (key > 11),
        "mode_out_of_range": ~np.isin(mode, [0, 1]),
    }
    tracks = good_ids("tracks", "track_id", out["tracks"])
    pl = t["playlists"]
    out["playlists"] = {
        "missing_playlist_id": null(pl, "playlist_id"),
        "unknown_owner_user_id": unknown(pl, "owner_user_id", users),
    }
    playlists = good_ids("playlists", "playlist_id", out["playlists"])
    pt = t["playlist_tracks"]
    out["playlist_tracks"] = {
        "missing_track_id": null(pt, "track_id"),
        "unknown_playlist_id": unknown(pt, "playlist_id", playlists),
        "unknown_track_id": unknown(pt, "track_id", tracks),
    }
    for name, item, known in (("follows", "artist_id", artists), ("saved_tracks", "track_id", tracks)):
        out[name] = {
            f"unknown_{item}": unknown(t[name], item, known),
            "unknown_user_id": unknown(t[name], "user_id", users),
        }
    ev = t["listening_events"]
    played = pc.cast(ev["played_at"], pa.int64()).to_numpy(zero_copy_only=False)
    ms = ev["ms_played"].to_numpy(zero_copy_only=False)
    launch_us = day_ms(dt.date.fromisoformat(SERVICE_LAUNCH_DATE)) * 1000
    now_us = int(dt.datetime.now(dt.UTC).timestamp() * 1_000_000)
    has_time = ~null(ev, "played_at")
    out["listening_events"] = {
        "missing_event_id": null(ev, "event_id"),
        "missing_user_id": null(ev, "user_id"),
        "unknown_user_id": unknown(ev, "user_id", users),
        "missing_track_id": null(ev, "track_id"),
        "unknown_track_id": unknown(ev, "track_id", tracks),
        "missing_played_at": ~has_time,
        "played_at_in_future": has_time & (played > now_us),
        "played_at_before_launch": has_time & (played < launch_us),
        "negative_ms_played": ms < 0,
        "absurd_ms_played": ms > MS_PER_DAY,
    }
    return out


def test_manifest_reconciles_with_the_files(dirty):
    manifest = json.loads((dirty / "manifest.json").read_text())
    t = {name: read(dirty, name) for name in SCHEMAS}
    for name, table in t.items():
        assert manifest["rows"][name] == table.num_rows, name
    for name in TRUTH_TABLES:
        assert manifest["truth_rows"][name] == read(dirty, name, "truth").num_rows
    violations = _violations(t)
    for name, masks in violations.items():
        recorded = manifest["bad_rows"][name]
        assert set(recorded) == set(REASONS[name]) == set(masks) | {"duplicate"}
        problems = np.sum(list(masks.values()), axis=0)
        assert problems.max() <= 1, f"a bad {name} row has more than one problem"
        for reason, mask in masks.items():
            assert mask.sum() == recorded[reason] >= 1, f"{name}.{reason}"
        # Rows breaking no rule: their duplicate keys are exact copies, as many as recorded.
        table, keys = t[name], list(KEYS[name])
        ok = table.filter(pa.array(problems == 0))
        distinct_keys = ok.group_by(keys).aggregate([]).num_rows
        distinct_rows = ok.group_by(ok.column_names).aggregate([]).num_rows
        assert ok.num_rows - distinct_keys == recorded["duplicate"] >= 1, f"{name}.duplicate"
        assert distinct_rows == distinct_keys, f"{name}: a duplicate key that is not an exact copy"
        # A rejected row never shares its key with a good row: its reason stays its only problem.
        bad = table.filter(pa.array(problems == 1)).select(keys).drop_null()
        joined = bad.join(ok.select(keys).group_by(keys).aggregate([]), keys, join_type="inner")
        assert joined.num_rows == 0, f"{name}: a rejected row reuses a good key"


# Realism ---------------------------------------------------------------------------------------


def test_track_plays_are_heavy_tailed(data):
    plays = np.sort(np.bincount(data["track"], minlength=data["t"]["tracks"].num_rows))[::-1]
    top_tenth = plays[: len(plays) // 10].sum() / plays.sum()
    assert top_tenth > 0.4
    assert np.median(plays) < 0.5 * plays.mean()  # most tracks sit in the long tail


def test_plays_concentrate_on_the_truth_clusters(data):
    cluster_tracks = np.bincount(data["track_cluster"], minlength=data["n_clusters"])
    taste_cluster = data["taste_keys"] % data["n_clusters"]
    taste_user = data["taste_keys"] // data["n_clusters"]
    catalog_share = np.bincount(taste_user, cluster_tracks[taste_cluster], minlength=data["n_users"])
    catalog_share /= len(data["track_cluster"])
    listened = np.bincount(data["user"], minlength=data["n_users"]) > 0
    play_share = data["in_taste"].mean()
    assert play_share > 0.8
    assert play_share > 4 * catalog_share[listened].mean()


def test_skips_follow_taste_and_tempo(data):
    skipped, in_taste = data["skipped"], data["in_taste"]
    assert skipped[~in_taste].mean() > skipped[in_taste].mean() + 0.4
    profiles = data["truth"]["user_profile"]
    profile_row = index_of(data["t"]["users"]["user_id"], profiles["user_id"])
    preferred = profiles["preferred_tempo"].to_numpy()[profile_row]
    tempo = data["t"]["tracks"]["tempo"].to_numpy()[data["track"]]
    wanted = preferred[data["user"]]
    gap = np.minimum.reduce([np.abs(tempo - wanted), np.abs(2 * tempo - wanted), np.abs(tempo / 2 - wanted)])
    rates = [skipped[(gap >= lo) & (gap < hi)].mean() for lo, hi in ((0, 5), (5, 15), (15, 30), (30, 999))]
    assert all(a < b for a, b in zip(rates, rates[1:])), rates
    assert rates[-1] - rates[0] > 0.15


def test_skips_look_like_skips(data):
    skipped, ends, ms = data["skipped"], data["reason_end"], data["ms_played"]
    assert 0.1 < skipped.mean() < 0.4
    assert np.isin(ends[skipped], ["fwdbtn", "backbtn"]).all()
    assert (ms[skipped] < 60_000).all() and (ms[skipped] < 30_000).mean() > 0.7
    duration = data["t"]["tracks"]["duration_ms"].to_numpy()[data["track"]]
    done = ends == "trackdone"
    assert (np.abs(duration[done] - ms[done]) <= 1000).all()


def _pair_days(data, users, artists):
    """Distinct play days per (user, artist) pair of the given arrays."""
    artist = data["track_artist"][data["track"]]
    n_artists = data["truth"]["artist_clusters"].num_rows
    key = data["user"] * n_artists + artist
    distinct = np.unique(key * 1000 + data["day"])
    counts = np.bincount((distinct // 1000).astype(np.int64), minlength=data["n_users"] * n_artists)
    return counts[users * n_artists + artists]


def test_favourite_artists_are_played_on_several_days(data):
    fav = data["truth"]["user_favourite_artists"]
    users = index_of(fav["user_id"], data["t"]["users"]["user_id"])
    artists = index_of(fav["artist_id"], data["truth"]["artist_clusters"]["artist_id"])
    active = np.bincount(data["user"], minlength=data["n_users"]) >= 150
    fav_days = _pair_days(data, users, artists)[active[users]]
    assert np.median(fav_days) >= 4

    n_artists = data["truth"]["artist_clusters"].num_rows
    pairs = np.unique(data["user"] * n_artists + data["track_artist"][data["track"]])
    others = pairs[~np.isin(pairs, users * n_artists + artists)]
    other_days = _pair_days(data, others // n_artists, others % n_artists)
    assert np.median(other_days) == 1  # first listens of other artists are mostly one-offs


def test_discovered_favourites_stick(data):
    fav = data["truth"]["user_favourite_artists"]
    from_day = pc.cast(fav["favourite_from_date"], pa.int32()).to_numpy() - (WINDOW_START - dt.date(1970, 1, 1)).days
    assert (from_day == 0).mean() > 0.5 and (from_day > 0).sum() > 50
    users = index_of(fav["user_id"], data["t"]["users"]["user_id"])[from_day > 0]
    artists = index_of(fav["artist_id"], data["truth"]["artist_clusters"]["artist_id"])[from_day > 0]
    start = from_day[from_day > 0]
    n_artists = data["truth"]["artist_clusters"].num_rows
    play_key = data["user"] * n_artists + data["track_artist"][data["track"]]
    fav_key = users * n_artists + artists
    order = np.argsort(fav_key)
    found = np.minimum(np.searchsorted(fav_key[order], play_key), len(order) - 1)
    on = fav_key[order][found] == play_key
    which = np.where(on, order[found], -1)
    after = data["day"][on] >= start[which[on]]
    days_before, days_after = start.sum(), (DAYS - start).sum()
    before_rate = (~after).sum() / days_before
    after_rate = after.sum() / days_after
    assert after_rate > 3 * before_rate
    distinct_after = np.unique(which[on][after] * 100 + data["day"][on][after]) // 100
    sticky = np.bincount(distinct_after, minlength=len(start)) >= 2
    active = np.bincount(data["user"], minlength=data["n_users"])[users] >= 150
    assert sticky[active].mean() > 0.6


def test_nothing_plays_before_release_or_signup_and_new_releases_get_played(data):
    tracks, users = data["t"]["tracks"], data["t"]["users"]
    release = pc.cast(tracks["release_date"], pa.int32()).to_numpy().astype(np.int64) * MS_PER_DAY
    signup = pc.cast(users["signup_date"], pa.int32()).to_numpy().astype(np.int64) * MS_PER_DAY
    assert (data["played_ms"] >= release[data["track"]]).all()
    assert (data["played_ms"] >= signup[data["user"]]).all()
    assert ((signup >= day_ms(WINDOW_START)).mean()) > 0.02  # some listeners join during the window

    new = release >= day_ms(WINDOW_START)
    assert 0.05 < new.mean() < 0.15
    plays = np.bincount(data["track"], minlength=len(release))
    assert plays[new].sum() / plays.sum() > 0.02
    # The popularity bump: a new release's first week is busier than the days after it. Plays from
    # the listener's own lists (playlists, liked songs) are left out: those pick a release up later.
    early_new = np.flatnonzero(new & (release < day_ms(WINDOW_START) + 7 * MS_PER_DAY))
    released_day = (release[early_new] - day_ms(WINDOW_START)) // MS_PER_DAY
    context = data["t"]["listening_events"]["context_type"].to_numpy(zero_copy_only=False)
    on = np.isin(data["track"], early_new) & ~np.isin(context, ["playlist", "collection"])
    age = (data["played_ms"][on] - release[data["track"][on]]) // MS_PER_DAY
    first_week_rate = (age < 7).sum() / (7 * len(early_new))
    later_rate = (age >= 7).sum() / (DAYS - 7 - released_day).sum()
    assert first_week_rate > 1.5 * later_rate


def test_follows_and_saves_follow_listening(data):
    t = data["t"]
    n_artists = data["truth"]["artist_clusters"].num_rows
    n_tracks = t["tracks"].num_rows
    users, end_ms = t["users"]["user_id"], day_ms(END)
    window_start_ms = day_ms(WINDOW_START)

    follows = t["follows"]
    f_user = index_of(follows["user_id"], users)
    f_artist = index_of(follows["artist_id"], data["truth"]["artist_clusters"]["artist_id"])
    f_at = ts_ms(follows["followed_at"])
    play_artist = data["track_artist"][data["track"]]
    streamed = np.isin(f_user * n_artists + f_artist, data["user"] * n_artists + play_artist)
    assert streamed.mean() > 0.8
    assert (f_at < end_ms).all()
    in_window = f_at >= window_start_ms
    assert in_window.mean() > 0.3
    plays_before = _plays_before(
        data["user"] * n_artists + play_artist,
        data["played_ms"],
        (f_user * n_artists + f_artist)[in_window],
        f_at[in_window],
    )
    assert (plays_before >= 3).mean() > 0.85

    saves = t["saved_tracks"]
    s_user = index_of(saves["user_id"], users)
    s_track = index_of(saves["track_id"], t["tracks"]["track_id"])
    s_at = ts_ms(saves["saved_at"])
    streamed = np.isin(s_user * n_tracks + s_track, data["user"] * n_tracks + data["track"])
    assert streamed.mean() > 0.8
    in_window = s_at >= window_start_ms
    plays_before = _plays_before(
        data["user"] * n_tracks + data["track"],
        data["played_ms"],
        (s_user * n_tracks + s_track)[in_window],
        s_at[in_window],
    )
    assert (plays_before >= 2).mean() > 0.85


def _plays_before(play_key, play_ms, key, at_ms) -> np.ndarray:
    """For each (key, time): how many plays with that key started at or before the time."""
    base, span = play_ms.min(), 2**34  # the window in ms fits in span
    combined = np.sort(play_key * span + (play_ms - base))
    upto = np.searchsorted(combined, key * span + np.clip(at_ms - base, -1, span - 1), side="right")
    return upto - np.searchsorted(combined, key * span, side="left")


def test_playlists_are_built_from_the_owners_taste(data):
    t = data["t"]
    items, playlists = t["playlist_tracks"], t["playlists"]
    which = index_of(items["playlist_id"], playlists["playlist_id"])
    sizes = np.bincount(which, minlength=playlists.num_rows)
    assert sizes.min() >= 10 and sizes.max() <= 80
    assert (sizes >= 15).mean() > 0.5
    positions = items["position"].to_numpy()
    order = np.lexsort((positions, which))
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    assert (positions[order] == np.arange(len(order)) - np.repeat(starts, sizes)).all()

    owner = index_of(playlists["owner_user_id"], t["users"]["user_id"])[which]
    track = index_of(items["track_id"], t["tracks"]["track_id"])
    in_taste = np.isin(owner * data["n_clusters"] + data["track_cluster"][track], data["taste_keys"])
    assert in_taste.mean() > 0.75
    added, created = ts_ms(items["added_at"]), ts_ms(playlists["created_at"])[which]
    assert (added >= created).all() and (added < day_ms(END)).all()

    ev = t["listening_events"]
    in_playlist = pc.equal(ev["context_type"], "playlist").to_numpy(zero_copy_only=False)
    play_key = pc.binary_join_element_wise(ev["context_id"], ev["track_id"], "|")
    play_key = play_key.filter(pa.array(in_playlist))
    item_key = pc.binary_join_element_wise(items["playlist_id"], items["track_id"], "|")
    assert in_playlist.mean() > 0.1
    assert pc.all(pc.is_in(play_key, value_set=item_key)).as_py()  # playlist plays are of its tracks


def test_sessions_are_runs_of_plays_separated_by_breaks(data):
    order = np.lexsort((data["played_ms"], data["user"]))
    user, played, ms = data["user"][order], data["played_ms"][order], data["ms_played"][order]
    start, end = data["reason_start"][order], data["reason_end"][order]
    same_user = user[1:] == user[:-1]
    gap = played[1:] - played[:-1]
    idle = played[1:] - (played[:-1] + ms[:-1])
    continuing = same_user & np.isin(start[1:], ["trackdone", "fwdbtn", "backbtn"])
    new_session = same_user & np.isin(start[1:], ["playbtn", "appload", "remote"])
    assert continuing.sum() > 10 * new_session.sum() > 0
    assert (gap[continuing] < 30 * 60_000).all() and (idle[continuing] >= 0).all()
    assert (idle[new_session] > 30 * 60_000).mean() > 0.95
    assert (start[1:][continuing] == end[:-1][continuing]).all()  # trackdone -> trackdone, fwdbtn -> fwdbtn
    plays_per_session = continuing.sum() / (new_session.sum() + (start == "clickrow").sum()) + 1
    assert 5 < plays_per_session < 15


def test_audio_features_are_realistic_per_genre(data):
    tracks = data["t"]["tracks"]
    genre = np.array(tracks["genre"].to_pylist())
    tempo, mode, key = (tracks[c].to_numpy() for c in ("tempo", "mode", "key"))
    for name, (lo, hi) in {
        "techno": (122, 135),
        "drum and bass": (160, 178),
        "hip hop": (80, 100),
        "house": (118, 128),
    }.items():
        assert lo <= np.median(tempo[genre == name]) <= hi, name
    electronic_or_metal = np.isin(genre, ["techno", "metal", "trap"])
    major_genres = np.isin(genre, ["pop", "country", "folk"])
    assert mode[electronic_or_metal].mean() < mode[major_genres].mean() - 0.2
    keys = np.bincount(key + 1, minlength=13) / len(key)
    assert keys[1 + 0] > 2 * keys[1 + 3] and keys[1 + 7] > 2 * keys[1 + 3]  # C and G beat D#
    assert 0.002 < keys[0] < 0.03  # about 1% without a key
    minutes = tracks["duration_ms"].to_numpy() / 60_000
    assert 3 < np.median(minutes) < 4.5
    assert np.median(minutes[genre == "classical"]) > np.median(minutes[genre == "pop"]) + 1.5
    assert (tracks["time_signature"].to_numpy() == 4).mean() > 0.8


def test_the_generator_never_deletes_what_it_did_not_write(tmp_path, capsys):
    """It replaces its own earlier output, and refuses, in one line and touching nothing, a folder
    into which real data was loaded (the loaders' ledger) or whose raw data it did not write."""
    small = ["--users", "20", "--tracks", "300", "--days", "2", "--seed", "3"]
    out = tmp_path / "data"
    assert main([*small, "--out", str(out)]) == 0 and main([*small, "--out", str(out)]) == 0
    assert "chunk 1/1:" in capsys.readouterr().err  # progress, a line per chunk
    ledger = out / "raw" / "_loads" / "ledger.jsonl"
    ledger.parent.mkdir()
    ledger.write_text('{"loader": "spotify-history"}\n')
    before = sorted(path for path in out.rglob("*"))
    assert main([*small, "--out", str(out)]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"tunesday-generate: {out / 'raw'} holds loaded data"), line
    assert sorted(path for path in out.rglob("*")) == before
    foreign = tmp_path / "exports"
    (foreign / "raw" / "tracks").mkdir(parents=True)
    (foreign / "raw" / "tracks" / "mine.parquet").write_bytes(b"not the generator's")
    assert main([*small, "--out", str(foreign)]) == 1
    assert "was not written by the generator" in capsys.readouterr().err
    assert (foreign / "raw" / "tracks" / "mine.parquet").read_bytes() == b"not the generator's"
