"""Million Playlist Dataset slices: the one reader, with one vocabulary of reasons for bad
records, used by the loader (``tunesday-load mpd``) and the RecSys 2018 harness (``tunesday-recsys``).

A slice (`mpd.slice.<first>-<last>.json`, plain or gzipped) is one JSON object
`{"info": {...}, "playlists": [{"pid", "name", "num_tracks", ..., "tracks": [{"pos",
"artist_name", "track_uri", "track_name", ...}]}]}`. The reader decodes the `playlists` array
element by element from a chunked stream (`json.JSONDecoder.raw_decode`), so memory holds one
chunk and the playlists not yet consumed, never a whole parsed file. A file that is not valid
JSON, truncated or without a `playlists` array raises ValueError after the records before the
damage (`playlist_records`); one nested too deeply to decode, RecursionError (both in `DAMAGED`).

Why a record is bad (`REASONS`), the same words wherever they are counted or set aside:
- a playlist record: `not_an_object`, `bad_pid` (missing, not a whole number, negative, beyond
  64 bits), `bad_tracks` (no list);
- a track entry: `bad_track` (not an object), `bad_track_uri` (not `spotify:track:` + 22
  base-62 characters), `bad_position` (`pos` given but not a whole number >= 0 within 64 bits);
- a playlist as a whole: `bad_positions` (the positions are not 0..n-1, in any order),
  `duplicate_pid` (a pid read before; the first record with it wins).

What each consumer does with them is its own policy. The harness needs whole, clean playlists
(`read_playlists`): it skips a playlist with any of these and counts why (`ReadStats`); a
damaged file or a folder without slices is listed in `damaged_files`, the playlists decoded
before the damage are kept. The loader (``tunesday.load.mpd``) sets aside what cannot be a row
(the playlist-record reasons, `bad_track`), loads a bad `track_uri` or `pos` as null for staging
to reject (counting the reason), and leaves positions and repeated pids to staging; it loads a
damaged file not at all.
`num_tracks` is recomputed from the tracks; `name` may be missing (as in the challenge set);
other scalar playlist fields (`num_followers`, `description`, ...) are kept in `extra`.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NamedTuple, cast

from tunesday.load.ids import whole_number

TRACK_URI = re.compile(r"spotify:track:[0-9A-Za-z]{22}")
SLICE_PATTERNS = ("mpd.slice.*.json", "mpd.slice.*.json.gz")
CHUNK_CHARS = 1 << 20
_PLAYLISTS_KEY = re.compile(r'"playlists"\s*:\s*\[')
_WHITESPACE = " \t\r\n"
# What reading a damaged file raises: json.JSONDecodeError and UnicodeDecodeError are ValueErrors;
# gzip raises EOFError, OSError and zlib.error; a playlist nested deeper than the decoder goes
# (about 1,000 levels) raises RecursionError.
DAMAGED = (ValueError, EOFError, OSError, zlib.error, RecursionError)


class Track(NamedTuple):
    track_uri: str
    artist_name: str
    track_name: str
    artist_uri: str = ""

    @property
    def artist(self) -> str:
        """The artist's identity: its URI where the data has one (full MPD), else its name."""
        return self.artist_uri or self.artist_name


@dataclass(frozen=True)
class Playlist:
    pid: int
    name: str
    tracks: tuple[Track, ...]
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def track_uris(self) -> list[str]:
        return [track.track_uri for track in self.tracks]


@dataclass
class ReadStats:
    files: int = 0
    playlists: int = 0
    skipped: Counter = field(default_factory=Counter)
    damaged_files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "files": self.files,
            "playlists": self.playlists,
            "skipped": dict(sorted(self.skipped.items())),
            "damaged_files": self.damaged_files,
        }


def open_text(path: str | Path, mode: str = "r") -> IO[str]:
    """Open a text file, gzipped when its name ends in .gz."""
    if str(path).endswith(".gz"):
        # level 6 writes in a third of the time of gzip's default 9, a few per cent larger
        return cast(IO[str], gzip.open(path, mode + "t", encoding="utf-8", compresslevel=6))
    return open(path, mode, encoding="utf-8")


def slice_paths(path: Path) -> list[Path]:
    """A file as given; a folder expanded to its MPD slices, in the order of their first pid."""
    if not path.is_dir():
        return [path]
    return sorted({p for pattern in SLICE_PATTERNS for p in path.glob(pattern)}, key=_slice_order)


def _slice_order(path: Path) -> tuple[int, str]:
    first = re.search(r"\d+", path.name)
    return (int(first.group()) if first else -1, path.name)


def read_playlists(paths: Iterable[str | Path], stats: ReadStats | None = None) -> Iterator[Playlist]:
    """Every valid playlist of the slices (files or folders of slices), once per pid."""
    stats = stats if stats is not None else ReadStats()
    seen: set[int] = set()
    files: list[Path] = []
    for given in map(Path, paths):
        found = slice_paths(given)
        if not found:
            stats.damaged_files.append(f"{given}: no mpd.slice.*.json(.gz) files in this folder")
        files += found
    for path in files:
        stats.files += 1
        try:
            with open_text(path) as stream:
                for record in playlist_records(stream):
                    playlist = parse_playlist(record)
                    if isinstance(playlist, str):
                        stats.skipped[playlist] += 1
                    elif playlist.pid in seen:
                        stats.skipped["duplicate_pid"] += 1
                    else:
                        seen.add(playlist.pid)
                        stats.playlists += 1
                        yield playlist
        except DAMAGED as problem:
            stats.damaged_files.append(f"{path}: {type(problem).__name__}: {problem}")


