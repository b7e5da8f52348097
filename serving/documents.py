"""The snapshot's document format: rendered once at export, assembled per request without JSON work.

A request must cost little more than a key lookup, so the export renders every piece of JSON a
response needs, and a request only looks the pieces up and joins bytes:

    tracks.fields        the end of an item: '"track_id":"t1","track_name":…,"camelot_code":"8B"}'
    tracks.bloom_h1/h2   the track's two Bloom hashes, so checking it against a listener's filter
                         needs no hashing
    surfaces.items       the start of each item, one per line, in position order:
                         '{"position":1,"score":0.93,"is_new_artist":true,"reasons":[…],"seed":{…},'
    surfaces.track_ids   the listed track ids, one per line, in the same order
    playlists.track_ids  the playlist's track ids, one per line, in playlist order
    playlists.pool_*     the Smart Shuffle pool, best first: ids, and the middle of each item, one per
                         line: '"recommended":true,"score":…,"reasons":[…],"seed_track_id":"t9",'
    listeners.bloom_*    the listener's heard-tracks filter: m, k, n and its bits (tunesday.bloom layout)

An item of a response is its start and its track's fields, concatenated. Scores are rounded to 6
decimals: enough to order and compare them. Identifiers in the envelope (user, playlist, seed)
passed the API's id pattern, which has no character JSON would escape. The rendering runs on DuckDB whatever the warehouse (see
warehouse.Warehouse.relations), so DuckDB and BigQuery give the same bytes for the same rows.
"""

from __future__ import annotations

import random
from typing import Protocol

from tunesday.bloom import BloomFilter

SCHEMA_VERSION = 2

SCHEMA = """
create table manifest (key text primary key, value text not null);
create table listeners (
    user_id text primary key,
    country_code text,
    product_tier text,
    bloom_item_count integer,   -- the heard-tracks filter; all four null: the listener heard nothing
    bloom_bit_count integer,
    bloom_hash_count integer,
    bloom_bits blob
) without rowid;
create table tracks (
    track_id text primary key,
    fields blob not null,
    bloom_h1 integer not null,
    bloom_h2 integer not null
) without rowid;
create table surfaces (
    user_id text not null,
    surface text not null,
    track_ids text not null,
    items blob not null,
    primary key (user_id, surface)
) without rowid;
create table playlists (
    playlist_id text primary key,
    owner_user_id text not null,
    playlist_name text,
    track_ids text not null,
    pool_track_ids text not null,   -- '' when the playlist has no pool (under 15 tracks)
    pool_items blob not null
) without rowid;
"""

_REASONS = "list_filter(string_split(coalesce(reason_codes, ''), ','), lambda code: code <> '')"
_TRACK_FIELDS = ("track_id", "track_name", "artist_id", "artist_name", "album_name", "duration_ms", "tempo_bpm",
                 "camelot_code")

