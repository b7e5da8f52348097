-- Every playlist of the slice from $first_key to before $last_key (null: no bound; snapshot.py):
-- its track ids in playlist order, one per line, and its Smart Shuffle pool, best
-- first: track ids, and the middle of each item, one per line
-- ('"recommended":true,"score":…,"reasons":[…],"seed_track_id":"t9",'); '' when it has none.
-- Positions are checked: 1..n, each once (positions_ok). reason_codes become a JSON list as in
-- surface.sql.

with

playlist_tracks as (
    select
        playlist_id,
        min(owner_user_id) as owner_user_id,
        min(playlist_name) as playlist_name,
        list_sort(list({ 'position': playlist_position, 'track_id': track_id })) as entries
    from serving_playlist_tracks
    where ($first_key is null or playlist_id >= $first_key) and ($last_key is null or playlist_id < $last_key)
    group by playlist_id
),

pool_items as (
    select
        playlist_id,
        pool_rank,
        track_id,
        concat(
            '"recommended":true,"score":', cast(round(score, 6) as varchar),
            ',"reasons":', if(
                coalesce(reason_codes, '') = '',
                '[]',
                '[' || replace(cast(to_json(reason_codes) as varchar), ',', '","') || ']'
            ),
            ',"seed_track_id":', coalesce(cast(to_json(seed_track_id) as varchar), 'null'),
            ','
        ) as item
    from serving_smart_shuffle_pools
    where ($first_key is null or playlist_id >= $first_key) and ($last_key is null or playlist_id < $last_key)
),

pools as (
    select
        playlist_id,
        list_sort(list({ 'position': pool_rank, 'track_id': track_id, 'item': item })) as entries
    from pool_items
    group by playlist_id
)

select
    playlist_tracks.playlist_id,
    playlist_tracks.owner_user_id,
    playlist_tracks.playlist_name,
    array_to_string(list_transform(playlist_tracks.entries, lambda entry: entry.track_id), chr(10)) as track_ids,
    coalesce(
        array_to_string(list_transform(pools.entries, lambda entry: entry.track_id), chr(10)), ''
    ) as pool_track_ids,
    coalesce(
        encode(array_to_string(list_transform(pools.entries, lambda entry: entry.item), chr(10))), cast('' as blob)
    ) as pool_items,
    len(playlist_tracks.entries) as track_count,
    coalesce(len(pools.entries), 0) as pool_count,
    (
        list_transform(playlist_tracks.entries, lambda entry: entry.position)
        = range(1, len(playlist_tracks.entries) + 1)
        and coalesce(
            list_transform(pools.entries, lambda entry: entry.position) = range(1, len(pools.entries) + 1), true
        )
    ) as positions_ok
from playlist_tracks
left join pools on playlist_tracks.playlist_id = pools.playlist_id
order by playlist_tracks.playlist_id
