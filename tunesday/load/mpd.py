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
foresaw (a name given as an object, a ``modified_at`` no date holds), per playlist or per track
entry, whichever it is in. A ``pos`` or ``pid`` beyond 64 bits is as bad as one that is not a
number. A file the reader finds damaged (not JSON, truncated, nested too deeply, no
``playlists`` array) fails whole: nothing of it is loaded. A playlist already in the raw
contract (from an earlier load) is not written again; as the runner writes a file's rows in all
tables or in none, "already in the contract" means all of its tracks are too.

Records: every playlist record, and the track entries of the playlists that are not set aside
as a whole; each is in the end usable or set aside.
"""

import datetime as dt
from pathlib import Path

from tunesday import mpd
from tunesday.load import ids
from tunesday.load.catalog import Catalog
from tunesday.load.source import BadInput, Batch, InputFile, check_row, find_files, text_field, text_stream

OWNER_USER_ID = "usr_mpd"


class MillionPlaylistDataset:
    name = "mpd"
    records_are = "playlists or playlist tracks"
    kept_out: frozenset[str] = frozenset()  # the dataset holds music only: every record set aside is bad

    def files(self, paths: list[Path]) -> list[InputFile]:
        return find_files(paths, mpd.SLICE_PATTERNS, "mpd.slice.*.json(.gz)")

    def read(self, source: InputFile, data: bytes, catalog: Catalog) -> Batch:
        batch = Batch()
        playlists = []
        try:
            for index, record in enumerate(mpd.playlist_records(text_stream(data))):
                ref = f"playlists[{index}]"
                batch.records += 1
                with catalog.guard(batch, ref, record):
                    mapped = map_playlist(record, ref, batch, catalog)
                    if mapped:
                        playlists.append(mapped)
        except mpd.DAMAGED as error:
            raise BadInput(f"not a whole MPD slice ({type(error).__name__}: {error})") from None
        if not playlists:
            return batch
        catalog.prefetch(
            track_ids=[row["track_id"] for _, tracks in playlists for _, _, row, _, _ in tracks],
            artist_ids=[artist_id for _, tracks in playlists for _, _, _, artist_id, _ in tracks],
            user_ids=[OWNER_USER_ID],
        )
        known = {
            row["playlist_id"]
            for row in catalog.store.fetch(
                "playlists", "playlist_id", [p["playlist_id"] for p, _ in playlists], ["playlist_id"]
            )
        }
        for playlist, tracks in playlists:
            if playlist["playlist_id"] in known:
                batch.usable += 1 + len(tracks)
                batch.already_known += 1 + len(tracks)
                continue
            batch.usable += 1
            batch.add("playlists", playlist)
            for ref, entry, row, _, names in tracks:
                with catalog.guard(batch, ref, entry):
                    batch.usable += 1
                    batch.add("playlist_tracks", row)
                    if row["track_id"]:
                        catalog.named_track(batch, row["track_id"], *names)
        if batch.rows.get("playlists"):
            catalog.user(batch, OWNER_USER_ID)
        return batch


def map_playlist(playlist, ref: str, batch: Batch, catalog: Catalog):
    """A checked playlists row and, per track entry kept, its reference, the entry, its checked
    playlist_tracks row, its artist id and its names; None when the playlist is set aside.
    Its track entries count as records only when the playlist is one; each is guarded alone."""
    problem = mpd.record_problem(playlist)
    if problem:
        batch.set_aside(ref, problem, playlist)
        return None
    tracks = playlist["tracks"]
    batch.records += len(tracks)
    playlist_id = f"pl_mpd_{ids.whole_number(playlist['pid'])}"
    modified_at = ids.whole_number(playlist.get("modified_at"))
    row = check_row(
        "playlists",
        {
            "playlist_id": playlist_id,
            "owner_user_id": OWNER_USER_ID,
            "playlist_name": ids.clean_text(playlist.get("name")),
            "created_at": (
                dt.datetime.fromtimestamp(modified_at, dt.UTC).replace(tzinfo=None) if modified_at is not None else None
            ),
            "is_public": True,
        },
    )
    mapped = []
    for index, entry in enumerate(tracks):
        entry_ref = f"{ref}.tracks[{index}]"
        with catalog.guard(batch, entry_ref, entry):
            problems = mpd.entry_problems(entry)
            if problems == ["bad_track"]:
                batch.set_aside(entry_ref, "bad_track", entry)
                continue
            batch.notes.update(problems)
            artist = text_field(entry, "artist_name")
            mapped.append(
                (
                    entry_ref,
                    entry,
                    check_row(
                        "playlist_tracks",
                        {
                            "playlist_id": playlist_id,
                            "position": mpd.entry_position(entry, index),
                            "track_id": None if "bad_track_uri" in problems else ids.track_id(entry["track_uri"]),
                            "added_at": None,
                        },
                    ),
                    ids.artist_id(artist),
                    (
                        artist,
                        text_field(entry, "track_name"),
                        text_field(entry, "album_name"),
                        ids.whole_number(entry.get("duration_ms")),
                    ),
                )
            )
    return row, mapped
