with

checked as (
    select * from {{ ref('base_raw__saved_tracks') }}
),

final as (
    select
        user_id,
        track_id,
        saved_at
    from checked
    where row_status = 'accepted'
)

select * from final
