with

checked as (
    select * from {{ ref('base_raw__playlists') }}
),

final as (
    select
        rejection_reason,
        playlist_id,
        owner_user_id,
        playlist_name,
        created_at,
        is_public
    from checked
    where row_status = 'rejected'
)

select * from final
