{{ config(
    materialized='incremental',
    **incremental_by_key_config(['partition_date', 'outcome'], cluster_by=none)
) }}

{#-
    What base_raw__listening_events holds, per day filed and outcome: the counts the audits add up
    (row counts, rejections, defaults, plays loaded on their day of play), so that they never read
    every day of it. A run recomputes the days base_raw__listening_events can have rewritten: from
    the day after the last day filed with a trusted play, or incremental_window_start() if that is
    earlier, the same first day base_raw__listening_events takes (macro incremental_first_day,
    with its condition), looked up here as a constant (BigQuery reads those partitions only). An
    outcome that a recomputed day no longer has (a rejected play accepted now that its track is
    known) gets a row of zeros, so that its old count is replaced on every engine.
-#}

{%- set first_day = incremental_first_day('partition_date', "row_status <> 'rejected' and filed_rows > 0")
    if is_incremental() else none %}

with

plays as (
    select
        partition_date,
        played_at,
        row_status,
        rejection_reason,
        {%- for field in play_default_rules() | map(attribute=0) | unique %}
            {{ field }}_rule{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ ref('base_raw__listening_events') }}
    {%- if first_day %}
        where partition_date >= cast('{{ first_day }}' as date)
    {%- endif %}
),

counted as (
    select
        partition_date,
        {{ play_outcome() }} as outcome,
        row_status,
        rejection_reason,
        cast(count(*) as {{ dbt.type_bigint() }}) as filed_rows,
        cast(
            sum(case when cast(played_at as date) = partition_date then 1 else 0 end) as {{ dbt.type_bigint() }}
        ) as on_day_of_play_rows,
        {%- for field, rule in play_default_rules() %}
            cast(
                sum(case when row_status = 'accepted' and {{ field }}_rule = '{{ rule }}' then 1 else 0 end)
                as {{ dbt.type_bigint() }}
            ) as {{ field }}_{{ rule }}_rows{% if not loop.last %},{% endif %}
        {%- endfor %}
    from plays
    group by partition_date, row_status, rejection_reason
),

{% if is_incremental() %}
    gone as (
        -- Outcomes this table holds for the recomputed days that no row has any more.
        select
            held.partition_date,
            held.outcome,
            held.row_status,
            held.rejection_reason,
            cast(0 as {{ dbt.type_bigint() }}) as filed_rows,
            cast(0 as {{ dbt.type_bigint() }}) as on_day_of_play_rows,
            {%- for field, rule in play_default_rules() %}
                cast(0 as {{ dbt.type_bigint() }}) as {{ field }}_{{ rule }}_rows{% if not loop.last %},{% endif %}
            {%- endfor %}
        from {{ this }} as held
        left join counted
            on
                held.partition_date = counted.partition_date
                and held.outcome = counted.outcome
        where
            counted.outcome is null
            {%- if first_day %}
                and held.partition_date >= cast('{{ first_day }}' as date)
            {%- endif %}
    ),
{% endif %}

final as (
    select * from counted
    {%- if is_incremental() %}
        union all
        select * from gone
    {%- endif %}
)

select * from final
