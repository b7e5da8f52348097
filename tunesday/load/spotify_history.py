"""Spotify "Extended streaming history" exports (the privacy download) into the raw contract.

    tunesday-load spotify-history PATH... [--user-id ID]

Each PATH is a listener's folder of ``Streaming_History_Audio_*.json`` files (a JSON list of
plays each), a folder of such listener folders, or one such file. The listener's user id is the
folder's name (characters outside ``[A-Za-z0-9_:-]`` become ``_``), or ``--user-id`` when one
listener is loaded. Files may be gzipped. (What both history loaders share, the overlap with the
account-data export included, is in ``tunesday.load.history``.)

A play becomes one ``listening_events`` row:

- ``event_id``: ``ev_`` + ``hash64`` (as 16 hex digits) of the user id and the raw ``ts``,
  ``spotify_track_uri`` and ``ms_played`` (a play is one listener, one track, one end time, one
  length), so that loading the same play again gives the same id: exact duplicates in an export
  are loaded as they are and staging counts the copies as duplicates; plays already in the raw
  contract from an earlier load (an overlapping second export) are not written again, nor are
  plays an account-data export of the same listener loaded before (``tunesday.load.history``).
- ``track_id``: the last part of ``spotify_track_uri``.
- ``played_at``: ``ts`` is when playback ENDED in these exports, so ``played_at = ts - ms_played``
  (UTC); ``ts`` itself when ``ms_played`` is unusable.
- ``platform``: ``android``, ``ios``, ``desktop`` (Windows, macOS, Linux), ``web`` (web player),
  ``smart_speaker`` (Chromecast, Sonos and other speakers); anything else (``unknown``, game
  consoles, cars) is null, counted in the report's notes as ``platform_unrecognised``: the
  staging test on platform accepts only those five values.
- ``country``: ``conn_country`` (``ZZ``, Spotify's "unknown", is null); ``reason_start``,
  ``reason_end``, ``shuffle``, ``skipped`` as they are; ``context_type`` and ``context_id`` are
  null (the export does not say where a play came from).
- ``ip_addr`` is never read into any output, set-aside records included.

Unparseable fields (``ts`` not ISO 8601, ``ms_played`` not an integer or beyond 64 bits, a track
URI that is not ``spotify:track:<id>``) are loaded as null, so staging's rules reject the play with their reason
(``missing_played_at``, ``missing_ms_played``, ``missing_track_id``); plays with
``ms_played = 0`` are loaded (staging counts them as plays that never started, a skip).

Set aside, with their reason: ``podcast_episode`` and ``audiobook`` (the track fields are null:
not music), ``no_track_uri`` (neither a track nor anything else identifiable), ``private_session``
(``incognito_mode`` is true: the listener asked for those plays not to shape recommendations) —
well-formed plays the contract has no place for (``kept_out``) — and, rejected as bad,
``not_an_object`` and ``unparseable_record`` (a play no rule foresaw: a name given as an object,
text that is not Unicode, ...; the error is kept with the play).

The tracks and the album artists (``master_metadata_album_artist_name``: the export names no other
artist) the plays need are added to ``tracks`` and ``artists`` when the contract does not know them
(``tunesday.load.ids``), and the listener to ``users`` (country: the most frequent
``conn_country`` of the first file loaded; signup date and tier unknown).
"""

import datetime as dt
from collections import Counter
from pathlib import Path

from tunesday.load import ids
from tunesday.load.catalog import Catalog
from tunesday.load.history import Play, checked_user_id, listener_files, read_plays
from tunesday.load.source import Batch, InputFile, check_row, parse_timestamp, text_field

