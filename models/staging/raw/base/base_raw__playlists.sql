with

source as (
    select * from {{ source('raw', 'playlists') }}
),

known_users as (
    select user_id from {{ ref('stg_raw__users') }}
),

checked as (
    select
        source.*,
        case
            when source.playlist_id is null then 'missing_playlist_id'
            when source.owner_user_id is null then 'missing_owner_user_id'
            when known_users.user_id is null then 'unknown_owner_user_id'
        end as rejection_reason
    from source
    left join known_users on source.owner_user_id = known_users.user_id
),

final as (
    select
        cast(playlist_id as {{ dbt.type_string() }}) as playlist_id,
        cast(owner_user_id as {{ dbt.type_string() }}) as owner_user_id,
        cast(playlist_name as {{ dbt.type_string() }}) as playlist_name,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(is_public as {{ dbt.type_boolean() }}) as is_public,
        rejection_reason,
        {{ row_status(['playlist_id'], 'created_at, playlist_name') }} as row_status
    from checked
)

select * from final