#: What must hold of the serving tables before anything is rendered: (violation, query counting it).
CHECKS: list[tuple[str, str]] = [
    ("a listener without user_id", "select count(*) from serving_listeners where user_id is null"),
    ("a recommendation of an unknown listener", """
        select count(*) from serving_recommendations
        where user_id not in (select user_id from serving_listeners where user_id is not null)"""),
    ("a recommendation of an unknown surface",
     "select count(*) from serving_recommendations where surface not in ('discover_weekly', 'for_you')"),
    ("surface positions that are not 1..n", """
        select count(*) from (
            select surface_position, row_number() over (partition by user_id, surface order by surface_position) as expected
            from serving_recommendations
        ) where surface_position is distinct from expected"""),
    ("playlist positions that are not 1..n", """
        select count(*) from (
            select playlist_position, row_number() over (partition by playlist_id order by playlist_position) as expected
            from serving_playlist_tracks
        ) where playlist_position is distinct from expected"""),
    ("pool ranks that are not 1..n", """
        select count(*) from (
            select pool_rank, row_number() over (partition by playlist_id order by pool_rank) as expected
            from serving_smart_shuffle_pools
        ) where pool_rank is distinct from expected"""),
    ("a Smart Shuffle pool of an unknown playlist", """
        select count(*) from serving_smart_shuffle_pools
        where playlist_id not in (select playlist_id from serving_playlist_tracks where playlist_id is not null)"""),
    ("a listed track without track_id", """
        select (select count(*) from serving_recommendations where track_id is null)
             + (select count(*) from serving_playlist_tracks where track_id is null)
             + (select count(*) from serving_smart_shuffle_pools where track_id is null)"""),
    ("a score that is null or not finite", """
        select (select count(*) from serving_recommendations where score is null or not isfinite(score))
             + (select count(*) from serving_smart_shuffle_pools where score is null or not isfinite(score))"""),
    ("a Bloom filter of an unknown listener", """
        select count(*) from serving_bloom_filters
        where user_id not in (select user_id from serving_listeners where user_id is not null)"""),
    ("a Bloom filter without bits", "select count(*) from serving_bloom_filters where bit_count < 1 or hash_count < 1"),
    ("Bloom filter words of a listener without a filter", """
        select count(*) from serving_bloom_filter_words
        where user_id not in (select user_id from serving_bloom_filters)"""),
]

RUN_DATES = "select distinct cast(run_date as varchar) from serving_listeners"

LISTENERS = """
    select listeners.user_id, listeners.country_code, listeners.product_tier,
           filters.item_count, filters.bit_count, filters.hash_count, words.word_indexes, words.words
    from serving_listeners as listeners
    left join serving_bloom_filters as filters on filters.user_id = listeners.user_id
    left join (
        select user_id, list(word_index order by word_index) as word_indexes, list(word order by word_index) as words
        from serving_bloom_filter_words group by user_id
    ) as words on words.user_id = listeners.user_id
    order by listeners.user_id
"""

TRACKS = f"""
    with listed as (
        select {', '.join(_TRACK_FIELDS)} from serving_recommendations
        union
        select {', '.join(_TRACK_FIELDS)} from serving_playlist_tracks
        union
        select {', '.join(_TRACK_FIELDS)} from serving_smart_shuffle_pools
    ), rendered as (
        select track_id, to_json({{{', '.join(f"'{field}': {field}" for field in _TRACK_FIELDS)}}}) as fields
        from listed
    )
    select track_id, encode(substr(fields, 2, length(fields) - 1)) from rendered order by track_id
"""

# array_to_string(list(… order by …)) is faster on DuckDB than an ordered string_agg. DuckDB's
# length and substr count characters, so cutting braces off rendered JSON is safe.
SURFACES = f"""
    with rendered as (
        select user_id, surface, surface_position, track_id,
               to_json({{'position': surface_position, 'score': round(score, 6), 'is_new_artist': is_new_artist,
                        'reasons': {_REASONS}, 'seed': {{'type': seed_type, 'id': seed_id}}}}) as item
        from serving_recommendations
    )
    select user_id, surface,
           array_to_string(list(track_id order by surface_position), chr(10)) as track_ids,
           encode(array_to_string(list(substr(item, 1, length(item) - 1) || ',' order by surface_position),
                                  chr(10))) as items
    from rendered
    group by user_id, surface
    order by user_id, surface
"""

