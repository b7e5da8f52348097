{{ config(
    materialized='incremental',
    **incremental_by_key_config(['listened_date'], cluster_by=none)
) }}

{#-
    The raw plays per UTC day of play up to run_date (played_at not in the future), with when the
    day's latest ones were loaded: what audit_raw__late_events compares with what
    base_raw__listening_events filed under the day. A run counts the days from the day after the
    last one counted or incremental_window_start(), whichever is earlier (the partitions of the
    run's days), and the earlier days only when their plays no longer add up to what was counted:
    plays that came too late for the models, found by one count that BigQuery answers from
    metadata (macro raw_event_days_to_recount). A day recounted that has no play any more (a raw
    table replaced) gets a row of zeros.
-#}

{%- set first_day = incremental_first_day('listened_date') if is_incremental() else none %}
{%- set recount = day_ranges(raw_event_days_to_recount(first_day)) if first_day else [] %}

with

raw_plays as (
    select
        played_at,
        loaded_at
    from {{ source('raw', 'listening_events') }}
    {%- if first_day %}
        -- The run's days, and the earlier days to count again (partitions: constants).
        where
            (
                played_at >= cast('{{ first_day }}' as {{ dbt.type_timestamp() }})
                {%- for first, last in recount %}
                    or (
                        played_at >= cast('{{ first }}' as {{ dbt.type_timestamp() }})
                        and played_at < cast('{{ days_after(last, 1) }}' as {{ dbt.type_timestamp() }})
                    )
                {%- endfor %}
            )
            and played_at <= {{ dbt.current_timestamp() }}
            and played_at < cast('{{ days_after(run_date(), 1) }}' as {{ dbt.type_timestamp() }})
    {%- else %}
        where
            played_at <= {{ dbt.current_timestamp() }}
            and played_at < cast('{{ days_after(run_date(), 1) }}' as {{ dbt.type_timestamp() }})
    {%- endif %}
),

counted as (
    select
        cast(played_at as date) as listened_date,
        cast(count(*) as {{ dbt.type_bigint() }}) as raw_rows,
        max(loaded_at) as last_loaded_at
    from raw_plays
    group by cast(played_at as date)
),

{% if first_day %}
    emptied as (
        -- Days this table holds among the recounted ones that no raw play has any more.
        select
            held.listened_date,
            cast(0 as {{ dbt.type_bigint() }}) as raw_rows,
            cast(null as {{ dbt.type_timestamp() }}) as last_loaded_at
        from {{ this }} as held
        left join counted on held.listened_date = counted.listened_date
        where
            counted.listened_date is null
            and held.raw_rows > 0
            and (
                held.listened_date >= cast('{{ first_day }}' as date)
                {%- for first, last in recount %}
                    or (
                        held.listened_date >= cast('{{ first }}' as date)
                        and held.listened_date <= cast('{{ last }}' as date)
                    )
                {%- endfor %}
            )
    ),
{% endif %}

final as (
    select * from counted
    {%- if first_day %}
        union all
        select * from emptied
    {%- endif %}
)

select * from final
