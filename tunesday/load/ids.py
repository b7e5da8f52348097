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
- Play events of a history export: ``ev_`` and the 16 hex digits of the hash of the fields that
  identify a play (see ``tunesday.load.spotify_history``), so that the same play loaded twice
  has the same id and staging counts the second as a duplicate.
"""

import functools
import re
import unicodedata

from tunesday.hashing import hash64

_SPOTIFY_ID = re.compile(r"[A-Za-z0-9]{22}")
_TRACK_URI = re.compile(r"spotify:track:([A-Za-z0-9]{22})")
_TRACK_URL = re.compile(r"https?://open\.spotify\.com/(?:intl-[a-z-]+/)?track/([A-Za-z0-9]{22})(?:[?#].*)?")
_SPACES = re.compile(r"\s+")


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
