{#- Accepted rows whose raw value of a field was missing or unexpected, and what staging did. -#}
{%- set play_fields = ['context_type', 'start_reason', 'end_reason', 'shuffle', 'skip_flag', 'platform', 'country'] -%}

with

plays as (
    select * from {{ ref('base_raw__listening_events') }}
    where row_status = 'accepted'
),

tracks as (
    select * from {{ ref('base_raw__tracks') }}
    where row_status = 'accepted'
),

accepted as (
    select
        'listening_events' as source_table,
        count(*) as accepted_rows
    from plays
    union all
    select
        'tracks' as source_table,
        count(*) as accepted_rows
    from tracks
),

defaulted as (
    {% for field in play_fields %}
        select
            'listening_events' as source_table,
            '{{ field }}' as field,
            {{ field }}_rule as default_rule
        from plays
        where {{ field }}_rule <> 'as_reported'
        union all
    {% endfor %}
    select
        'tracks' as source_table,
        'audio_attributes' as field,
        attribute_rule as default_rule
    from tracks
    where attribute_rule <> 'as_reported'
),

counted as (
    select
        source_table,
        field,
        default_rule,
        count(*) as defaulted_rows
    from defaulted
    group by source_table, field, default_rule
),

final as (
    select
        counted.source_table,
        counted.field,
        counted.default_rule,
        counted.defaulted_rows,
        cast(counted.defaulted_rows as {{ type_double() }}) / accepted.accepted_rows as defaulted_share
    from counted
    inner join accepted on counted.source_table = accepted.source_table
)

select * from final
