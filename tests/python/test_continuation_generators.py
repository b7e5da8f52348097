"""The SQL candidate generators of the playlist continuations against their definitions, computed
by brute force in Python from the same input (int_playlist_track_keys and the playlists' titles of
the warehouse): RP3beta, the tail-weighted seeds and the neighbours with their title match. On a
small synthetic split (clusters of tracks, titles from a few words, tracks in random order) where
no per-seed cap binds (asserted), so every candidate's score is the formula's, summed over all its
seeds; the 100 nearest neighbours are chosen as the SQL does."""

import math
import random
import re

import pytest

pytest.importorskip("implicit", reason="the recsys extra is not installed")

from tunesday.mpd import Playlist, Track  # noqa: E402
from tunesday.recsys import warehouse  # noqa: E402
from tunesday.recsys.split import MIN_HOLDOUTS, make_split, read_challenge, write_split  # noqa: E402
from tunesday.warehouse import connect  # noqa: E402

WORDS = ["road", "trip", "chill", "gym", "party", "rainy", "sunday", "focus"]


def playlists() -> list[Playlist]:
    """160 playlists of 30 to 40 tracks, each from one of 4 clusters of 50 tracks (the lower ids
    more popular) with a few from elsewhere, titled with two of WORDS, the first its cluster's."""
    rng = random.Random(5)
    made = []
    for pid in range(160):
        cluster = pid % 4
        size = rng.randint(30, 40)
        picked: list[int] = []
        while len(picked) < size:
            track = (cluster * 50 + int(rng.paretovariate(1.2)) % 50) if rng.random() < 0.9 else rng.randrange(200)
            if track not in picked:
                picked.append(track)
        tracks = tuple(
            Track(
                f"spotify:track:{track:022d}",
                f"artist {track % 37}",
                f"song {track}",
                f"spotify:artist:{track % 37:022d}",
            )
            for track in picked
        )
        name = f"{WORDS[cluster]} {rng.choice(WORDS)}" if pid % 7 else "!!"
        made.append(Playlist(pid, name, tracks))
    return made


def tokens(name: str | None) -> set[str]:
    return set(re.sub(r"[^a-z0-9]+", " ", (name or "").lower()).split())


