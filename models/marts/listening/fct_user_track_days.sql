{{ config(
    materialized='incremental',
    **incremental_by_date_config('listened_date', ['user_id', 'track_id', 'listened_date'])
) }}

with

plays as (
    select * from {{ ref('stg_raw__listening_events') }}
    where {{ incremental_date_filter('cast(played_at as date)', 'listened_date') }}
),

tracks as (
    select
        track_id,
        artist_id
    from {{ ref('stg_raw__tracks') }}
),

classified as (
    select
        user_id,
        track_id,
        played_at,
        ms_played,
        cast(played_at as date) as listened_date,
        ms_played >= {{ var('stream_min_ms') }} as is_stream,
        (
            is_skipped
            or end_reason = 'fwdbtn'
            or ms_played < {{ var('stream_min_ms') }}
        ) as is_skip
    from plays
),

aggregated as (
    select
        classified.user_id,
        classified.track_id,
        classified.listened_date,
        cast(count(*) as {{ dbt.type_bigint() }}) as play_count,
        cast(sum(case when classified.is_stream then 1 else 0 end) as {{ dbt.type_bigint() }}) as stream_count,
        cast(sum(case when classified.is_skip then 1 else 0 end) as {{ dbt.type_bigint() }}) as skip_count,
        cast(sum(classified.ms_played) as {{ dbt.type_bigint() }}) as ms_played,
        min(classified.played_at) as first_played_at,
        max(classified.played_at) as last_played_at
    from classified
    group by classified.user_id, classified.track_id, classified.listened_date
),

final as (
    select
        aggregated.user_id,
        aggregated.track_id,
        tracks.artist_id,
        aggregated.listened_date,
        aggregated.play_count,
        aggregated.stream_count,
        aggregated.skip_count,
        aggregated.ms_played,
        aggregated.first_played_at,
        aggregated.last_played_at
    from aggregated
    inner join tracks on aggregated.track_id = tracks.track_id
)

select * from final
