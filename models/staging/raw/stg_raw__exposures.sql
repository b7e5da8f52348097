with

checked as (
    select * from {{ ref('base_raw__exposures') }}
),

final as (
    select
        exposure_id,
        user_id,
        experiment_id,
        variant,
        surface,
        exposed_at,
        snapshot_id
    from checked
    where row_status = 'accepted'
)

select * from final
