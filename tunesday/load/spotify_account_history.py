"""Spotify "Account data" streaming history (the download most listeners get) into the raw contract.

    tunesday-load spotify-account-history PATH... [--user-id ID]

The files: ``StreamingHistory0.json``, ``StreamingHistory1.json``, ... in older downloads;
``StreamingHistory_music_0.json``, ... beside ``StreamingHistory_podcast_0.json`` (and
``StreamingHistory_audiobook_0.json``) in newer ones. Each is a JSON list of
``{"endTime": "2024-03-01 17:42", "artistName": ..., "trackName": ..., "msPlayed": 12345}``
(podcast files: ``podcastName``, ``episodeName``), about the last year: no ids, no platform, no
reasons. PATH and the listener's user id as for the extended history (``tunesday.load.history``):
a listener's folder, a folder of listener folders, or one file; files may be gzipped.

What Spotify says of these files (support page "Understanding my data", Account data, Streaming
History): a list of what was listened to "in the past year" with the date and time the stream
ended in UTC, the name of its creator (the artist of a music track), the name of the item and
``msPlayed``, how many milliseconds it was listened to. So ``endTime`` is UTC and is when the
play ended, and a minute is all the precision there is: the seconds are not in the export (they
are cut, not rounded: ``tunesday.load.history``).

A music play becomes one ``listening_events`` row:

- ``event_id``: ``ah_`` + ``hash64`` (16 hex digits) of the user id and the raw ``endTime``,
  ``artistName``, ``trackName`` and ``msPlayed`` (``ids.event_id``): loading the same play again
  gives the same id, exact duplicates are loaded as they are (staging counts the copies as
  duplicates) and plays already in the raw contract are not written again.
- ``track_id``: the export names no ids. A play is matched to a catalog track (its Spotify id)
  when its normalised (artist, track) names (``ids.name_key``) are those of exactly one track with
  a Spotify id in the raw contract when the load starts (tracks joined to their artists: what an
  earlier MPD, audio-features or extended-history load wrote; so load those first). Otherwise the
  track gets a name-based id, ``trn_`` + the names' hash (``ids.name_track_id``), and is added to
  ``tracks`` and ``artists`` (album unknown): when no catalog track has the names, and when
  several do (a single and its album version: which one was played is unknown). Each file's
  notes count the plays ``track_matched``, ``track_not_in_catalog`` and
  ``track_ambiguous_in_catalog``: the match rate.
- ``played_at``: ``endTime - msPlayed`` (UTC), so within the minute before the true start;
  ``endTime`` when ``msPlayed`` is unusable. ``ms_played``: ``msPlayed``.
- ``context_type``, ``context_id``, ``reason_start``, ``reason_end``, ``shuffle``, ``skipped``,
  ``platform``, ``country``: null, as the export has none of them (what a null means is
  staging's to say).

Unparseable fields (``endTime`` not a date and time, ``msPlayed`` not an integer or beyond 64
bits) are loaded as null, noted (``unparseable_end_time``, ``unparseable_ms_played``), for staging
to reject the play with its reason (``missing_played_at``, ``missing_ms_played``); a play without
an artist or track name gets no track id (``missing_track_name``; staging: ``missing_track_id``).
Plays with ``msPlayed = 0`` are loaded (staging counts them as plays that never started, a skip).

Set aside, with their reason: ``podcast_episode`` (a ``StreamingHistory_podcast_*`` file, or a
record with ``podcastName`` or ``episodeName``) and ``audiobook`` (``StreamingHistory_audiobook_*``,
``audiobookName``, ``chapterName``) — not music, kept out — and, rejected as bad,
``not_an_object`` and ``unparseable_record`` (a name that is not text, a record with none of the
fields of a play, ...; the error is kept with the record). The old mixed
``StreamingHistoryN.json`` files cannot tell a podcast from a song: an episode is a record like
any other, its show in ``artistName`` and its title in ``trackName``; it loads as a play of a
name-based track (no catalog track has those names).

A listener who also has the extended history: the plays both exports hold are loaded once,
whichever is loaded first; load the extended one first to keep its richer record
(``tunesday.load.history``).
"""

import datetime as dt
from collections import Counter, defaultdict
from pathlib import Path

from tunesday.load import ids
from tunesday.load.catalog import Catalog
from tunesday.load.history import Play, checked_user_id, listener_files, read_plays
from tunesday.load.source import Batch, InputFile, check_row, parse_timestamp, text_field
from tunesday.load.stores import Store

