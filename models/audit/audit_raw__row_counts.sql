{#-
    Every raw row ends up exactly once: accepted, rejected (quarantined), a duplicate, or (plays
    only) too late, waiting for a --full-refresh (audit_raw__late_events).
-#}
{%- set raw_tables = raw_tables() -%}

with

{% for raw_table in raw_tables %}
    {{ raw_table }}_counts as (
        select
            '{{ raw_table }}' as source_table,
            (
                select count(*) from {{ source('raw', raw_table) }}
                {%- if raw_table == 'listening_events' %}
                    -- Events are loaded day by day: those filed after run_date are not due yet.
                    where {{ event_filing_date('played_at') }} <= cast('{{ run_date() }}' as date)
                {%- endif %}
            ) as raw_rows,
            (select count(*) from {{ ref('stg_raw__' ~ raw_table) }}) as accepted_rows,
            (select count(*) from {{ ref('quarantine_raw__' ~ raw_table) }}) as rejected_rows,
            (
                select count(*) from {{ ref('base_raw__' ~ raw_table) }}
                where row_status = 'duplicate'
            ) as duplicate_rows,
            {% if raw_table == 'listening_events' -%}
                (select coalesce(sum(too_late_rows), 0) from {{ ref('audit_raw__late_events') }})
            {%- else -%}
                0
            {%- endif %} as too_late_rows
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
        raw_rows,
        accepted_rows,
        rejected_rows,
        duplicate_rows,
        cast(too_late_rows as {{ dbt.type_bigint() }}) as too_late_rows,
        case
            when raw_rows > 0 then cast(rejected_rows as {{ type_double() }}) / raw_rows
            else 0
        end as rejected_share,
        cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as audited_at
    from unioned
)

select * from final
