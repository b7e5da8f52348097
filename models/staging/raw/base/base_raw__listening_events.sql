with

source as (
    select * from {{ source('raw', 'listening_events') }}
),

known_users as (
    select user_id from {{ ref('stg_raw__users') }}
),

known_tracks as (
    select track_id from {{ ref('stg_raw__tracks') }}
),

checked as (
    select
        source.*,
        case
            when source.event_id is null then 'missing_event_id'
            when source.user_id is null then 'missing_user_id'
            when source.track_id is null then 'missing_track_id'
            when source.played_at is null then 'missing_played_at'
            when source.ms_played is null then 'missing_ms_played'
            when known_users.user_id is null then 'unknown_user_id'
            when known_tracks.track_id is null then 'unknown_track_id'
            when
                source.played_at < cast('{{ var("service_launch_date") }}' as {{ dbt.type_timestamp() }})
                then 'played_at_before_launch'
            when source.played_at > {{ dbt.current_timestamp() }} then 'played_at_in_future'
            when source.ms_played < 0 then 'negative_ms_played'
            when source.ms_played > {{ var('max_ms_played') }} then 'absurd_ms_played'
        end as rejection_reason
    from source
    left join known_users on source.user_id = known_users.user_id
    left join known_tracks on source.track_id = known_tracks.track_id
),

final as (
    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(track_id as {{ dbt.type_string() }}) as track_id,
        cast(played_at as {{ dbt.type_timestamp() }}) as played_at,
        cast(ms_played as {{ dbt.type_bigint() }}) as ms_played,
        lower(trim(context_type)) as context_type,
        cast(context_id as {{ dbt.type_string() }}) as context_id,
        lower(trim(reason_start)) as start_reason,
        lower(trim(reason_end)) as end_reason,
        cast(shuffle as {{ dbt.type_boolean() }}) as is_shuffled,
        cast(skipped as {{ dbt.type_boolean() }}) as is_skipped,
        lower(trim(platform)) as platform,
        upper(trim(country)) as country_code,
        rejection_reason,
        {{ row_status(['event_id'], 'played_at asc, ms_played desc, track_id asc') }} as row_status
    from checked
)

select * from final
