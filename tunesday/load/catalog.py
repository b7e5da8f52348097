"""The catalog of tracks, artists and users a load merges into ("merging with what is known").

Staging rejects plays and playlist tracks of
unknown tracks and users, and tracks of unknown artists, so every loader also writes the
``tracks``, ``artists`` and ``users`` rows its rows need. ``Catalog`` looks up what the raw
contract already has for the ids of a file (``Store.fetch``; of several raw rows of one track it
takes the one with the most non-null fields, the one staging should keep) and merges the new
facts into it field by field: names, artist and album (``fill``) only fill what is unknown; the
measured fields of an audio-features file (``override``) replace older values. A null never
blanks out a known value. A merged row is written only when it differs from what is known, so a
track seen in every file of a history, or the same features twice, is written once; the written
row carries every field known so far, so any single row staging keeps for a track is complete.

What the catalog learns from a record is only true once the record's rows are written, so every
change is journaled: ``guard`` undoes a record that fails half-way (and sets it aside with its
reason), and the runner undoes a whole file that fails or is not written (``mark``,
``rollback``; ``keep`` once the file's rows are in the store). Without that, a track merged from
a rejected record would count as known and the next play of it would write no tracks row.
"""

from tunesday.contract import RECORDS
from tunesday.load import ids
from tunesday.load.source import ENTITY_KEYS, Batch, set_undoably, undo_since
from tunesday.load.stores import Store

TRACK_COLUMNS = RECORDS["tracks"].names
# Why a record that no rule foresaw is set aside (the error is kept with the record).
UNFORESEEN = "unparseable_record"


class Catalog:
    """The tracks, artists and users the raw contract knows, looked up per file and merged into."""

    def __init__(self, store: Store):
        self.store = store
        self._tracks: dict[str, dict | None] = {}
        self._artists: dict[str, bool] = {}
        self._users: dict[str, bool] = {}
        self._journal: list[tuple[dict, str, object]] = []

    def guard(self, batch: Batch, ref: str, record) -> "_RecordGuard":
        """``with catalog.guard(batch, ref, record):`` around everything one record touches
        (mapping, merging, checking its rows): an exception sets the record aside as
        ``unparseable_record`` with the error, undoes what it added to the batch and the catalog,
        and the file goes on with the next record."""
        return _RecordGuard(self, batch, ref, record)

    def mark(self) -> int:
        return len(self._journal)

    def rollback(self, mark: int) -> None:
        """Forget what was merged since `mark` (the lookups from the store stay: they are facts)."""
        undo_since(self._journal, mark)

    def keep(self) -> None:
        """What was merged so far is written: it can no longer be undone."""
        self._journal.clear()

    def prefetch(self, track_ids=(), artist_ids=(), user_ids=()) -> None:
        """Look up, in one query per table, the ids not looked up yet."""
        missing = sorted({t for t in track_ids if t and t not in self._tracks})
        for track_id in missing:
            self._tracks[track_id] = None
        for row in self.store.fetch("tracks", "track_id", missing, TRACK_COLUMNS):
            known = self._tracks[row["track_id"]]
            if known is None or _filled(row) >= _filled(known):
                self._tracks[row["track_id"]] = row
        for cache, table, key, wanted in (
            (self._artists, "artists", "artist_id", artist_ids),
            (self._users, "users", "user_id", user_ids),
        ):
            missing = sorted({i for i in wanted if i and i not in cache})
            cache.update(dict.fromkeys(missing, False))
            for row in self.store.fetch(table, key, missing, [key]):
                cache[row[key]] = True

    def known_track(self, track_id: str) -> dict | None:
        """The fullest row known for a prefetched track (None when unknown)."""
        return self._tracks[track_id]

    def track(
        self, batch: Batch, track_id: str, artist_name=None, fill: dict | None = None, override: dict | None = None
    ) -> bool:
        """Merge what a record says about a track into what is known; True when that adds something.

        `artist_name` gives the artist id (and an artists row when the artist is new) if the track
        has no artist yet. The track must have been prefetched.
        """
        known = self._tracks[track_id]
        row = dict(known) if known else dict.fromkeys(TRACK_COLUMNS)
        row["track_id"] = track_id
        fill = dict(fill or {})
        derived_artist = ids.artist_id(artist_name)
        fill.setdefault("artist_id", derived_artist)
        for column, value in fill.items():
            if value is not None and row[column] is None:
                row[column] = value
        for column, value in (override or {}).items():
            if value is not None:
                row[column] = value
        if row == known:
            return False
        set_undoably(self._journal, self._tracks, track_id, row)
        batch.put("tracks", row)
        if row["artist_id"] is not None and row["artist_id"] == derived_artist:
            self.artist(batch, derived_artist, ids.clean_text(artist_name))
        return True

    def named_track(
        self, batch: Batch, track_id: str, artist_name, track_name, album_name, duration_ms: int | None = None
    ) -> bool:
        """A track as a play or a playlist names it: names, album and length fill what is unknown."""
        return self.track(
            batch,
            track_id,
            artist_name=artist_name,
            fill={
                "track_name": ids.clean_text(track_name),
                "album_id": ids.album_id(artist_name, album_name),
                "album_name": ids.clean_text(album_name),
                "duration_ms": duration_ms,
            },
        )

    def artist(self, batch: Batch, artist_id: str, artist_name: str | None) -> None:
        """An artists row for an artist the contract does not know yet."""
        self._add_if_new(
            batch,
            "artists",
            self._artists,
            {"artist_id": artist_id, "artist_name": artist_name, "genre": None, "country": None},
        )

    def user(self, batch: Batch, user_id: str, country: str | None = None) -> None:
        """A users row for a listener the contract does not know yet (tier and signup unknown)."""
        self._add_if_new(
            batch,
            "users",
            self._users,
            {"user_id": user_id, "country": country, "signup_date": None, "product_tier": None},
        )

    def _add_if_new(self, batch: Batch, table: str, known: dict[str, bool], row: dict) -> None:
        key = row[ENTITY_KEYS[table]]
        if key not in known:
            self.prefetch(**{"artist_ids" if table == "artists" else "user_ids": [key]})
        if not known[key]:
            set_undoably(self._journal, known, key, True)
            batch.put(table, row)


def _filled(row: dict) -> int:
    return sum(value is not None for value in row.values())


class _RecordGuard:
    """``Catalog.guard``: a class rather than a generator, as it runs once per record."""

    __slots__ = ("catalog", "batch", "ref", "record", "marks")

    def __init__(self, catalog: Catalog, batch: Batch, ref: str, record):
        self.catalog, self.batch, self.ref, self.record = catalog, batch, ref, record

    def __enter__(self) -> None:
        self.marks = self.batch.mark(), len(self.catalog._journal)  # taken for every record: keep it cheap

    def __exit__(self, kind, error, traceback) -> bool:
        if error is None or not isinstance(error, Exception):
            return False
        self.batch.rollback(self.marks[0])
        self.catalog.rollback(self.marks[1])
        self.batch.set_aside(self.ref, UNFORESEEN, {"error": f"{kind.__name__}: {error}", "record": self.record})
        return True
