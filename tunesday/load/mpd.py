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
  position. An unparseable ``pos`` or ``track_uri`` is loaded as null, for staging to reject
  (``missing_position``, ``missing_track_id``).
- ``tracks`` and ``artists``: where the contract does not know a track, a row from its names
  (artist id from ``artist_name``, album id from artist and ``album_name``, see
  ``tunesday.load.ids``; ``duration_ms`` when present), merged as ``tunesday.load.catalog`` says.

A playlist already in the raw contract (from an earlier load) is not written again. Set aside,
with their reason: ``not_an_object``, ``missing_pid`` and ``no_track_list`` (playlists), and
``not_an_object`` (track entries), ``unparseable_record`` for anything no rule foresaw.
"""

import datetime as dt
from pathlib import Path

from tunesday.load import ids
from tunesday.load.catalog import Catalog
from tunesday.load.source import Batch, BadInput, InputFile, find_files, parse_json
from tunesday.load.spotify_history import as_int

FILE_PATTERNS = ("mpd.slice.*.json", "mpd.slice.*.json.gz")
OWNER_USER_ID = "usr_mpd"


class MillionPlaylistDataset:
    name = "mpd"
    records_are = "playlists or playlist tracks"

    def files(self, paths: list[Path]) -> list[InputFile]:
        return find_files(paths, FILE_PATTERNS, "mpd.slice.*.json(.gz)")

    def read(self, source: InputFile, data: bytes, catalog: Catalog) -> Batch:
        document = parse_json(data)
        if not isinstance(document, dict) or not isinstance(document.get("playlists"), list):
            raise BadInput('expected an MPD slice: {"info": …, "playlists": [...]}')
        batch = Batch()
        playlists = []
        for index, playlist in enumerate(document["playlists"]):
            batch.records += 1
            try:
                mapped = map_playlist(playlist, f"playlists[{index}]", batch)
            except Exception as error:  # a record no rule foresaw: set aside, keep loading
                batch.set_aside(f"playlists[{index}]", "unparseable_record", {"error": repr(error), "record": playlist})
                continue
            if mapped:
                playlists.append(mapped)
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


def map_playlist(playlist, ref: str, batch: Batch):
    """A playlists row and its (playlist_tracks row, names) pairs; None when set aside."""
    tracks = playlist.get("tracks") if isinstance(playlist, dict) else None
    if isinstance(tracks, list):
        batch.records += len(tracks)
    if not isinstance(playlist, dict):
        batch.set_aside(ref, "not_an_object", playlist)
        return None
    pid = as_int(playlist.get("pid"))
    if pid is None:
        batch.set_aside(ref, "missing_pid", playlist)
        return None
    if not isinstance(tracks, list):
        batch.set_aside(ref, "no_track_list", playlist)
        return None
    playlist_id = f"pl_mpd_{pid}"
    modified_at = as_int(playlist.get("modified_at"))
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
        if not isinstance(track, dict):
            batch.set_aside(f"{ref}.tracks[{index}]", "not_an_object", track)
            continue
        track_id = ids.track_id(track.get("track_uri"))
        position = as_int(track.get("pos"))
        if track_id is None:
            batch.notes["unparseable_track_uri"] += 1
        if position is None:
            batch.notes["unparseable_pos"] += 1
        mapped.append((
            {"playlist_id": playlist_id, "position": position, "track_id": track_id, "added_at": None},
            (track.get("artist_name"), track.get("track_name"), track.get("album_name"),
             as_int(track.get("duration_ms"))),
        ))
    return row, mapped