FILE_PATTERN = "Streaming_History_Audio_*.json*"
EPISODE_FIELDS = ("spotify_episode_uri", "episode_name", "episode_show_name")
AUDIOBOOK_FIELDS = ("audiobook_uri", "audiobook_title", "audiobook_chapter_uri", "audiobook_chapter_title")
# Checked in this order: "web_player windows 10;chrome;desktop" is the web player.
PLATFORMS = (
    ("web", ("web_player", "web player", "webplayer")),
    ("android", ("android",)),
    ("ios", ("ios", "iphone", "ipad", "ipod")),
    ("smart_speaker", ("cast", "sonos", "speaker", "echo", "alexa", "google_home", "homepod")),
    ("desktop", ("windows", "os x", "osx", "macos", "mac os", "linux", "desktop")),
)


def normalise_platform(value) -> str | None:
    text = ids.clean_text(value)
    if not text:
        return None
    text = text.lower()
    for platform, marks in PLATFORMS:
        if any(mark in text for mark in marks):
            return platform
    return None


def as_bool(value) -> bool | None:
    return value if isinstance(value, bool) else None


class SpotifyHistory:
    name = "spotify-history"
    records_are = "plays"
    kept_out = frozenset({"podcast_episode", "audiobook", "private_session", "no_track_uri"})

    def __init__(self, user_id: str | None = None):
        self.user_id = checked_user_id(user_id)

    def files(self, paths: list[Path]) -> list[InputFile]:
        return listener_files(paths, FILE_PATTERN, self.user_id)

    def read(self, source: InputFile, data: bytes, catalog: Catalog) -> Batch:
        return read_plays(source, data, catalog, set_aside_reason, map_play, other_export=ids.ACCOUNT_EVENT)


def set_aside_reason(play) -> str | None:
    if not isinstance(play, dict):
        return "not_an_object"
    if play.get("incognito_mode") is True:
        return "private_session"
    if ids.clean_text(play.get("spotify_track_uri")) is None:
        if any(play.get(f) for f in EPISODE_FIELDS):
            return "podcast_episode"
        if any(play.get(f) for f in AUDIOBOOK_FIELDS):
            return "audiobook"
        return "no_track_uri"
    return None


def map_play(ref: str, play: dict, user_id: str, notes: Counter) -> Play:
    """One play as a checked listening_events row, with the album artist, track and album names
    the play carries."""
    raw_ts, raw_uri, raw_ms = play.get("ts"), play.get("spotify_track_uri"), play.get("ms_played")
    ended_at = parse_timestamp(raw_ts)
    ms_played = ids.whole_number(raw_ms)
    track_id = ids.track_id(raw_uri)
    platform = normalise_platform(play.get("platform"))
    for problem, bad in (
        ("unparseable_ts", ended_at is None),
        ("unparseable_ms_played", ms_played is None),
        ("unparseable_track_uri", track_id is None),
        ("zero_ms_played", ms_played == 0),
        ("platform_unrecognised", platform is None),
    ):
        if bad:
            notes[problem] += 1
    played_at = ended_at
    if ended_at is not None and ms_played is not None:
        played_at = ended_at - dt.timedelta(milliseconds=ms_played)
    country = ids.clean_text(play.get("conn_country"))
    country = country.upper() if country and country.upper() != "ZZ" else None
    event = {
        "event_id": ids.event_id(ids.EXTENDED_EVENT, user_id, (raw_ts, raw_uri, raw_ms)),
        "user_id": user_id,
        "track_id": track_id,
        "played_at": played_at,
        "ms_played": ms_played,
        "context_type": None,
        "context_id": None,
        "reason_start": _lower(play.get("reason_start")),
        "reason_end": _lower(play.get("reason_end")),
        "shuffle": as_bool(play.get("shuffle")),
        "skipped": as_bool(play.get("skipped")),
        "platform": platform,
        "country": country,
    }
    return Play(
        ref,
        play,
        check_row("listening_events", event),
        text_field(play, "master_metadata_album_artist_name"),
        text_field(play, "master_metadata_track_name"),
        text_field(play, "master_metadata_album_album_name"),
    )


def _lower(value) -> str | None:
    text = ids.clean_text(value)
    return text.lower() if text else None
