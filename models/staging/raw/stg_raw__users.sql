with

checked as (
    select * from {{ ref('base_raw__users') }}
),

final as (
    select
        user_id,
        country_code,
        signup_date,
        product_tier
    from checked
    where row_status = 'accepted'
)

select * from final
