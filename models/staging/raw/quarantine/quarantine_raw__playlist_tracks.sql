with

checked as (
    select * from {{ ref('base_raw__playlist_tracks') }}
),

final as (
    select
        rejection_reason,
        playlist_id,
        playlist_position,
        track_id,
        added_at
    from checked
    where row_status = 'rejected'
)

select * from final
