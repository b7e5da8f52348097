"""A challenge set made from a list of playlists, the RecSys Challenge 2018 way, for a seed.

Rules (the same input and seed give the same split, whatever the order of the input):
- Categories: "first 5 tracks as seeds" and "first 25 tracks as seeds" (`seed_counts`), equal
  numbers of test playlists each. Seeds are the first k positions, repeats included, as in the
  official challenge set.
- Ground truth G of a test playlist = the distinct track URIs after the seeds, minus every track
  that is also a seed (a repeated track is no new track), in order of first appearance. This is
  what the official scorer compares against (it deduplicates and excludes seeds).
- A playlist is eligible for category k when its G has at least `min_holdouts` (5) tracks, so
  something is always held out; repeats do not count (a 34-track playlist of one song repeated
  is not eligible).
- Selection: playlists sorted by pid, shuffled with `random.Random(seed)`, then taken in that
  order; each goes to the eligible category that still has room and fewest playlists so far
  (ties: the smaller seed count). Playlists eligible for no category with room are passed over.
- Training = every playlist that is not a test playlist, the too-short ones included. Test
  playlists are not in training at all, not even their seeds: a ranker sees the seeds only in
  the challenge file. (The official challenge also gave the seeds only in the challenge set; the
  MPD did not contain the challenge playlists.)

Files:
- challenge file, the official challenge-set format: `{"date", "version", "playlists": [{"pid",
  "name", "num_holdouts", "num_samples", "num_tracks", "tracks": [seed tracks]}]}`, where
  `num_holdouts` = `num_tracks` - `num_samples` (tracks withheld, repeats included, as the
  official file counts them) and `num_tracks` the full length;
- ground truth (ours): per pid the category and G, and `track_artists` (track URI -> artist, for
  every track of the input) for the artist part of the official R-precision;
- training playlists as one MPD slice.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tunesday.mpd import Playlist, open_text, parse_playlist, track_record, write_slice

SEED_COUNTS = (5, 25)
MIN_HOLDOUTS = 5
CHALLENGE_VERSION = "v1"
GROUND_TRUTH_VERSION = 1


def holdout_uris(playlist: Playlist, num_samples: int) -> list[str]:
    """G: the distinct tracks after the first num_samples, none of them a seed, in playlist order."""
    seen = set(playlist.track_uris[:num_samples])
    holdouts = []
    for uri in playlist.track_uris[num_samples:]:
        if uri not in seen:
            seen.add(uri)
            holdouts.append(uri)
    return holdouts


@dataclass(frozen=True)
class ChallengeCase:
    playlist: Playlist
    num_samples: int

    @property
    def holdouts(self) -> list[str]:
        return holdout_uris(self.playlist, self.num_samples)


@dataclass(frozen=True)
class Split:
    cases: list[ChallengeCase]  # challenge-file order: by category, then in order of selection
    train: list[Playlist]  # by pid


def make_split(
    playlists: Iterable[Playlist],
    test_playlists: int,
    seed: int = 0,
    seed_counts: Sequence[int] = SEED_COUNTS,
    min_holdouts: int = MIN_HOLDOUTS,
) -> Split:
    if test_playlists <= 0 or test_playlists % len(seed_counts):
        raise ValueError(
            f"--test-playlists must be a positive multiple of {len(seed_counts)} "
            f"(equal numbers per seed count {list(seed_counts)}), got {test_playlists}"
        )
    quota = test_playlists // len(seed_counts)
    ordered = sorted(playlists, key=lambda playlist: playlist.pid)
    shuffled = list(ordered)
    random.Random(seed).shuffle(shuffled)
    chosen: dict[int, list[ChallengeCase]] = {k: [] for k in seed_counts}
    test_pids: set[int] = set()
    for playlist in shuffled:
        room = [k for k in seed_counts if len(chosen[k]) < quota and len(holdout_uris(playlist, k)) >= min_holdouts]
        if not room:
            if all(len(cases) == quota for cases in chosen.values()):
                break
            continue
        k = min(room, key=lambda count: (len(chosen[count]), count))
        chosen[k].append(ChallengeCase(playlist, k))
        test_pids.add(playlist.pid)
    short = {k: quota - len(cases) for k, cases in chosen.items() if len(cases) < quota}
    if short:
        raise ValueError(
            f"not enough eligible playlists (G of at least {min_holdouts} tracks) for "
            f"{test_playlists} test playlists; missing per seed count: {short}"
        )
    return Split(
        cases=[case for k in seed_counts for case in chosen[k]],
        train=[playlist for playlist in ordered if playlist.pid not in test_pids],
    )


def challenge_record(split: Split, date: str | None = None) -> dict:
    date = date or dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return {
        "date": date,
        "version": CHALLENGE_VERSION,
        "playlists": [
            {
                "name": case.playlist.name,
                "pid": case.playlist.pid,
                "num_holdouts": len(case.playlist.tracks) - case.num_samples,
                "num_samples": case.num_samples,
                "num_tracks": len(case.playlist.tracks),
                "tracks": [
                    track_record(position, track)
                    for position, track in enumerate(case.playlist.tracks[: case.num_samples])
                ],
            }
            for case in split.cases
        ],
    }


def ground_truth_record(split: Split, seed: int, min_holdouts: int) -> dict:
    track_artists = {
        track.track_uri: track.artist
        for playlist in [*(case.playlist for case in split.cases), *split.train]
        for track in playlist.tracks
    }
    return {
        "version": GROUND_TRUTH_VERSION,
        "seed": seed,
        "min_holdouts": min_holdouts,
        "playlists": [
            {"pid": case.playlist.pid, "num_samples": case.num_samples, "holdouts": case.holdouts}
            for case in split.cases
        ],
        "track_artists": dict(sorted(track_artists.items())),
    }


def write_split(
    split: Split, out_dir: str | Path, seed: int, min_holdouts: int, date: str | None = None
) -> dict[str, Path]:
    """challenge.json, ground_truth.json.gz and train.json.gz in out_dir; their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "challenge": out_dir / "challenge.json",
        "ground_truth": out_dir / "ground_truth.json.gz",
        "train": out_dir / "train.json.gz",
    }
    with open_text(paths["challenge"], "w") as out:
        json.dump(challenge_record(split, date), out, indent=1)
    with open_text(paths["ground_truth"], "w") as out:
        json.dump(ground_truth_record(split, seed, min_holdouts), out)
    write_slice(
        paths["train"],
        split.train,
        {
            "slice": "train",
            "version": "v1",
            "generated_by": "tunesday-recsys split",
            "seed": seed,
            "test_pids_excluded": len(split.cases),
        },
    )
    return paths


