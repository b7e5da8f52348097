with

source as (
    select * from {{ source('raw', 'users') }}
),

checked as (
    select
        source.*,
        case
            when source.user_id is null then 'missing_user_id'
        end as rejection_reason
    from source
),

final as (
    select
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        upper(trim(country)) as country_code,
        cast(signup_date as date) as signup_date,
        lower(trim(product_tier)) as product_tier,
        rejection_reason,
        {{ row_status(['user_id'], 'signup_date, country') }} as row_status
    from checked
)

select * from final
