{#-
    Every raw row ends up exactly once: accepted, rejected (quarantined), a duplicate, or (plays
    only) too late, waiting for a --full-refresh (audit_raw__late_events). The plays are counted
    without reading every day: the raw table whole by a count(*) (BigQuery answers it from
    metadata, free) less the plays of days after run_date (their partitions), and the staged
    plays from their counts per day (int_audit_event_days).
-#}
{%- set raw_tables = raw_tables() -%}

with

{% for raw_table in raw_tables %}
    {{ raw_table }}_counts as (
        {%- if raw_table == 'listening_events' %}
            select
                'listening_events' as source_table,
                (
                    select count(*) from {{ source('raw', 'listening_events') }}
                ) - (
                    -- Events are loaded day by day: those filed after run_date are not due yet.
                    select count(*) from {{ source('raw', 'listening_events') }}
                    where
                        played_at >= cast('{{ days_after(run_date(), 1) }}' as {{ dbt.type_timestamp() }})
                        and played_at <= {{ dbt.current_timestamp() }}
                ) as raw_rows,
                {%- for status in ['accepted', 'rejected', 'duplicate'] %}
                    (
                        select coalesce(sum(filed_rows), 0) from {{ ref('int_audit_event_days') }}
                        where row_status = '{{ status }}'
                    ) as {{ status }}_rows,
                {%- endfor %}
                (select coalesce(sum(too_late_rows), 0) from {{ ref('audit_raw__late_events') }}) as too_late_rows
        {%- else %}
            select
                '{{ raw_table }}' as source_table,
                (select count(*) from {{ source('raw', raw_table) }}) as raw_rows,
                (select count(*) from {{ ref('stg_raw__' ~ raw_table) }}) as accepted_rows,
                (select count(*) from {{ ref('quarantine_raw__' ~ raw_table) }}) as rejected_rows,
                (
                    select count(*) from {{ ref('base_raw__' ~ raw_table) }}
                    where row_status = 'duplicate'
                ) as duplicate_rows,
                0 as too_late_rows
        {%- endif %}
    ),

{% endfor %}
unioned as (
    {% for raw_table in raw_tables %}
        select * from {{ raw_table }}_counts
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (
    select
        source_table,
        cast(raw_rows as {{ dbt.type_bigint() }}) as raw_rows,
        cast(accepted_rows as {{ dbt.type_bigint() }}) as accepted_rows,
        cast(rejected_rows as {{ dbt.type_bigint() }}) as rejected_rows,
        cast(duplicate_rows as {{ dbt.type_bigint() }}) as duplicate_rows,
        cast(too_late_rows as {{ dbt.type_bigint() }}) as too_late_rows,
        case
            when raw_rows > 0 then cast(rejected_rows as {{ type_double() }}) / raw_rows
            else 0
        end as rejected_share,
        cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as audited_at
    from unioned
)

select * from final