def playlist_records(stream: IO[str] | io.TextIOBase) -> Iterator[object]:
    """The elements of the top-level `playlists` array, decoded one at a time; ValueError where the
    file is damaged (after the elements before the damage)."""
    decoder = json.JSONDecoder()
    buffer, at_end = "", False

    def more() -> bool:
        nonlocal buffer, at_end
        chunk = stream.read(CHUNK_CHARS)
        at_end = not chunk
        buffer += chunk
        return bool(chunk)

    while (start := _PLAYLISTS_KEY.search(buffer)) is None:
        if not more():
            raise ValueError("no 'playlists' array")
    position = start.end()
    expect_element = True  # after '[' or ','; False after an element
    while True:
        while position < len(buffer) and buffer[position] in _WHITESPACE:
            position += 1
        if position >= len(buffer):
            if not more():
                raise ValueError("truncated 'playlists' array")
            continue
        if buffer[position] == "]":
            return
        if not expect_element:
            if buffer[position] != ",":
                raise ValueError(f"expected ',' or ']' in 'playlists', found {buffer[position]!r}")
            position, expect_element = position + 1, True
            continue
        try:
            record, end = decoder.raw_decode(buffer, position)
        except json.JSONDecodeError:
            if at_end or not more():
                raise
            continue
        if end == len(buffer) and not at_end and not isinstance(record, (dict, list)):
            more()  # a bare number may go on in the next chunk
            continue
        yield record
        position, expect_element = end, False
        if position > CHUNK_CHARS:
            buffer, position = buffer[position:], 0


REASONS = {
    "not_an_object": "a playlist record that is not a JSON object",
    "bad_pid": "pid missing, not a whole number, negative, or beyond 64 bits",
    "bad_tracks": "no list of tracks",
    "bad_track": "a track entry that is not a JSON object",
    "bad_track_uri": "track_uri is not spotify:track: and 22 base-62 characters",
    "bad_position": "pos given but not a whole number >= 0 within 64 bits",
    "bad_positions": "the positions of a playlist are not 0..n-1",
    "duplicate_pid": "a pid already read (the first record with it wins)",
}


def record_problem(record: object) -> str | None:
    """Why a playlist record cannot be a playlist at all, or None."""
    if not isinstance(record, dict):
        return "not_an_object"
    pid = whole_number(record.get("pid"))
    if pid is None or pid < 0:
        return "bad_pid"
    if not isinstance(record.get("tracks"), list):
        return "bad_tracks"
    return None


def entry_problems(entry: object) -> list[str]:
    """Why a track entry is bad: [`bad_track`], or any of `bad_track_uri`, `bad_position`."""
    if not isinstance(entry, dict):
        return ["bad_track"]
    uri = entry.get("track_uri")
    problems = [] if isinstance(uri, str) and TRACK_URI.fullmatch(uri) else ["bad_track_uri"]
    if entry_position(entry, 0) is None:
        problems.append("bad_position")
    return problems


def entry_position(entry: dict, index: int) -> int | None:
    """The entry's `pos` (its index in the list when absent); None when not a whole number >= 0."""
    position = whole_number(entry.get("pos", index))
    return position if position is not None and position >= 0 else None


def parse_playlist(record: object) -> Playlist | str:
    """A whole, clean Playlist (tracks in `pos` order), or the reason the record is skipped."""
    problem = record_problem(record)
    if problem:
        return problem
    assert isinstance(record, dict)  # record_problem checked it is a playlist object
    entries = record["tracks"]
    problems = [problem for entry in entries for problem in entry_problems(entry)]
    if problems:
        return problems[0]
    tracks = [
        Track(
            entry["track_uri"],
            _text(entry.get("artist_name")),
            _text(entry.get("track_name")),
            _text(entry.get("artist_uri")),
        )
        for entry in entries
    ]
    positions = [entry_position(entry, index) for index, entry in enumerate(entries)]
    if positions != list(range(len(tracks))):
        known = [position for position in positions if position is not None]
        if len(known) != len(positions) or sorted(known) != list(range(len(tracks))):
            return "bad_positions"
        tracks = [track for _, track in sorted(zip(known, tracks))]
    extra = {
        key: value
        for key, value in record.items()
        if key not in ("pid", "name", "num_tracks", "tracks")
        and (value is None or isinstance(value, (str, int, float, bool)))
    }
    pid = whole_number(record["pid"])
    assert pid is not None  # record_problem checked it
    return Playlist(pid=pid, name=_text(record.get("name")), tracks=tuple(tracks), extra=extra)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def track_record(position: int, track: Track) -> dict:
    """A track as the MPD and the challenge set write it."""
    record = {
        "pos": position,
        "artist_name": track.artist_name,
        "track_uri": track.track_uri,
        "track_name": track.track_name,
    }
    if track.artist_uri:
        record["artist_uri"] = track.artist_uri
    return record


def playlist_record(playlist: Playlist) -> dict:
    return {
        "name": playlist.name,
        "pid": playlist.pid,
        "num_tracks": len(playlist.tracks),
        **playlist.extra,
        "tracks": [track_record(position, track) for position, track in enumerate(playlist.tracks)],
    }


def write_slice(path: str | Path, playlists: Iterable[Playlist], info: dict) -> int:
    """Write playlists as one MPD slice (gzipped when the name ends in .gz); how many were written."""
    count = 0
    with open_text(path, "w") as out:
        out.write('{"info": ' + json.dumps(info) + ', "playlists": [\n')
        for playlist in playlists:
            out.write((",\n" if count else "") + json.dumps(playlist_record(playlist)))
            count += 1
        out.write("\n]}\n")
    return count
