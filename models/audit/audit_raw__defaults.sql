{#-
    Accepted rows whose raw value of a field was missing or unexpected, and what staging did. The
    plays' come from their counts per day (int_audit_event_days), so that no run reads every day
    of them.
-#}

with

play_days as (
    select * from {{ ref('int_audit_event_days') }}
    where row_status = 'accepted'
),

tracks as (
    select * from {{ ref('base_raw__tracks') }}
    where row_status = 'accepted'
),

accepted as (
    select
        'listening_events' as source_table,
        sum(filed_rows) as accepted_rows
    from play_days
    union all
    select
        'tracks' as source_table,
        count(*) as accepted_rows
    from tracks
),

counted as (
    {% for field, rule in play_default_rules() %}
        select
            'listening_events' as source_table,
            '{{ field }}' as field,
            '{{ rule }}' as default_rule,
            sum({{ field }}_{{ rule }}_rows) as defaulted_rows
        from play_days
        union all
    {% endfor %}
    select
        'tracks' as source_table,
        'audio_attributes' as field,
        attribute_rule as default_rule,
        count(*) as defaulted_rows
    from tracks
    where attribute_rule <> 'as_reported'
    group by attribute_rule
),

final as (
    select
        counted.source_table,
        counted.field,
        counted.default_rule,
        cast(counted.defaulted_rows as {{ dbt.type_bigint() }}) as defaulted_rows,
        cast(counted.defaulted_rows as {{ type_double() }}) / accepted.accepted_rows as defaulted_share
    from counted
    inner join accepted on counted.source_table = accepted.source_table
    where counted.defaulted_rows > 0
)

select * from final
