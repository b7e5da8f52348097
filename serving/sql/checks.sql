-- What must hold of the serving tables before anything is rendered: per check, the rows that
-- violate it (the export stops at the first check with any). Positions (1..n, each once) are
-- checked on the rendered rows: positions_ok in surface.sql and playlists.sql.

with

known_listeners as (
    select user_id
    from serving_users
    where user_id is not null
),

known_playlists as (
    select playlist_id
    from serving_playlist_tracks
    where playlist_id is not null
),

known_tracks as (
    select track_id
    from serving_tracks
    where track_id is not null
),

listed_tracks as (
    select track_id
    from serving_recommendations
    union all
    select track_id
    from serving_playlist_tracks
    union all
    select track_id
    from serving_smart_shuffle_pools
),

scores as (
    select score
    from serving_recommendations
    union all
    select score
    from serving_smart_shuffle_pools
)

select
    1 as check_number,
    'a listener without user_id' as violation,
    count(*) as violating_rows
from serving_users
where user_id is null

union all

select
    2 as check_number,
    'a recommendation of an unknown listener' as violation,
    count(*) as violating_rows
from serving_recommendations
where user_id not in (select known_listeners.user_id from known_listeners)

union all

select
    3 as check_number,
    'a recommendation of an unknown surface' as violation,
    count(*) as violating_rows
from serving_recommendations
where surface not in ('discover_weekly', 'for_you')

union all

select
    4 as check_number,
    'a Smart Shuffle pool of an unknown playlist' as violation,
    count(*) as violating_rows
from serving_smart_shuffle_pools
where playlist_id not in (select known_playlists.playlist_id from known_playlists)

union all

select
    5 as check_number,
    'a listed track without track_id' as violation,
    count(*) as violating_rows
from listed_tracks
where track_id is null

union all

select
    6 as check_number,
    'a listed track without display fields (not in serving_tracks)' as violation,
    count(*) as violating_rows
from listed_tracks
where track_id not in (select known_tracks.track_id from known_tracks)

union all

select
    7 as check_number,
    'a score that is null or not finite' as violation,
    count(*) as violating_rows
from scores
where score is null or not isfinite(score)

union all

select
    8 as check_number,
    'a Bloom filter of an unknown listener' as violation,
    count(*) as violating_rows
from serving_bloom_filters
where user_id not in (select known_listeners.user_id from known_listeners)

union all

select
    9 as check_number,
    'a Bloom filter without bits' as violation,
    count(*) as violating_rows
from serving_bloom_filters
where bit_count < 1 or hash_count < 1

union all

select
    10 as check_number,
    'Bloom filter words of a listener without a filter' as violation,
    count(*) as violating_rows
from serving_bloom_filter_words
where user_id not in (select serving_bloom_filters.user_id from serving_bloom_filters)

union all

select
    11 as check_number,
    'a Smart Shuffle interval below one track' as violation,
    count(*) as violating_rows
from serving_settings
where smart_shuffle_tracks_per_recommendation is null or smart_shuffle_tracks_per_recommendation < 1

union all

select
    12 as check_number,
    'an experiment without a variant, or a variant without an experiment' as violation,
    count(*) as violating_rows
from serving_recommendations
where (experiment_id is null) != (variant is null)

union all

select
    13 as check_number,
    'a listener''s surface with rows of more than one experiment or variant' as violation,
    count(*) as violating_rows
from (
    select
        user_id,
        surface
    from serving_recommendations
    group by user_id, surface
    having count(distinct coalesce(experiment_id, '') || '/' || coalesce(variant, '')) > 1
) as mixed

order by check_number
