with

checked as (
    select * from {{ ref('base_raw__playlist_tracks') }}
),

final as (
    select
        playlist_id,
        playlist_position,
        track_id,
        added_at
    from checked
    where row_status = 'accepted'
)

select * from final
