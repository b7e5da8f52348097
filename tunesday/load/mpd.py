"""Million Playlist Dataset slices (``mpd.slice.*.json``, plain or gzipped) into the raw contract.

    tunesday-load mpd PATH...

Each PATH is a slice file or a folder of them. A slice is
``{"info": …, "playlists": [{"pid", "name", "modified_at"?, "tracks": [{"pos", "track_uri",
"track_name", "artist_name", "album_name"?, "duration_ms"?, …}]}]}`` (the full dataset has the
optional fields, some public copies drop them).

- ``playlists``: ``playlist_id`` = ``pl_mpd_<pid>``; ``playlist_name`` = ``name``; ``created_at``
  = ``modified_at`` (epoch seconds; the dataset has no creation time, the last change is the
  closest it has), null when absent; ``is_public`` true (the dataset was drawn from public
  playlists). The dataset names no owners, so every playlist belongs to one synthetic listener,
  ``usr_mpd``, added to ``users`` (country, signup and tier unknown) so that staging accepts the
  playlists; it has no plays, so it gets no recommendations.
- ``playlist_tracks``: ``position`` = ``pos``, ``track_id`` = the id in ``track_uri``,
  ``added_at`` null (the dataset has no such time). A track repeated in a playlist keeps every
  position. A bad ``track_uri`` or ``pos`` is loaded as null, for staging to reject
  (``missing_track_id``, ``missing_position``), and counted in the file's notes under the
  reader's reason (``bad_track_uri``, ``bad_position``); gaps and repeats in the positions, and a
  pid repeated, are left to staging too.
- ``tracks`` and ``artists``: where the contract does not know a track, a row from its names
  (artist id from ``artist_name``, album id from artist and ``album_name``, see
  ``tunesday.load.ids``; ``duration_ms`` when present), merged as ``tunesday.load.catalog`` says.

The slice is read by the one MPD reader, ``tunesday.mpd`` (streaming, plain or gzipped), and its
vocabulary names what is set aside: ``not_an_object``, ``bad_pid`` and ``bad_tracks``
(playlists), ``bad_track`` (track entries); ``unparseable_record`` for anything no rule
foresaw. A file the reader finds damaged (not JSON, truncated, no ``playlists`` array) fails
whole: nothing of it is loaded. A playlist already in the raw contract (from an earlier load)
is not written again.
"""

import datetime as dt
from pathlib import Path

from tunesday import mpd
from tunesday.load import ids
from tunesday.load.catalog import Catalog
from tunesday.load.source import Batch, BadInput, InputFile, find_files, text_stream

OWNER_USER_ID = "usr_mpd"


class MillionPlaylistDataset:
    name = "mpd"
    records_are = "playlists or playlist tracks"

    def files(self, paths: list[Path]) -> list[InputFile]:
        return find_files(paths, mpd.SLICE_PATTERNS, "mpd.slice.*.json(.gz)")

    def read(self, source: InputFile, data: bytes, catalog: Catalog) -> Batch:
        batch = Batch()
        playlists = []
        try:
            for index, playlist in enumerate(mpd.playlist_records(text_stream(data))):
                mapped = map_record(playlist, f"playlists[{index}]", batch)
                if mapped:
                    playlists.append(mapped)
        except mpd.DAMAGED as error:
            raise BadInput(f"not a whole MPD slice ({type(error).__name__}: {error})") from None
        if not playlists:
            return batch
        catalog.prefetch(
            track_ids=[t["track_id"] for _, tracks in playlists for t, _ in tracks],
            artist_ids=[ids.artist_id(names[0]) for _, tracks in playlists for _, names in tracks],
            user_ids=[OWNER_USER_ID])
        known = {row["playlist_id"] for row in catalog.store.fetch(
            "playlists", "playlist_id", [p["playlist_id"] for p, _ in playlists], ["playlist_id"])}
        for playlist, tracks in playlists:
            batch.usable += 1 + len(tracks)
            if playlist["playlist_id"] in known:
                batch.already_known += 1 + len(tracks)
                continue
            batch.add("playlists", playlist)
            for row, names in tracks:
                batch.add("playlist_tracks", row)
                if row["track_id"]:
                    catalog.named_track(batch, row["track_id"], *names)
        if batch.rows.get("playlists"):
            catalog.user(batch, OWNER_USER_ID)
        return batch


def map_record(playlist, ref: str, batch: Batch):
    """`map_playlist`, with a record no rule foresaw set aside rather than stopping the load."""
    batch.records += 1
    try:
        return map_playlist(playlist, ref, batch)
    except Exception as error:  # a record no rule foresaw: set aside, keep loading
        batch.set_aside(ref, "unparseable_record", {"error": repr(error), "record": playlist})
        return None


def map_playlist(playlist, ref: str, batch: Batch):
    """A playlists row and its (playlist_tracks row, names) pairs; None when set aside."""
    tracks = playlist.get("tracks") if isinstance(playlist, dict) else None
    if isinstance(tracks, list):
        batch.records += len(tracks)
    problem = mpd.record_problem(playlist)
    if problem:
        batch.set_aside(ref, problem, playlist)
        return None
    playlist_id = f"pl_mpd_{ids.whole_number(playlist['pid'])}"
    modified_at = ids.whole_number(playlist.get("modified_at"))
    row = {
        "playlist_id": playlist_id,
        "owner_user_id": OWNER_USER_ID,
        "playlist_name": ids.clean_text(playlist.get("name")),
        "created_at": (dt.datetime.fromtimestamp(modified_at, dt.timezone.utc).replace(tzinfo=None)
                       if modified_at is not None else None),
        "is_public": True,
    }
    mapped = []
    for index, track in enumerate(tracks):
        problems = mpd.entry_problems(track)
        if problems == ["bad_track"]:
            batch.set_aside(f"{ref}.tracks[{index}]", "bad_track", track)
            continue
        batch.notes.update(problems)
        track_id = None if "bad_track_uri" in problems else ids.track_id(track["track_uri"])
        mapped.append((
            {"playlist_id": playlist_id, "position": mpd.entry_position(track, index), "track_id": track_id,
             "added_at": None},
            (track.get("artist_name"), track.get("track_name"), track.get("album_name"),
             ids.whole_number(track.get("duration_ms"))),
        ))
    return row, mapped
