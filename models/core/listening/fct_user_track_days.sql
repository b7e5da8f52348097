{{ config(
    materialized='incremental',
    **incremental_by_date_config('listened_date', ['user_id', 'track_id', 'listened_date'])
) }}

with

plays as (
    select * from {{ ref('int_plays_sessionized') }}
    where {{ incremental_date_filter('listened_date', 'listened_date') }}
),

aggregated as (
    select
        user_id,
        track_id,
        artist_id,
        listened_date,
        cast(count(*) as {{ dbt.type_bigint() }}) as play_count,
        cast(sum(case when is_stream then 1 else 0 end) as {{ dbt.type_bigint() }}) as stream_count,
        cast(sum(case when is_skip then 1 else 0 end) as {{ dbt.type_bigint() }}) as skip_count,
        cast(sum(case when is_completed then 1 else 0 end) as {{ dbt.type_bigint() }}) as completion_count,
        cast(sum(ms_played) as {{ dbt.type_bigint() }}) as ms_played,
        min(played_at) as first_played_at,
        max(played_at) as last_played_at
    from plays
    group by user_id, track_id, artist_id, listened_date
)

select * from aggregated
{{ in_date_order('listened_date') }}
