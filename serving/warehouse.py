"""Where the export reads the day's serving tables from: the DuckDB file or BigQuery, behind one interface."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

#: The tables the shim reads (models/marts/serving/), and the columns it needs of each.
SERVING_TABLES: dict[str, list[str]] = {
    "serving_listeners": ["user_id", "country_code", "product_tier", "run_date"],
    "serving_recommendations": [
        "user_id", "surface", "surface_position", "track_id", "score", "is_new_artist", "reason_codes",
        "seed_type", "seed_id", "track_name", "artist_id", "artist_name", "album_name", "duration_ms",
        "tempo_bpm", "camelot_code", "week_start", "run_date"],
    "serving_playlist_tracks": [
        "playlist_id", "owner_user_id", "playlist_name", "playlist_position", "track_id", "track_name",
        "artist_id", "artist_name", "album_name", "duration_ms", "tempo_bpm", "camelot_code", "run_date"],
    "serving_smart_shuffle_pools": [
        "playlist_id", "owner_user_id", "pool_rank", "track_id", "score", "reason_codes", "seed_track_id",
        "track_name", "artist_id", "artist_name", "album_name", "duration_ms", "tempo_bpm", "camelot_code",
        "run_date"],
    "serving_bloom_filters": ["user_id", "item_count", "bit_count", "hash_count", "as_of_date"],
    "serving_bloom_filter_words": ["user_id", "word_index", "word"],
}
# Rows come ordered so that the export can stream them into per-key documents.
ORDER_BY: dict[str, str] = {
    "serving_listeners": "user_id",
    "serving_recommendations": "user_id, surface, surface_position",
    "serving_playlist_tracks": "playlist_id, playlist_position",
    "serving_smart_shuffle_pools": "playlist_id, pool_rank",
    "serving_bloom_filters": "user_id",
    "serving_bloom_filter_words": "user_id, word_index",
}


class ExportError(Exception):
    """The warehouse cannot give a valid snapshot: nothing is published."""


class Warehouse(Protocol):
    def count(self, table: str) -> int: ...
    def rows(self, table: str) -> Iterator[dict]: ...
    def close(self) -> None: ...


class DuckDBWarehouse:
    """The DuckDB file, opened read-only for the export and closed after it (dbt needs the lock)."""

    def __init__(self, path: str) -> None:
        import duckdb

        try:
            self._con = duckdb.connect(path, read_only=True)
        except duckdb.Error as error:
            raise ExportError(f"cannot open the DuckDB warehouse {path!r}: {error}") from error
        self._error = duckdb.Error

    def count(self, table: str) -> int:
        try:
            return self._con.execute(f"select count(*) from {table}").fetchone()[0]
        except self._error as error:
            raise ExportError(f"cannot read {table}: {error}") from error

    def rows(self, table: str) -> Iterator[dict]:
        columns = SERVING_TABLES[table]
        cursor = self._con.execute(f"select {', '.join(columns)} from {table} order by {ORDER_BY[table]}")
        while batch := cursor.fetchmany(10_000):
            for row in batch:
                yield dict(zip(columns, row))

    def close(self) -> None:
        self._con.close()


class BigQueryWarehouse:
    """The dataset on BigQuery (or the emulator), read with google-cloud-bigquery."""

    def __init__(self, project: str, dataset: str, endpoint: str | None = None) -> None:
        from tunesday.load.bigquery import make_client

        self._client = make_client(project, endpoint)
        self._prefix = f"`{project}.{dataset}`"

    def _query(self, sql: str):
        from google.api_core.exceptions import GoogleAPIError

        try:
            return self._client.query(sql).result()
        except GoogleAPIError as error:
            raise ExportError(f"BigQuery query failed: {error}") from error

    def count(self, table: str) -> int:
        return next(iter(self._query(f"select count(*) from {self._prefix}.{table}")))[0]

    def rows(self, table: str) -> Iterator[dict]:
        columns = SERVING_TABLES[table]
        for row in self._query(f"select {', '.join(columns)} from {self._prefix}.{table} order by {ORDER_BY[table]}"):
            yield dict(zip(columns, row.values()))

    def close(self) -> None:
        self._client.close()
