"""What the two Spotify listening-history loaders share: the extended streaming history
(``tunesday.load.spotify_history``) and the account-data streaming history
(``tunesday.load.spotify_account_history``).

Finding a listener's files (``listener_files``): each PATH is a listener's folder of export
files, a folder of such listener folders, or one such file. The listener's user id is the
folder's name (characters outside ``[A-Za-z0-9_:-]`` become ``_``), or ``--user-id`` when one
listener is loaded. Give a listener who has both exports the same user id for both (the two
downloads unpack into differently named folders): that is what lets their plays be compared.

Writing a file's plays (``write_plays``): a play whose event id is already in the raw contract
(the same play from an overlapping second download of the same export) is not written again; nor
is a play the *other* export already loaded (``overlapping``); the tracks, artists and the
listener the written plays need are merged into the catalog. Both count as ``already_known``;
the second also as the note ``overlap_with_other_export``.

The same play in both exports. Up to a year of a listener's plays is in both downloads: the
account data has the last year, the extended history everything. A play of one is the same play
as one of the other when the user, ``ms_played`` and the normalised artist and track names
(``ids.name_key``) are the same and the end times agree to the minute: the account data's
``endTime`` is the extended ``ts`` cut to the minute. (Measured on the one public pair of a
listener's two downloads we found: each endTime was its ts with the seconds dropped,
``01:21:56`` -> ``01:21``, never rounded up; the shared histories have no account data.) One
minute either way is allowed, exact minutes matched first, in case an export rounds or its
clock differs by a second. Then, for the plays still unmatched, the same with only one of the
two names the same: Spotify renames between plays (an album's artist credit, a title's spelling)
and the raw contract has names per track, not per play, so a stored play is compared by the
names the catalog has for its track (``Store.listener_plays``), the first ones loaded. Without
this, 20 of one shared listener's 8,538 plays were loaded twice (``Parda`` by "Deepak Rathore
Project" in January is by "Deepak Rathore" in April, the same track id); a play of the same
length to the millisecond, ending in the same minutes, by the same artist or of the same title,
is the same play.

Plays are matched one to one, as many as each side has of a key: in that public pair the account
data held one record where the extended history had up to eight identical plays in the same
minute, and one-to-one matching gives the same plays whichever export is loaded first (per key,
the larger of the two counts). The exact copies of a play in one file share an event id and
count as one play, as staging counts them.

The export loaded first wins: its record of a play is the one kept, the other's is not written.
Load the extended history first to keep the richer record (the track's Spotify id, platform,
country, start and end reasons, shuffle, skipped), then the account data for what it has beyond.
Plays are compared within one input file against what the store holds when the file is loaded.
"""

import datetime as dt
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from tunesday.load import ids
from tunesday.load.catalog import Catalog
from tunesday.load.source import BadInput, Batch, InputFile, parse_json, strip_suffixes

USER_ID = re.compile(r"[A-Za-z0-9_:-]{1,128}")
OVERLAP = "overlap_with_other_export"
_EPOCH = dt.datetime(1970, 1, 1)
_MINUTE = dt.timedelta(minutes=1)


def user_id_from_folder(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_:-]", "_", name)[:128] or "_"


def checked_user_id(user_id: str | None) -> str | None:
    """`user_id` when it is None or a usable user id; ValueError (a bad argument) otherwise."""
    if user_id is not None and not USER_ID.fullmatch(user_id):
        raise ValueError(f"--user-id {user_id!r}: use 1-128 of A-Z a-z 0-9 _ : -")
    return user_id


def listener_files(paths: list[Path], pattern: str, user_id: str | None) -> list[InputFile]:
    """The export files (`pattern`) under `paths`, each scoped to its listener's user id."""
    listeners: list[tuple[str, list[Path]]] = []
    found: list[InputFile] = []
    for path in paths:
        if path.is_file():
            listeners.append((path.parent.name, [path]))
        elif path.is_dir() and sorted(path.glob(pattern)):
            listeners.append((path.name, sorted(path.glob(pattern))))
        elif path.is_dir() and any(sorted(d.glob(pattern)) for d in path.iterdir() if d.is_dir()):
            listeners += [
                (d.name, sorted(d.glob(pattern)))
                for d in sorted(path.iterdir())
                if d.is_dir() and sorted(d.glob(pattern))
            ]
        else:
            found.append(InputFile(path, error=f"no {pattern} files here (or in its sub-folders)"))
    if user_id is not None and len({folder for folder, _ in listeners}) > 1:
        raise BadInput("--user-id names one listener, but the paths hold several listener folders")
    for folder, files in listeners:
        scope = user_id or user_id_from_folder(folder)
        found += [InputFile(f, scope=scope, label=f"{scope}-{strip_suffixes(f.name)}") for f in files]
    return found


