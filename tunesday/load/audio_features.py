"""Audio-features CSVs in Spotify Web API field names into the track catalog (raw ``tracks``).

    tunesday-load audio-features PATH...

Each PATH is a CSV file (plain or gzipped) or a folder of ``*.csv`` / ``*.csv.gz`` files. Header
names are matched case-insensitively.

- The track: the first non-empty of ``track_id``, ``id``, ``uri``, ``track_uri``,
  ``spotify_track_uri``; a bare Spotify id, a ``spotify:track:<id>`` URI or an
  ``open.spotify.com/track/<id>`` link. A row without one is set aside (``missing_track_id``,
  or ``bad_track_id`` when the value is not a track id). A file without any of those columns fails.
- Measured fields, as the API names them: ``tempo`` (BPM), ``key`` (pitch class; ``-1``, no key
  detected, stays ``-1`` as the contract says), ``mode``, ``time_signature``, ``energy``,
  ``valence``, ``danceability``, ``acousticness``, ``instrumentalness``, ``loudness``,
  ``duration_ms``, ``popularity`` (or ``track_popularity``), ``genre`` (or ``track_genre``,
  ``playlist_genre``). Integers written as floats (``"4.0"``) are read as integers; a value that
  does not parse, or an integer beyond 64 bits (a ``key`` of ``1e30``), is null (counted in the
  notes as ``unparseable_value``). Values out of range are loaded as they are, for staging's
  rules to reject (``tempo_out_of_range`` …).
- Names: ``track_name`` (or ``name``), ``artist_name`` (or ``track_artist``, ``artist``; the
  artist id comes from the name, ``tunesday.load.ids``; a multi-artist string is one name),
  ``album_name`` (or ``track_album_name``), ``release_date`` (or ``track_album_release_date``;
  a full ``YYYY-MM-DD`` date only, a bare year is not a day).

Merging with what is known (``tunesday.load.catalog``): the measured fields of a row replace the
known ones where the row has a value, never blank them; names, artist, album and release date
only fill what is unknown (a catalog's own artist id stays). A row that adds nothing (the same
track twice with identical features, or a file loaded before under another name) writes nothing.

A row for a track the contract does not know, without an artist name (the Web API's
audio-features objects have none), is set aside as ``new_track_without_artist``: staging would
reject a track without an artist, and keep rejecting that row after the artist is known, so
load the histories and playlists first (their tracks carry artist names), then such files.
That is the one reason for setting a well-formed row aside (``kept_out``); ``malformed_row``,
``missing_track_id``, ``bad_track_id`` and ``unparseable_record`` (a row no rule foresaw, with
the error) are rejections.
"""

import csv
import datetime as dt
import io
import math
from collections.abc import Callable
from pathlib import Path

from tunesday.load import ids
from tunesday.load.catalog import Catalog
from tunesday.load.source import BadInput, Batch, InputFile, decompress, find_files

ID_COLUMNS = ("track_id", "id", "uri", "track_uri", "spotify_track_uri")
FLOATS = ("tempo", "energy", "valence", "danceability", "acousticness", "instrumentalness", "loudness")
INTEGERS = ("key", "mode", "time_signature", "duration_ms", "popularity")
ALIASES = {
    "popularity": ("popularity", "track_popularity"),
    "genre": ("genre", "track_genre", "playlist_genre"),
    "track_name": ("track_name", "name"),
    "artist_name": ("artist_name", "track_artist", "artist"),
    "album_name": ("album_name", "track_album_name"),
    "release_date": ("release_date", "track_album_release_date"),
}
FILE_PATTERNS = ("*.csv", "*.csv.gz")


def parse_float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_integer(text: str) -> int | None:
    """A whole number within 64 bits ("4", "4.0"); None otherwise ("4.5", "1e30")."""
    return ids.whole_number(parse_float(text))


def parse_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


PARSERS: dict[str, Callable[[str], object]] = {
    **dict.fromkeys(FLOATS, parse_float),
    **dict.fromkeys(INTEGERS, parse_integer),
    "genre": str,
    "release_date": parse_date,
}


class AudioFeatures:
    name = "audio-features"
    records_are = "feature rows"
    kept_out = frozenset({"new_track_without_artist"})  # fine once the artist is known: load order

    def files(self, paths: list[Path]) -> list[InputFile]:
        return find_files(paths, FILE_PATTERNS, "*.csv or *.csv.gz")

    def read(self, source: InputFile, data: bytes, catalog: Catalog) -> Batch:
        try:
            text = decompress(data).decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise BadInput(f"not UTF-8 text ({error})") from None
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = [name.strip().lower() for name in next(reader)]
        except StopIteration:
            raise BadInput("empty file") from None
        except csv.Error as error:
            raise BadInput(f"not CSV ({error})") from None
        columns = {name: i for i, name in reversed(list(enumerate(header)))}
        id_columns = [columns[c] for c in ID_COLUMNS if c in columns]
        if not id_columns:
            raise BadInput(f"no track id column (one of {', '.join(ID_COLUMNS)}) in the header")
        fields = {
            field: next((columns[a] for a in ALIASES.get(field, (field,)) if a in columns), None)
            for field in (*FLOATS, *INTEGERS, *ALIASES)
        }
        fields = {field: i for field, i in fields.items() if i is not None}
        batch = Batch()
        mapped = []
        while True:
            try:
                values = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                batch.records += 1
                batch.set_aside(f"line {reader.line_num}", "malformed_row", {"error": str(error)})
                continue
            if not values:
                continue
            batch.records += 1
            ref = f"line {reader.line_num}"
            if len(values) != len(header):
                batch.set_aside(ref, "malformed_row", values)
                continue
            record = dict(zip(header, values))
            with catalog.guard(batch, ref, record):
                mapped += self._map_row(ref, record, values, id_columns, fields, batch)
        if not mapped:
            return batch
        catalog.prefetch(
            track_ids=[t for _, _, t, _ in mapped],
            artist_ids=[ids.artist_id(p.get("artist_name")) for _, _, _, p in mapped],
        )
        for ref, record, track_id, parsed in mapped:
            with catalog.guard(batch, ref, record):
                artist = parsed.pop("artist_name", None)
                if artist is None and (catalog.known_track(track_id) or {}).get("artist_id") is None:
                    batch.set_aside(ref, "new_track_without_artist", record)
                    continue
                batch.usable += 1
                identity = {f: parsed.pop(f, None) for f in ("track_name", "album_name", "release_date")}
                identity["album_id"] = ids.album_id(artist, identity["album_name"]) if artist else None
                if not catalog.track(batch, track_id, artist_name=artist, fill=identity, override=parsed):
                    batch.already_known += 1
        return batch

    @staticmethod
    def _map_row(
        ref: str, record: dict, values: list[str], id_columns: list[int], fields: dict, batch: Batch
    ) -> list[tuple]:
        """The row's (ref, record, track id, parsed fields), or nothing when it is set aside."""
        raw_id = next((values[i].strip() for i in id_columns if values[i].strip()), None)
        track_id = ids.track_id(raw_id)
        if track_id is None:
            batch.set_aside(ref, "bad_track_id" if raw_id else "missing_track_id", record)
            return []
        parsed = {}
        for field, i in fields.items():
            text = values[i].strip()
            if not text:
                continue
            value = PARSERS.get(field, str)(text)
            if value is None:
                batch.notes["unparseable_value"] += 1
            parsed[field] = value
        return [(ref, record, track_id, parsed)]
