"""The raw contract: the tables every loader writes and every staging model reads.

One Parquet folder per table on DuckDB (``<raw dir>/<table>/*.parquet``), one table per entry in
the raw dataset on BigQuery. Timestamps are UTC, stored without a time zone. Keys are strings so
that real exports (Spotify ids, URIs) fit as they are.

Every table ends with ``loaded_at``: when the row reached the raw contract (the generator's
``--loaded-at``, a loader's commit time). It is not part of what a source says (``RECORDS``, what
generators and loaders fill in), it is stamped on whole tables by ``stamped`` when they are
written, so it has one home. It is what ``dbt source freshness`` measures. Files and tables
written before it existed read it as null (the DuckDB raw views, ``tunesday-load raw``, and
the loaders' BigQuery store, which adds the column to an older table).
"""

import datetime as dt

import pyarrow as pa

TS = pa.timestamp("us")
# Beside the table folders, a raw folder that loaders wrote holds their load ledger here
# (tunesday/load/stores.py); the generator refuses to replace such a folder.
LOADS_FOLDER = "_loads"
LOADED_AT = pa.field("loaded_at", TS)

RECORDS: dict[str, pa.Schema] = {
    "listening_events": pa.schema(
        [
            ("event_id", pa.string()),
            ("user_id", pa.string()),
            ("track_id", pa.string()),
            ("played_at", TS),
            ("ms_played", pa.int64()),
            ("context_type", pa.string()),  # playlist | album | artist | collection | radio | search
            ("context_id", pa.string()),  # the playlist, album or artist id; null for the others
            ("reason_start", pa.string()),  # clickrow | trackdone | fwdbtn | backbtn | playbtn | appload | remote
            ("reason_end", pa.string()),  # trackdone | fwdbtn | backbtn | endplay | logout | unexpected-exit
            ("shuffle", pa.bool_()),
            ("skipped", pa.bool_()),
            ("platform", pa.string()),  # ios | android | desktop | web | smart_speaker
            ("country", pa.string()),  # ISO 3166-1 alpha-2
        ]
    ),
    "tracks": pa.schema(
        [
            ("track_id", pa.string()),
            ("track_name", pa.string()),
            ("artist_id", pa.string()),
            ("album_id", pa.string()),
            ("album_name", pa.string()),
            ("release_date", pa.date32()),
            ("duration_ms", pa.int64()),
            ("popularity", pa.int64()),  # 0-100
            ("genre", pa.string()),
            ("tempo", pa.float64()),  # BPM
            ("key", pa.int64()),  # pitch class 0 = C .. 11 = B, -1 = no key detected
            ("mode", pa.int64()),  # 1 major, 0 minor
            ("time_signature", pa.int64()),  # beats per bar, 3..7
            ("energy", pa.float64()),  # 0-1
            ("valence", pa.float64()),  # 0-1
            ("danceability", pa.float64()),  # 0-1
            ("acousticness", pa.float64()),  # 0-1
            ("instrumentalness", pa.float64()),  # 0-1
            ("loudness", pa.float64()),  # dB, about -60..0
        ]
    ),
    "artists": pa.schema(
        [
            ("artist_id", pa.string()),
            ("artist_name", pa.string()),
            ("genre", pa.string()),
            ("country", pa.string()),
        ]
    ),
    "users": pa.schema(
        [
            ("user_id", pa.string()),
            ("country", pa.string()),
            ("signup_date", pa.date32()),
            ("product_tier", pa.string()),  # free | premium | family | student
        ]
    ),
    "playlists": pa.schema(
        [
            ("playlist_id", pa.string()),
            ("owner_user_id", pa.string()),
            ("playlist_name", pa.string()),
            ("created_at", TS),
            ("is_public", pa.bool_()),
        ]
    ),
    "playlist_tracks": pa.schema(
        [
            ("playlist_id", pa.string()),
            ("position", pa.int64()),  # 0-based
            ("track_id", pa.string()),
            ("added_at", TS),
        ]
    ),
    "follows": pa.schema(
        [
            ("user_id", pa.string()),
            ("artist_id", pa.string()),
            ("followed_at", TS),
        ]
    ),
    "saved_tracks": pa.schema(
        [
            ("user_id", pa.string()),
            ("track_id", pa.string()),
            ("saved_at", TS),
        ]
    ),
    # What the serving shim served a listener in an experiment (serving/exposures.py logs it,
    # `tunesday-load exposures` ships it; the generator simulates it).
    "exposures": pa.schema(
        [
            ("exposure_id", pa.string()),  # unique per exposure: the same id twice is one exposure shipped twice
            ("user_id", pa.string()),
            ("experiment_id", pa.string()),
            ("variant", pa.string()),
            ("surface", pa.string()),  # for_you | discover_weekly
            ("exposed_at", TS),  # when the surface was served
            ("snapshot_id", pa.string()),  # the serving snapshot it was served from
        ]
    ),
}

# What is stored: the records and when they were loaded.
SCHEMAS: dict[str, pa.Schema] = {table: schema.append(LOADED_AT) for table, schema in RECORDS.items()}


def stamped(table: str, rows: pa.Table, loaded_at: dt.datetime) -> pa.Table:
    """`rows` of a contract table (RECORDS' columns) as stored: with `loaded_at` (naive UTC) on each."""
    if not rows.schema.equals(RECORDS[table]):
        raise ValueError(f"{table} rows do not match the raw contract:\n{rows.schema}")
    return rows.append_column(LOADED_AT, pa.repeat(pa.scalar(loaded_at, TS), rows.num_rows))


# The columns that identify a row; a second row with the same key is a duplicate.
KEYS: dict[str, tuple[str, ...]] = {
    "listening_events": ("event_id",),
    "tracks": ("track_id",),
    "artists": ("artist_id",),
    "users": ("user_id",),
    "playlists": ("playlist_id",),
    "playlist_tracks": ("playlist_id", "position"),
    "follows": ("user_id", "artist_id"),
    "saved_tracks": ("user_id", "track_id"),
    "exposures": ("exposure_id",),
}

# The day the service opened; anything played before it cannot be trusted.
SERVICE_LAUNCH_DATE = "2008-10-07"