def read_plays(
    source: InputFile, data: bytes, catalog: Catalog, set_aside_reason, map_play, other_export: str
) -> Batch:
    """A history file's plays into a batch: each record set aside with `set_aside_reason(record)`
    or mapped with `map_play(ref, record, user_id, notes)` (inside the record guard), then the new ones
    written (``write_plays``)."""
    records = parse_json(data)
    if not isinstance(records, list):
        raise BadInput(f"expected a JSON list of plays, found a JSON {type(records).__name__}")
    batch = Batch(records=len(records))
    plays = []
    for index, record in enumerate(records):
        ref = f"[{index}]"
        with catalog.guard(batch, ref, record):
            reason = set_aside_reason(record)
            if reason:
                batch.set_aside(ref, reason, record)
            else:
                plays.append(map_play(ref, record, source.scope, batch.notes))
    return write_plays(batch, catalog, source.scope, plays, other_export)


@dataclass
class Play:
    """One mapped play: its checked listening_events row and the names it carries."""

    ref: str
    record: dict
    event: dict
    artist_name: str | None
    track_name: str | None
    album_name: str | None = None


def write_plays(batch: Batch, catalog: Catalog, user_id: str, plays: list[Play], other_export: str) -> Batch:
    """Add the file's plays that are new to `batch`, with the catalog rows they need
    (`other_export`: the event id prefix of the other export's plays)."""
    if not plays:
        return batch
    catalog.prefetch(
        track_ids=[play.event["track_id"] for play in plays],
        artist_ids=[ids.artist_id(play.artist_name) for play in plays],
        user_ids=[user_id],
    )
    event_ids = sorted({play.event["event_id"] for play in plays})
    known = {row["event_id"] for row in catalog.store.fetch("listening_events", "event_id", event_ids, ["event_id"])}
    unknown = [play for play in plays if play.event["event_id"] not in known]
    overlap = overlapping(unknown, catalog.store.listener_plays(user_id, other_export)) if unknown else set()
    for play in plays:
        with catalog.guard(batch, play.ref, play.record):
            batch.usable += 1
            event_id, track_id = play.event["event_id"], play.event["track_id"]
            if event_id in known or event_id in overlap:
                batch.already_known += 1
                batch.notes[OVERLAP] += event_id in overlap
                continue
            batch.add("listening_events", play.event)
            if track_id:
                catalog.named_track(batch, track_id, play.artist_name, play.track_name, play.album_name)
    countries = Counter(play.event["country"] for play in plays if play.event["country"])
    catalog.user(batch, user_id, countries.most_common(1)[0][0] if countries else None)
    return batch


def overlapping(plays: list[Play], others: list[dict]) -> set[str]:
    """The event ids of `plays` that are plays in `others` (``Store.listener_plays`` rows of the
    other export), matched one to one: both names first, then one of them; for each, the exact
    minute first, then one minute either way."""
    if not others:
        return set()  # the common case: one export only
    candidates: dict[tuple, list[int]] = defaultdict(list)  # key -> the other plays that have it
    for number, row in enumerate({row["event_id"]: row for row in others}.values()):
        for key in match_keys(row["played_at"], row["ms_played"], row["artist_name"], row["track_name"]):
            candidates[key].append(number)
    wanted: dict[str, tuple] = {}
    for play in plays:
        keys = match_keys(play.event["played_at"], play.event["ms_played"], play.artist_name, play.track_name)
        if keys:
            wanted.setdefault(play.event["event_id"], keys)
    taken: set[int] = set()
    matched: set[str] = set()
    for names in range(3):  # both names, the same artist, the same track
        for shift in (0, -1, 1):
            for event_id, keys in wanted.items():
                if event_id in matched:
                    continue
                minute, *rest = keys[names]
                other = next((n for n in candidates.get((minute + shift, *rest), ()) if n not in taken), None)
                if other is not None:
                    taken.add(other)
                    matched.add(event_id)
    return matched


def match_keys(played_at, ms_played, artist_name, track_name) -> tuple[tuple, ...]:
    """What a play is compared by: (minute it ended, ms played, normalised artist, normalised
    track), and the same with only the artist, and only the track; none when a part is unknown
    (such a play is never taken for another)."""
    names = ids.name_key(artist_name, track_name)
    if played_at is None or ms_played is None or names is None:
        return ()
    if played_at.tzinfo is not None:  # BigQuery answers TIMESTAMPs in UTC with a zone
        played_at = played_at.astimezone(dt.UTC).replace(tzinfo=None)
    try:
        minute = (played_at + dt.timedelta(milliseconds=ms_played) - _EPOCH) // _MINUTE
    except OverflowError:
        return ()
    (artist, track) = names
    return (minute, ms_played, artist, track), (minute, ms_played, artist, None), (minute, ms_played, None, track)
