{#- Every listener the serving shim knows (a listener without recommendations is known, not a 404). -#}

with

final as (
    select
        user_id,
        country_code,
        product_tier,
        cast('{{ run_week_start() }}' as date) as week_start,
        cast('{{ run_date() }}' as date) as run_date
    from {{ ref('stg_raw__users') }}
)

select * from final
