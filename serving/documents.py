"""The snapshot's document format: rendered once at export, assembled per request without JSON work.

A request must cost little more than a key lookup, so the export renders every piece of JSON a
response needs, and a request only looks the pieces up and joins bytes:

    tracks.fields        the end of an item: '"track_id":"t1","track_name":…,"camelot_code":"8B"}'
    surfaces.body        the whole response of a listener's Discover Weekly, rendered at export;
    surfaces.item_ends   where its items start and each one ends (uint32, little-endian), so a
                         ?limit=k answer is body[:end of item k] + ']}'
    surface_parts.items  the other surfaces (For You) as parts: the start of each item, one per line,
                         with the comma before ('{"position":1,…,"seed":{…},'  ',{"position":2,…');
    surface_parts.track_ids  and the listed track ids, one per line, in the same order
    playlists.track_ids  the playlist's track ids, one per line, in playlist order
    playlists.pool_*     the Smart Shuffle pool, best first: ids, and the middle of each item, one per
                         line: '"recommended":true,"score":…,"reasons":[…],"seed_track_id":"t9",'
    playlists.pool_hashes  each pool track's two Bloom hashes (int64 pairs, big-endian: the bytes of
                         the MD5s hash64 reads; rendered per track by DuckDB, joined per playlist):
                         checking them against a filter needs neither hashing nor a lookup
    listeners.bloom_*    the listener's heard-tracks filter: m, k, n and its bits (tunesday.bloom layout)

Discover Weekly, the hottest route and fixed all week, is joined whole at export
(`surface_document`). Other items are their start and their track's fields, concatenated per
request: whole For You lists would double the snapshot, and with it the export time. Scores are
rounded to 6 decimals: enough to order and compare them. Identifiers in the envelope (user,
playlist, seed) passed the API's id pattern, which has no character JSON would escape. The
rendering runs on DuckDB whatever the warehouse (see warehouse.Warehouse.relations), so DuckDB
and BigQuery give the same bytes for the same rows.
"""

from __future__ import annotations

import random
import sys
from array import array
from itertools import accumulate
from typing import Protocol

from tunesday.bloom import SECOND_HASH_PREFIX, BloomFilter

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
    fields blob not null
) without rowid;
-- Discover Weekly (WHOLE_SURFACES) as whole responses. A rowid table: a row's body (up to ~40 KB)
-- stays in its 64 KiB page; WITHOUT ROWID tables overflow rows above ~16 KB into mostly empty pages.
create table surfaces (
    user_id text not null,
    surface text not null,
    body blob not null,
    item_ends blob not null,
    primary key (user_id, surface)
);
-- The other surfaces as parts, joined per request (half the bytes).
create table surface_parts (
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
    pool_items blob not null,
    pool_hashes blob not null
) without rowid;
"""


def _json_text(column: str) -> str:
    """A text column as a JSON string (escaped by to_json), or null."""
    return f"coalesce(cast(to_json({column}) as varchar), 'null')"


#: reason_codes ('a,b') as a JSON list: the codes escaped as one JSON string, then split at the commas.
_REASONS = ("if(coalesce(reason_codes, '') = '', '[]', "
            "'[' || replace(cast(to_json(reason_codes) as varchar), ',', '\",\"') || ']')")
_TRACK_FIELDS = ("track_id", "track_name", "artist_id", "artist_name", "album_name", "duration_ms", "tempo_bpm",
                 "camelot_code")

#: What must hold of the serving tables before anything is rendered: (violation, query counting it).
#: Positions (1..n, each once) are checked on the rendered rows: `positions_ok`.
CHECKS: list[tuple[str, str]] = [
    ("a listener without user_id", "select count(*) from serving_listeners where user_id is null"),
    ("a recommendation of an unknown listener", """
        select count(*) from serving_recommendations
        where user_id not in (select user_id from serving_listeners where user_id is not null)"""),
    ("a recommendation of an unknown surface",
     "select count(*) from serving_recommendations where surface not in ('discover_weekly', 'for_you')"),
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
    -- hash64 is the first 8 bytes of an MD5, read big-endian: a track's h1 and h2 are 16 bytes.
    select track_id, encode(substr(fields, 2, length(fields) - 1)) as fields,
           unhex(substr(md5(track_id), 1, 16) || substr(md5('{SECOND_HASH_PREFIX}' || track_id), 1, 16)) as bloom_hashes
    from rendered order by track_id
"""

