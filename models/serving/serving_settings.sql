{#-
    The settings the serving shim applies to the day's data, one row: they travel with the data
    into the snapshot, so the shim never keeps a copy that could drift from the warehouse's.
-#}

with

final as (
    select
        cast(
            {{ var('smart_shuffle_tracks_per_recommendation') }} as {{ dbt.type_bigint() }}
        ) as smart_shuffle_tracks_per_recommendation,
        cast('{{ run_date() }}' as date) as run_date
)

select * from final