PLAYLISTS = f"""
    with listed as (
        select playlist_id, min(owner_user_id) as owner_user_id, min(playlist_name) as playlist_name,
               array_to_string(list(track_id order by playlist_position), chr(10)) as track_ids
        from serving_playlist_tracks
        group by playlist_id
    ), rendered as (
        select playlist_id, pool_rank, track_id,
               to_json({{'recommended': true, 'score': round(score, 6), 'reasons': {_REASONS},
                        'seed_track_id': seed_track_id}}) as item
        from serving_smart_shuffle_pools
    ), pools as (
        select playlist_id,
               array_to_string(list(track_id order by pool_rank), chr(10)) as pool_track_ids,
               encode(array_to_string(list(substr(item, 2, length(item) - 2) || ',' order by pool_rank),
                                      chr(10))) as pool_items
        from rendered
        group by playlist_id
    )
    select listed.playlist_id, listed.owner_user_id, listed.playlist_name, listed.track_ids,
           coalesce(pools.pool_track_ids, '') as pool_track_ids, coalesce(pools.pool_items, ''::blob) as pool_items
    from listed left join pools on pools.playlist_id = listed.playlist_id
    order by listed.playlist_id
"""


def split_lines(text: str) -> list[str]:
    return text.split("\n") if text else []


def bloom_bits(bit_count: int, hash_count: int, word_indexes: list[int] | None, words: list[int] | None) -> bytes:
    """A filter's bits from its warehouse words (checked: indexes inside the filter, int64 words)."""
    return BloomFilter(bit_count, hash_count, dict(zip(word_indexes or [], words or []))).to_bytes()


# Request side ---------------------------------------------------------------------------------


class Tracks(Protocol):
    """The snapshot's tracks table, read through a cache (store_reader.Snapshot)."""

    def fields(self, track_ids: list[str]) -> list[bytes]: ...
    def hashes(self, track_ids: list[str]) -> list[tuple[int, int]]: ...


def surface_body(user_id: str, surface: str, run_date: str, track_ids: str, items: bytes, limit: int | None,
                 tracks: Tracks) -> bytes:
    ids = split_lines(track_ids)
    starts = items.split(b"\n") if items else []
    if limit is not None:
        ids, starts = ids[:limit], starts[:limit]
    head = b'{"user_id":"%s","surface":"%s","run_date":"%s","items":[' % (
        user_id.encode(), surface.encode(), run_date.encode())
    return head + b",".join(map(bytes.__add__, starts, tracks.fields(ids))) + b"]}"


def smart_shuffle_body(user_id: str, playlist_id: str, seed: str, run_date: str, playlist: tuple,
                       heard: BloomFilter | None, every: int, tracks: Tracks) -> bytes:
    """The playlist shuffled (deterministic for seed and playlist), one recommendation after every
    `every` tracks, the pool's tracks the listener has probably heard left out."""
    track_ids, pool_track_ids, pool_items = playlist
    order = split_lines(track_ids)
    random.Random(f"{seed}|{playlist_id}").shuffle(order)
    pool = split_lines(pool_track_ids)
    wanted = min(len(order) // every, len(pool))
    if heard is None:
        fresh = list(range(wanted))
    else:
        fresh = heard.first_absent(tracks.hashes(pool), wanted)
    middles = pool_items.split(b"\n") if fresh else []
    woven: list[str] = []
    starts: list[bytes] = []
    recommendations = iter(fresh)
    for index, track_id in enumerate(order, start=1):
        woven.append(track_id)
        starts.append(_plain_start(len(woven)))
        if index % every == 0:
            recommendation = next(recommendations, None)
            if recommendation is not None:
                woven.append(pool[recommendation])
                starts.append(b'{"position":%d,%s' % (len(woven), middles[recommendation]))
    head = b'{"user_id":"%s","playlist_id":"%s","seed":"%s","run_date":"%s","items":[' % (
        user_id.encode(), playlist_id.encode(), seed.encode(), run_date.encode())
    return head + b",".join(map(bytes.__add__, starts, tracks.fields(woven))) + b"]}"


_PLAIN_STARTS: list[bytes] = [b""]


def _plain_start(position: int) -> bytes:
    """'{"position":N,"recommended":false,', made once per N."""
    while len(_PLAIN_STARTS) <= position:
        _PLAIN_STARTS.append(b'{"position":%d,"recommended":false,' % len(_PLAIN_STARTS))
    return _PLAIN_STARTS[position]
