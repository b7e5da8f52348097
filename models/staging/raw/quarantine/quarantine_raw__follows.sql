with

checked as (
    select * from {{ ref('base_raw__follows') }}
),

final as (
    select
        rejection_reason,
        user_id,
        artist_id,
        followed_at
    from checked
    where row_status = 'rejected'
)

select * from final
