with

checked as (
    select * from {{ ref('base_raw__artists') }}
),

final as (
    select
        rejection_reason,
        artist_id,
        artist_name,
        genre,
        country_code
    from checked
    where row_status = 'rejected'
)

select * from final
