with

checked as (
    select * from {{ ref('base_raw__playlists') }}
),

final as (
    select
        playlist_id,
        owner_user_id,
        playlist_name,
        created_at,
        is_public
    from checked
    where row_status = 'accepted'
)

select * from final