FILE_PATTERN = "StreamingHistory*.json*"
PLAY_FIELDS = ("endTime", "artistName", "trackName", "msPlayed")
PODCAST_FIELDS = ("podcastName", "episodeName")
AUDIOBOOK_FIELDS = ("audiobookName", "chapterName")
# The files whose every record is of one kind, by the start of their name.
FILE_KINDS = (("StreamingHistory_podcast_", "podcast_episode"), ("StreamingHistory_audiobook_", "audiobook"))


class CatalogNames:
    """The Spotify ids of the catalog's tracks by their normalised (artist, track) names, read
    once per load (``Store.named_tracks``): a pair of names one track has gives its id; a pair
    several tracks have gives none."""

    def __init__(self, store: Store):
        by_names: dict[tuple[str, str], set[str]] = defaultdict(set)
        for row in store.named_tracks():
            key = ids.name_key(row["artist_name"], row["track_name"])
            if key and ids.is_spotify_id(row["track_id"]):
                by_names[key].add(row["track_id"])
        self._ids = {key: min(found) if len(found) == 1 else None for key, found in by_names.items()}

    def track_id(self, key: tuple[str, str], notes: Counter) -> str:
        """The track id of a play's names, counted in `notes` as matched, not in the catalog or
        ambiguous there."""
        if key not in self._ids:
            notes["track_not_in_catalog"] += 1
            return ids.name_track_id(key)
        found = self._ids[key]
        if found is None:
            notes["track_ambiguous_in_catalog"] += 1
            return ids.name_track_id(key)
        notes["track_matched"] += 1
        return found


class SpotifyAccountHistory:
    name = "spotify-account-history"
    records_are = "plays"
    kept_out = frozenset({"podcast_episode", "audiobook"})

    def __init__(self, user_id: str | None = None):
        self.user_id = checked_user_id(user_id)
        self._catalog: tuple[Store, CatalogNames] | None = None

    def files(self, paths: list[Path]) -> list[InputFile]:
        return listener_files(paths, FILE_PATTERN, self.user_id)

    def read(self, source: InputFile, data: bytes, catalog: Catalog) -> Batch:
        if self._catalog is None or self._catalog[0] is not catalog.store:
            # Read once: this loader adds no track with a Spotify id, so it stays true all load.
            self._catalog = catalog.store, CatalogNames(catalog.store)
        names = self._catalog[1]
        kind = next((reason for start, reason in FILE_KINDS if source.path.name.startswith(start)), None)
        return read_plays(
            source,
            data,
            catalog,
            lambda record: set_aside_reason(record, kind),
            lambda ref, record, user_id, notes: map_play(ref, record, user_id, names, notes),
            other_export=ids.EXTENDED_EVENT,
        )


def set_aside_reason(record, file_kind: str | None) -> str | None:
    if not isinstance(record, dict):
        return "not_an_object"
    if file_kind:
        return file_kind
    if any(record.get(f) for f in PODCAST_FIELDS):
        return "podcast_episode"
    if any(record.get(f) for f in AUDIOBOOK_FIELDS):
        return "audiobook"
    return None


def map_play(ref: str, record: dict, user_id: str, names: CatalogNames, notes: Counter) -> Play:
    """One music play as a checked listening_events row, with its artist and track names.
    ValueError (the record is rejected) when it is not a play at all or a name is not text."""
    if not any(field in record for field in PLAY_FIELDS):
        raise ValueError(f"not a play: none of {', '.join(PLAY_FIELDS)}")
    raw_end, raw_ms = record.get("endTime"), record.get("msPlayed")
    artist, track = text_field(record, "artistName"), text_field(record, "trackName")
    ended_at = parse_timestamp(raw_end)
    ms_played = ids.whole_number(raw_ms)
    key = ids.name_key(artist, track)
    for problem, bad in (
        ("unparseable_end_time", ended_at is None),
        ("unparseable_ms_played", ms_played is None),
        ("missing_track_name", key is None),
        ("zero_ms_played", ms_played == 0),
    ):
        if bad:
            notes[problem] += 1
    played_at = ended_at
    if ended_at is not None and ms_played is not None:
        played_at = ended_at - dt.timedelta(milliseconds=ms_played)
    event = {
        "event_id": ids.event_id(ids.ACCOUNT_EVENT, user_id, (raw_end, artist, track, raw_ms)),
        "user_id": user_id,
        "track_id": names.track_id(key, notes) if key else None,
        "played_at": played_at,
        "ms_played": ms_played,
        "context_type": None,
        "context_id": None,
        "reason_start": None,
        "reason_end": None,
        "shuffle": None,
        "skipped": None,
        "platform": None,
        "country": None,
    }
    return Play(ref, record, check_row("listening_events", event), artist, track)
