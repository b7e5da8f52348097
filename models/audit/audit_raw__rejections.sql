{#-
    Rejected rows per raw table and reason. The plays' come from their counts per day
    (int_audit_event_days), so that no run reads every day of them.
-#}
{%- set raw_tables = raw_tables() -%}

with

counted as (
    {% for raw_table in raw_tables if raw_table != 'listening_events' %}
        select
            '{{ raw_table }}' as source_table,
            rejection_reason,
            count(*) as rejected_rows
        from {{ ref('quarantine_raw__' ~ raw_table) }}
        group by rejection_reason
        union all
    {% endfor %}
    select
        'listening_events' as source_table,
        rejection_reason,
        sum(filed_rows) as rejected_rows
    from {{ ref('int_audit_event_days') }}
    where row_status = 'rejected'
    group by rejection_reason
),

final as (
    select
        source_table,
        rejection_reason,
        cast(rejected_rows as {{ dbt.type_bigint() }}) as rejected_rows
    from counted
    where rejected_rows > 0
)

select * from final