#: Surfaces stored as whole responses (table surfaces); the others as parts (surface_parts).
WHOLE_SURFACES = ("discover_weekly",)
PART_SURFACES = ("for_you",)


def _sorted_lists(rows: str, key: str, order: str, fields: dict[str, str], also: str = "") -> str:
    """Per key, the rows' fields as lists in `order` (1..n each once: `positions_ok`), and the
    aggregates `also`: one sort of a list of structs, cheaper on DuckDB than an ordered list() per field."""
    entries = ", ".join(f"'{name}': {expression}" for name, expression in {"position": order, **fields}.items())
    lists = ", ".join(f"list_transform(entries, lambda entry: entry.{name}) as {name}" for name in fields)
    also = f"{also}, " if also else ""
    return f"""
        select * exclude (entries), len(entries) as item_count,
               list_transform(entries, lambda entry: entry.position) = range(1, len(entries) + 1) as positions_ok,
               {lists}
        from (select {key}, {also}list_sort(list({{{entries}}})) as entries from {rows} group by {key})"""


def surface_query(surface: str) -> str:
    """One surface's rendered items per listener: item starts and track ids, one per line.

    Items are one concat() (one allocation per row; a chain of || copies the row at each step);
    position, score and the surface are never null here (CHECKS, positions_ok)."""
    return f"""
    with rendered as (
        select user_id, surface_position, track_id,
               concat(if(surface_position > 1, ',', ''), '{{"position":', surface_position,
                      ',"score":', cast(round(score, 6) as varchar),
                      ',"is_new_artist":', coalesce(cast(is_new_artist as varchar), 'null'),
                      ',"reasons":', {_REASONS}, ',"seed":{{"type":', {_json_text('seed_type')},
                      ',"id":', {_json_text('seed_id')}, '}},') as item
        from serving_recommendations
        where surface = '{surface}'
    ), listed as ({_sorted_lists('rendered', 'user_id', 'surface_position', {'track_id': 'track_id', 'item': 'item'})}
    )
    select user_id, '{surface}' as surface, item_count, positions_ok, array_to_string(track_id, chr(10)) as track_ids,
           encode(array_to_string(item, chr(10))) as items
    from listed
    order by user_id
"""


PLAYLISTS = f"""
    with listed as ({_sorted_lists('serving_playlist_tracks', 'playlist_id', 'playlist_position', {'track_id': 'track_id'},
                                   also='min(owner_user_id) as owner_user_id, min(playlist_name) as playlist_name')}
    ), rendered as (
        select playlist_id, pool_rank, track_id,
               concat('"recommended":true,"score":', cast(round(score, 6) as varchar), ',"reasons":', {_REASONS},
                      ',"seed_track_id":', {_json_text('seed_track_id')}, ',') as item
        from serving_smart_shuffle_pools
    ), pools as ({_sorted_lists('rendered', 'playlist_id', 'pool_rank', {'track_id': 'track_id', 'item': 'item'})}
    )
    select listed.playlist_id, listed.owner_user_id, listed.playlist_name, array_to_string(listed.track_id, chr(10)) as track_ids,
           coalesce(array_to_string(pools.track_id, chr(10)), '') as pool_track_ids,
           coalesce(encode(array_to_string(pools.item, chr(10))), ''::blob) as pool_items,
           listed.item_count as track_count, coalesce(pools.item_count, 0) as pool_count,
           listed.positions_ok and coalesce(pools.positions_ok, true) as positions_ok
    from listed left join pools on pools.playlist_id = listed.playlist_id
    order by listed.playlist_id
"""


def unpack_hashes(data: bytes) -> array:
    """playlists.pool_hashes: h1, h2 of each pool track as big-endian int64 (the MD5 bytes)."""
    packed = array("q")
    packed.frombytes(data)
    if sys.byteorder == "little":
        packed.byteswap()
    return packed


def split_lines(text: str) -> list[str]:
    return text.split("\n") if text else []


