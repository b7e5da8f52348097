{%- set raw_tables = raw_tables() -%}

with

unioned as (
    {% for raw_table in raw_tables %}
        select
            '{{ raw_table }}' as source_table,
            rejection_reason
        from {{ ref('quarantine_raw__' ~ raw_table) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (
    select
        source_table,
        rejection_reason,
        count(*) as rejected_rows
    from unioned
    group by source_table, rejection_reason
)

select * from final
