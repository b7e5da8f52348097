with

source as (
    select * from {{ source('raw', 'follows') }}
),

known_users as (
    select user_id from {{ ref('stg_raw__users') }}
),

known_artists as (
    select artist_id from {{ ref('stg_raw__artists') }}
),

checked as (
    select
        source.*,
        case
            when source.user_id is null then 'missing_user_id'
            when source.artist_id is null then 'missing_artist_id'
            when known_users.user_id is null then 'unknown_user_id'
            when known_artists.artist_id is null then 'unknown_artist_id'
        end as rejection_reason
    from source
    left join known_users on source.user_id = known_users.user_id
    left join known_artists on source.artist_id = known_artists.artist_id
),

final as (
    select
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(artist_id as {{ dbt.type_string() }}) as artist_id,
        cast(followed_at as {{ dbt.type_timestamp() }}) as followed_at,
        rejection_reason,
        -- The first follow counts; a later one is the same fact replayed.
        {{ row_status(['user_id', 'artist_id'], 'followed_at') }} as row_status
    from checked
)

select * from final