def test_the_generators_compute_their_formulas(tmp_path):
    split = make_split(playlists(), 20, seed=3)
    paths = write_split(split, tmp_path, 3, MIN_HOLDOUTS, date="test")
    built = warehouse.build(
        paths["train"], paths["challenge"], read_challenge(paths["challenge"]), tmp_path / "warehouse", ranking="blend"
    )
    beta, decay, title_weight, max_seeds = (
        float(warehouse.project_var(name))
        for name in (
            "continuation_rp3_beta",
            "continuation_tail_decay",
            "continuation_neighbour_title_weight",
            "continuation_max_seed_tracks",
        )
    )
    with connect(built.warehouse) as con:
        keys = con.execute(
            "select playlist_key, track_key, playlist_id, first_position, playlist_track_count, "
            "track_playlist_count from int_playlist_track_keys"
        ).fetchall()
        names = dict(con.execute("select playlist_id, playlist_name from stg_raw__playlists").fetchall())
        found = {
            (row[0], row[1]): row[2:]
            for row in con.execute(
                "select playlist_id, track_id, rp3beta_score, tail_score, neighbours_score, cooccurrence_score "
                "from int_playlist_continuation_candidates"
            ).fetchall()
        }
        track_ids = dict(con.execute("select distinct track_key, track_id from int_playlist_track_keys").fetchall())

    position: dict[int, dict[int, int]] = {}  # playlist -> track -> first position
    size, reach, playlist_ids = {}, {}, {}
    for playlist, track, playlist_id, first, playlist_size, track_reach in keys:
        position.setdefault(playlist, {})[track] = first
        size[playlist], reach[track], playlist_ids[playlist] = playlist_size, track_reach, playlist_id
    holders: dict[int, list[int]] = {}
    for playlist, tracks in position.items():
        for track in tracks:
            holders.setdefault(track, []).append(playlist)
    continued = [playlist for playlist in position if size[playlist] <= max_seeds]
    assert len(continued) == 20

    # Pairs from each seed: Σ 1/sqrt|h| (strength) and Σ 1/|h| (the walk), over the playlists h.
    strength: dict[int, dict[int, float]] = {}
    walk: dict[int, dict[int, float]] = {}
    for track in {seed for playlist in continued for seed in position[playlist]}:
        for holder in holders[track]:
            for other in position[holder]:
                if other != track:
                    strength.setdefault(track, {}).setdefault(other, 0.0)
                    strength[track][other] += 1 / math.sqrt(size[holder])
                    walk.setdefault(track, {}).setdefault(other, 0.0)
                    walk[track][other] += 1 / size[holder]
    assert max(len(pairs) for pairs in strength.values()) < 500, "the per-seed cap would bind"

    titled = sum(1 for playlist in position if names[playlist_ids[playlist]] is not None)
    frequency: dict[str, int] = {}
    for playlist in position:
        for token in tokens(names[playlist_ids[playlist]]):
            frequency[token] = frequency.get(token, 0) + 1
    idf = {token: math.log(titled / count) for token, count in frequency.items()}

    checked = {"rp3beta": 0, "tail": 0, "neighbours": 0}
    capped = 0  # playlists with more than 100 candidate neighbours
    for playlist in continued:
        seeds = sorted(position[playlist], key=lambda track: (position[playlist][track], track))
        expected: dict[str, dict[int, float]] = {name: {} for name in checked}
        for place, seed in enumerate(seeds, 1):
            for other, value in walk[seed].items():
                if other not in position[playlist]:
                    rp3 = value / (reach[seed] * reach[other] ** beta)
                    expected["rp3beta"][other] = expected["rp3beta"].get(other, 0.0) + rp3
                    tail = strength[seed][other] / math.sqrt(reach[seed]) * decay ** (len(seeds) - place)
                    expected["tail"][other] = expected["tail"].get(other, 0.0) + tail
        # Neighbours: the holders of the seeds (at most 100 a seed, the shortest first; none binds
        # here), the 100 most similar (ties, compared to 9 decimals like the SQL, by key).
        shared: dict[int, int] = {}
        for seed in seeds:
            assert len(holders[seed]) <= 100
            for holder in holders[seed]:
                if holder != playlist:
                    shared[holder] = shared.get(holder, 0) + 1
        own = tokens(names[playlist_ids[playlist]])
        own_idf = sum(idf[token] for token in own)
        similarity = {}
        for holder, count in shared.items():
            match = sum(idf[token] for token in own & tokens(names[playlist_ids[holder]])) / own_idf if own_idf else 0.0
            similarity[holder] = (count + title_weight * match) ** 2 / size[holder] ** 0.8
        neighbours = sorted(similarity, key=lambda holder: (-round(similarity[holder], 9), holder))[:100]
        capped += len(similarity) > 100
        for holder in neighbours:
            for track in position[holder]:
                if track not in position[playlist]:
                    expected["neighbours"][track] = expected["neighbours"].get(track, 0.0) + similarity[holder]
        for column, name in enumerate(checked):
            assert expected[name], (name, playlist)
            for track, value in expected[name].items():
                row = found.get((playlist_ids[playlist], track_ids[track]))
                assert row is not None, (name, playlist, track)
                assert row[column] == pytest.approx(value, rel=1e-9), (name, playlist, track)
                checked[name] += 1
            proposed = {
                track for (pid, track), row in found.items() if pid == playlist_ids[playlist] and row[column] > 0
            }
            assert proposed == {track_ids[track] for track in expected[name]}, (name, playlist)
    # The title match moved some similarity (titles are shared within a cluster) and the decay
    # changed the order: tail is not co-occurrence.
    assert title_weight > 0 and decay < 1
    assert any(row[1] > 0 and row[3] > 0 and abs(row[1] / row[3] - 1) > 0.01 for row in found.values())
    assert min(checked.values()) > 1000, checked
    assert capped > 0, "no playlist had more than 100 candidate neighbours: the cap is untested"