def read_challenge(path: str | Path) -> list[Playlist]:
    """The challenge playlists with their seed tracks; `extra` holds num_samples and num_holdouts."""
    with open_text(path) as stream:
        records = json.load(stream).get("playlists")
    if not isinstance(records, list):
        raise ValueError(f"{path}: no 'playlists' list: not a challenge file")
    playlists = []
    for index, record in enumerate(records):
        playlist = parse_playlist(record)
        if isinstance(playlist, str):
            raise ValueError(f"{path}: challenge playlist #{index} is invalid ({playlist})")
        playlists.append(playlist)
    pids = [playlist.pid for playlist in playlists]
    if len(set(pids)) != len(pids):
        raise ValueError(f"{path}: a pid appears twice in the challenge file")
    return playlists


@dataclass(frozen=True)
class GroundTruth:
    holdouts: dict[int, list[str]]  # pid -> G
    num_samples: dict[int, int]  # pid -> seed count (the category)
    track_artists: dict[str, str]  # track URI -> artist


def read_ground_truth(path: str | Path) -> GroundTruth:
    with open_text(path) as stream:
        record = json.load(stream)
    if record.get("version") != GROUND_TRUTH_VERSION:
        raise ValueError(f"{path}: not a ground-truth file of version {GROUND_TRUTH_VERSION}")
    rows = record["playlists"]
    return GroundTruth(
        holdouts={row["pid"]: row["holdouts"] for row in rows},
        num_samples={row["pid"]: row["num_samples"] for row in rows},
        track_artists=record["track_artists"],
    )
