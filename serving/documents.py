"""The snapshot's document format: rendered once at export, assembled per request without JSON work.

A request must cost little more than a key lookup, so the export renders every piece of JSON a
response needs, and a request only looks the pieces up and joins bytes:

    tracks.fields        the end of an item: '"track_id":"t1","track_name":…,"camelot_code":"8B"}' (the
                         columns of serving_tracks)
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

The queries that render the pieces are DuckDB SQL in serving/sql/ (`sql`). Discover Weekly, the
hottest route and fixed all week, is joined whole at export (`surface_document`). Other items are
their start and their track's fields, concatenated per request: whole For You lists would double
the snapshot, and with it the export time. Scores are rounded to 6 decimals: enough to order and
compare them. The manifest carries the warehouse's serving settings (serving_settings: the Smart
Shuffle interval). Identifiers in the envelope (user, playlist, seed) passed the API's id
pattern, which has no character JSON would escape. The rendering runs on DuckDB whatever the
warehouse (see warehouse.Warehouse.relations), so DuckDB and BigQuery give the same bytes for the
same rows.
"""

from __future__ import annotations

import functools
import json
import random
import sys
from array import array
from importlib import resources
from itertools import accumulate
from typing import Protocol

from tunesday.bloom import BloomFilter

#: 3: the manifest carries the warehouse's serving settings (serving_settings).
#: 4: surfaces and surface_parts carry the experiment and variant that ordered them.
SCHEMA_VERSION = 4

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
    experiment_id text,         -- the experiment whose variant ordered the surface; both null: none
    variant text,
    primary key (user_id, surface)
);
-- The other surfaces as parts, joined per request (half the bytes).
create table surface_parts (
    user_id text not null,
    surface text not null,
    track_ids text not null,
    items blob not null,
    experiment_id text,
    variant text,
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


@functools.cache
def sql(name: str) -> str:
    """The export's DuckDB query `name`: serving/sql/<name>.sql ($name: a prepared parameter)."""
    return (resources.files("serving") / "sql" / f"{name}.sql").read_text()


#: Surfaces stored as whole responses (table surfaces); the others as parts (surface_parts).
WHOLE_SURFACES = ("discover_weekly",)
PART_SURFACES = ("for_you",)


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


def surface_head(user_id: str, surface: str, run_date: str, experiment_id: str | None, variant: str | None) -> bytes:
    """A surface's envelope up to its first item: the listener, the surface, the run date and the
    experiment whose variant ordered it ({"id", "variant"}, null when none did)."""
    experiment = (
        b"null"
        if experiment_id is None
        else json.dumps({"id": experiment_id, "variant": variant}, separators=(",", ":")).encode()
    )
    return b'{"user_id":"%s","surface":"%s","run_date":"%s","experiment":%s,"items":[' % (
        user_id.encode(),
        surface.encode(),
        run_date.encode(),
        experiment,
    )


def surface_document(head: bytes, track_ids: str, items: bytes, fields: dict[str, bytes]) -> tuple[bytes, bytes]:
    """(body, item_ends) of a whole surface, from its head (surface_head), its parts (surface.sql)
    and the tracks' fields. Joined in Python: on DuckDB the whole documents took longer than the
    parts and this together."""
    starts = items.split(b"\n") if items else []
    pieces = [head] * (2 * len(starts) + 1)
    pieces[1::2] = starts
    pieces[2::2] = map(fields.__getitem__, split_lines(track_ids))
    ends = array("I", accumulate(map(len, pieces)))[::2]  # after the head, then after each item
    if sys.byteorder == "big":
        ends.byteswap()
    return b"".join(pieces) + b"]}", ends.tobytes()


def surface_parts_body(head: bytes, track_ids: str, items: bytes, limit: int | None, tracks: Tracks) -> bytes:
    """A surface stored as parts, joined after its head (surface_head)."""
    ids = split_lines(track_ids)
    starts = items.split(b"\n") if items else []
    if limit is not None:
        ids, starts = ids[:limit], starts[:limit]
    return _items(head, starts, tracks.fields(ids))


def surface_body(body: bytes, item_ends: bytes, limit: int | None) -> bytes:
    """The stored response, or its first `limit` items."""
    ends = array("I")
    ends.frombytes(item_ends)
    if sys.byteorder == "big":
        ends.byteswap()
    if limit is None or limit >= len(ends) - 1:
        return body
    return body[: ends[limit]] + b"]}"


def _items(head: bytes, starts: list[bytes], fields: list[bytes]) -> bytes:
    """head, start₁, fields₁, start₂, fields₂, …, ']}' in one join."""
    pieces = [b"]}"] * (2 * len(starts) + 2)
    pieces[0] = head
    pieces[1:-1:2] = starts
    pieces[2:-1:2] = fields
    return b"".join(pieces)


def smart_shuffle_body(
    user_id: str,
    playlist_id: str,
    seed: str,
    run_date: str,
    playlist: tuple,
    heard: BloomFilter | None,
    every: int,
    tracks: Tracks,
) -> bytes:
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
        group = order[first : first + every]
        starts += _PLAIN_STARTS[len(woven) + 1 : len(woven) + 1 + len(group)]
        woven += group
        if len(group) == every and group_number < len(fresh):
            recommendation = fresh[group_number]
            woven.append(pool[recommendation])
            starts.append(b',{"position":%d,%s' % (len(woven), middles[recommendation]))
    head = b'{"user_id":"%s","playlist_id":"%s","seed":"%s","run_date":"%s","items":[' % (
        user_id.encode(),
        playlist_id.encode(),
        seed.encode(),
        run_date.encode(),
    )
    return _items(head, starts, tracks.fields(woven))


_PLAIN_STARTS: list[bytes] = [b"", b'{"position":1,"recommended":false,']


def _plain_start(position: int) -> bytes:
    """',{"position":N,"recommended":false,' (no comma for the first), made once per N."""
    while len(_PLAIN_STARTS) <= position:
        _PLAIN_STARTS.append(b',{"position":%d,"recommended":false,' % len(_PLAIN_STARTS))
    return _PLAIN_STARTS[position]
