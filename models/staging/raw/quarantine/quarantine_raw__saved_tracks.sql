with

checked as (
    select * from {{ ref('base_raw__saved_tracks') }}
),

final as (
    select
        rejection_reason,
        user_id,
        track_id,
        saved_at
    from checked
    where row_status = 'rejected'
)

select * from final