def bloom_bits(bit_count: int, word_indexes: list[int] | None, words: list[int] | None) -> bytes:
    """A filter's bits (tunesday.bloom layout) from its warehouse words; IndexError when a word lies
    outside the filter (the int64 type of the column bounds the words)."""
    packed = array("q", bytes(-(-bit_count // 64) * 8))
    for index, word in zip(word_indexes or [], words or []):
        if index < 0:
            raise IndexError(f"word_index {index}")
        packed[index] = word
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


# Request side ---------------------------------------------------------------------------------


class Tracks(Protocol):
    """The snapshot's tracks table, read through a cache (store_reader.Snapshot)."""

    def fields(self, track_ids: list[str]) -> list[bytes]: ...


def surface_document(user_id: str, surface: str, run_date: str, track_ids: str, items: bytes,
                     fields: dict[str, bytes]) -> tuple[bytes, bytes]:
    """(body, item_ends) of a whole surface, from its parts (surface_query) and the tracks' fields.
    Joined in Python: on DuckDB the whole documents took longer than the parts and this together."""
    starts = items.split(b"\n") if items else []
    head = b'{"user_id":"%s","surface":"%s","run_date":"%s","items":[' % (
        user_id.encode(), surface.encode(), run_date.encode())
    pieces = [head] * (2 * len(starts) + 1)
    pieces[1::2] = starts
    pieces[2::2] = map(fields.__getitem__, split_lines(track_ids))
    ends = array("I", accumulate(map(len, pieces)))[::2]  # after the head, then after each item
    if sys.byteorder == "big":
        ends.byteswap()
    return b"".join(pieces) + b"]}", ends.tobytes()


def surface_parts_body(user_id: str, surface: str, run_date: str, track_ids: str, items: bytes,
                       limit: int | None, tracks: Tracks) -> bytes:
    """A surface stored as parts, joined."""
    ids = split_lines(track_ids)
    starts = items.split(b"\n") if items else []
    if limit is not None:
        ids, starts = ids[:limit], starts[:limit]
    head = b'{"user_id":"%s","surface":"%s","run_date":"%s","items":[' % (
        user_id.encode(), surface.encode(), run_date.encode())
    return _items(head, starts, tracks.fields(ids))


def surface_body(body: bytes, item_ends: bytes, limit: int | None) -> bytes:
    """The stored response, or its first `limit` items."""
    ends = array("I")
    ends.frombytes(item_ends)
    if sys.byteorder == "big":
        ends.byteswap()
    if limit is None or limit >= len(ends) - 1:
        return body
    return body[:ends[limit]] + b"]}"


def _items(head: bytes, starts: list[bytes], fields: list[bytes]) -> bytes:
    """head, start₁, fields₁, start₂, fields₂, …, ']}' in one join."""
    pieces = [b"]}"] * (2 * len(starts) + 2)
    pieces[0] = head
    pieces[1:-1:2] = starts
    pieces[2:-1:2] = fields
    return b"".join(pieces)


def smart_shuffle_body(user_id: str, playlist_id: str, seed: str, run_date: str, playlist: tuple,
                       heard: BloomFilter | None, every: int, tracks: Tracks) -> bytes:
    """The playlist shuffled (deterministic for seed and playlist), one recommendation after every
    `every` tracks, the pool's tracks the listener has probably heard left out."""
    track_ids, pool_track_ids, pool_items, packed_hashes = playlist
    order = split_lines(track_ids)
    random.Random(f"{seed}|{playlist_id}").shuffle(order)
    pool = split_lines(pool_track_ids)
    wanted = min(len(order) // every, len(pool))
    if heard is None:
        fresh = list(range(wanted))
    else:
        hashes = unpack_hashes(packed_hashes)
        fresh = heard.first_absent(zip(hashes[0::2], hashes[1::2]), wanted)
    middles = pool_items.split(b"\n") if fresh else []
    _plain_start(len(order) + len(fresh))  # makes the starts up to the last position
    woven: list[str] = []
    starts: list[bytes] = []
    for group_number, first in enumerate(range(0, len(order), every)):
        group = order[first:first + every]
        starts += _PLAIN_STARTS[len(woven) + 1:len(woven) + 1 + len(group)]
        woven += group
        if len(group) == every and group_number < len(fresh):
            recommendation = fresh[group_number]
            woven.append(pool[recommendation])
            starts.append(b',{"position":%d,%s' % (len(woven), middles[recommendation]))
    head = b'{"user_id":"%s","playlist_id":"%s","seed":"%s","run_date":"%s","items":[' % (
        user_id.encode(), playlist_id.encode(), seed.encode(), run_date.encode())
    return _items(head, starts, tracks.fields(woven))


_PLAIN_STARTS: list[bytes] = [b"", b'{"position":1,"recommended":false,']


def _plain_start(position: int) -> bytes:
    """',{"position":N,"recommended":false,' (no comma for the first), made once per N."""
    while len(_PLAIN_STARTS) <= position:
        _PLAIN_STARTS.append(b',{"position":%d,"recommended":false,' % len(_PLAIN_STARTS))
    return _PLAIN_STARTS[position]
