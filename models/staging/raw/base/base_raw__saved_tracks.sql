with

source as (
    select * from {{ source('raw', 'saved_tracks') }}
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
            when source.user_id is null then 'missing_user_id'
            when source.track_id is null then 'missing_track_id'
            when known_users.user_id is null then 'unknown_user_id'
            when known_tracks.track_id is null then 'unknown_track_id'
        end as rejection_reason
    from source
    left join known_users on source.user_id = known_users.user_id
    left join known_tracks on source.track_id = known_tracks.track_id
),

final as (
    select
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(track_id as {{ dbt.type_string() }}) as track_id,
        cast(saved_at as {{ dbt.type_timestamp() }}) as saved_at,
        rejection_reason,
        -- The first save counts; a later one is the same fact replayed.
        {{ row_status(['user_id', 'track_id'], 'saved_at') }} as row_status
    from checked
)

select * from final
