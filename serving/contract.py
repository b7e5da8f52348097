"""The serving tables' columns and their types: GENERATED from the dbt contracts by
`python -m serving.generate_contract`; do not edit (tests/python/test_serving_contract.py checks it)."""

#: Per serving table, its columns in contract order and their DuckDB types.
SERVING_TABLES: dict[str, dict[str, str]] = {
    "serving_bloom_filter_words": {
        "user_id": "VARCHAR",
        "word_index": "BIGINT",
        "word": "BIGINT",
    },
    "serving_bloom_filters": {
        "user_id": "VARCHAR",
        "item_count": "BIGINT",
        "bit_count": "BIGINT",
        "hash_count": "BIGINT",
        "word_count": "BIGINT",
        "target_false_positive_rate": "DOUBLE",
        "expected_false_positive_rate": "DOUBLE",
        "as_of_date": "DATE",
    },
    "serving_playlist_tracks": {
        "playlist_id": "VARCHAR",
        "owner_user_id": "VARCHAR",
        "playlist_name": "VARCHAR",
        "playlist_position": "BIGINT",
        "track_id": "VARCHAR",
        "run_date": "DATE",
    },
    "serving_recommendations": {
        "user_id": "VARCHAR",
        "surface": "VARCHAR",
        "surface_position": "BIGINT",
        "track_id": "VARCHAR",
        "score": "DOUBLE",
        "is_new_artist": "BOOLEAN",
        "reason_codes": "VARCHAR",
        "seed_type": "VARCHAR",
        "seed_id": "VARCHAR",
        "week_start": "DATE",
        "run_date": "DATE",
    },
    "serving_settings": {
        "smart_shuffle_tracks_per_recommendation": "BIGINT",
        "run_date": "DATE",
    },
    "serving_smart_shuffle_pools": {
        "playlist_id": "VARCHAR",
        "owner_user_id": "VARCHAR",
        "pool_rank": "BIGINT",
        "track_id": "VARCHAR",
        "score": "DOUBLE",
        "reason_codes": "VARCHAR",
        "seed_track_id": "VARCHAR",
        "run_date": "DATE",
    },
    "serving_tracks": {
        "track_id": "VARCHAR",
        "track_name": "VARCHAR",
        "artist_id": "VARCHAR",
        "artist_name": "VARCHAR",
        "album_name": "VARCHAR",
        "duration_ms": "BIGINT",
        "tempo_bpm": "DOUBLE",
        "camelot_code": "VARCHAR",
        "run_date": "DATE",
    },
    "serving_users": {
        "user_id": "VARCHAR",
        "country_code": "VARCHAR",
        "product_tier": "VARCHAR",
        "week_start": "DATE",
        "run_date": "DATE",
    },
}
