-- Each listed track's display fields, every column of serving_tracks but run_date, rendered as
-- the end of a JSON object ('"track_id":"t1",…,"camelot_code":"8B"}'), and its two Bloom hashes:
-- hash64 is the first 8 bytes of an MD5, read big-endian, so a track's h1 and h2 are 16 bytes.
-- $second_hash_prefix: tunesday.bloom.SECOND_HASH_PREFIX.

with

display_fields as (
    select * exclude (run_date)
    from serving_tracks
),

rendered as (
    select
        track_id,
        to_json(display_fields) as track_json
    from display_fields
)

select
    track_id,
    encode(substr(track_json, 2, length(track_json) - 1)) as fields_end,
    unhex(
        substr(md5(track_id), 1, 16) || substr(md5($second_hash_prefix || track_id), 1, 16)
    ) as bloom_hashes
from rendered
order by track_id
