with

source as (
    select * from {{ source('raw', 'artists') }}
),

checked as (
    select
        source.*,
        case
            when source.artist_id is null then 'missing_artist_id'
        end as rejection_reason
    from source
),

final as (
    select
        cast(artist_id as {{ dbt.type_string() }}) as artist_id,
        cast(artist_name as {{ dbt.type_string() }}) as artist_name,
        lower(trim(genre)) as genre,
        upper(trim(country)) as country_code,
        rejection_reason,
        {{ row_status(['artist_id'], 'artist_name, genre') }} as row_status
    from checked
)

select * from final
