"""Ids the loaders of real exports derive, the same in every loader.

- Tracks keep their Spotify id: the last part of ``spotify:track:<id>`` (or of an
  ``open.spotify.com/track/<id>`` link), 22 base-62 characters.
- Artists and albums exist in the exports only as names, so their ids come from the normalised
  name through the portable hash (``tunesday.hashing.hash64``): ``art_`` or ``alb_`` and the
  hash as 16 lowercase hex digits (unsigned), which is also the first 16 hex digits of the MD5
  of the normalised text (in SQL: ``'art_' || substr(md5(name), 1, 16)``). The generator's ids
  are a prefix and 10 decimal digits, so the two never collide. An album's text is its artist's
  and its own normalised names joined by a unit separator (``\\x1f``): two albums called
  "Greatest Hits" stay apart.
- Play events of a history export: a prefix per export and the 16 hex digits of the hash of the
  user id and the raw fields that identify a play (``event_id``), so that the same play loaded
  twice has the same id and staging counts the second as a duplicate. ``ev_``: the extended
  streaming history (``ts``, ``spotify_track_uri``, ``ms_played``; ``tunesday.load.spotify_history``);
  ``ah_``: the account-data streaming history (``endTime``, ``artistName``, ``trackName``,
  ``msPlayed``; ``tunesday.load.spotify_account_history``). The prefix also says which export a
  play came from, which is how each history loader finds the plays the other export loaded.
- Tracks an account-data history names without an id (it has names only) and that the catalog
  cannot tell apart by name: ``trn_`` and the hash of the normalised artist and track names joined
  by a unit separator (``name_track_id``). 20 characters with an underscore: never a Spotify id
  (22 base-62 characters), never a generator id (``trk_`` and 10 digits).
"""

import functools
import json
import re
import unicodedata

from tunesday.hashing import hash64

_SPOTIFY_ID = re.compile(r"[A-Za-z0-9]{22}")
_TRACK_URI = re.compile(r"spotify:track:([A-Za-z0-9]{22})")
_TRACK_URL = re.compile(r"https?://open\.spotify\.com/(?:intl-[a-z-]+/)?track/([A-Za-z0-9]{22})(?:[?#].*)?")
_SPACES = re.compile(r"\s+")

EXTENDED_EVENT, ACCOUNT_EVENT, NAME_TRACK = "ev_", "ah_", "trn_"


def hex64(text: str) -> str:
    """hash64 of the text as 16 hex digits (two's complement read as unsigned)."""
    return f"{hash64(text) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


def normalise_name(name: str) -> str:
    """NFKC, case-folded, whitespace collapsed: "  The  Beatles" and "the beatles" are one artist."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", name).casefold()).strip()


def clean_text(value) -> str | None:
    """A non-empty stripped string, or None."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


# The contract's integers are 64-bit (INT64 on BigQuery, int64 in Parquet).
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def whole_number(value) -> int | None:
    """An int, or a float with an integer value (3.0, as some exports write counts), as an int;
    None for anything else: booleans (JSON's true is not 1) and numbers no 64-bit integer holds
    (a ``pos`` of 1e20 is as unusable as a ``pos`` of "x", and would stop the file's conversion)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and INT64_MIN <= value <= INT64_MAX:
        return value
    return None


def artist_id(artist_name) -> str | None:
    """The artist id of a name; None when the name is not a non-empty string (an object or a list
    names no artist)."""
    return _artist_id(artist_name) if isinstance(artist_name, str) else None


def album_id(artist_name, album_name) -> str | None:
    """The album id of an album name under its artist's name (None without a usable album name)."""
    if not isinstance(album_name, str):
        return None
    return _album_id(artist_name if isinstance(artist_name, str) else None, album_name)


# Cached on strings only: names repeat (a history names an artist in many plays), and a cache
# keyed on any value would fail on the unhashable ones (a name given as an object).
@functools.lru_cache(maxsize=1 << 16)
def _artist_id(artist_name: str) -> str | None:
    name = clean_text(artist_name)
    return "art_" + hex64(normalise_name(name)) if name else None


@functools.lru_cache(maxsize=1 << 16)
def _album_id(artist_name: str | None, album_name: str) -> str | None:
    album = clean_text(album_name)
    if not album:
        return None
    return "alb_" + hex64(normalise_name(clean_text(artist_name) or "") + "\x1f" + normalise_name(album))


def is_spotify_id(value) -> bool:
    """Whether a track id is a Spotify id (22 base-62 characters), not one a loader made up."""
    return isinstance(value, str) and _SPOTIFY_ID.fullmatch(value) is not None


def track_id(value) -> str | None:
    """The Spotify track id in a bare id, a ``spotify:track:`` URI or an open.spotify.com link."""
    text = clean_text(value)
    if not text:
        return None
    for pattern in (_SPOTIFY_ID, _TRACK_URI, _TRACK_URL):
        match = pattern.fullmatch(text)
        if match:
            return match.group(match.re.groups)
    return None


def event_id(prefix: str, user_id: str, raw_values) -> str:
    """The id of one play: `prefix` and the hash of the user id and the play's raw fields (as the
    export wrote them, JSON-encoded: a number and a string stay apart, a missing field is null)."""
    return prefix + hex64("\x1f".join([user_id, *(json.dumps(v, sort_keys=True) for v in raw_values)]))


def name_key(artist_name, track_name) -> tuple[str, str] | None:
    """The normalised (artist, track) names a play and a catalog track are compared by; None
    without both names."""
    if isinstance(artist_name, str) and isinstance(track_name, str):
        return _name_key(artist_name, track_name)
    return None


@functools.lru_cache(maxsize=1 << 16)
def _name_key(artist_name: str, track_name: str) -> tuple[str, str] | None:
    artist, track = clean_text(artist_name), clean_text(track_name)
    return (normalise_name(artist), normalise_name(track)) if artist and track else None


def name_track_id(key: tuple[str, str]) -> str:
    """The id of a track known only by its normalised (artist, track) names (``name_key``)."""
    return NAME_TRACK + hex64(key[0] + "\x1f" + key[1])
