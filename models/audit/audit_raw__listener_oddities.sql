{#-
    Per listener: how much of their raw listening was set aside, counted twice, or defaulted, and
    why. The settled days' counts (int_audit_listener_settled) plus the plays of the days after the
    last one it folded, read afresh (constants: BigQuery reads those partitions only), so the
    counts are those of every day without reading every day.
-#}
{%- set settled = ref('int_audit_listener_settled') %}
{%- set last_settled = last_loaded_day('last_partition_date', none, settled)
    if execute and not in_unit_test() else none %}

with

open_days as (
    select * from {{ ref('base_raw__listening_events') }}
    {%- if last_settled %}
        where partition_date > cast('{{ last_settled }}' as date)
    {%- elif in_unit_test() %}
        -- A unit test's settled rows are a fixture that only the SQL can read.
        where partition_date > coalesce(
            (select max(settled.last_partition_date) from {{ settled }} as settled), cast('0001-01-01' as date)
        )
    {%- endif %}
),

parts as (
    select * from {{ settled }}
    {%- if not last_settled and not in_unit_test() %}
        -- Nothing settled yet: every day is open.
        where false
    {%- endif %}
    union all
    {{ listener_oddity_parts('open_days') }}
),

per_listener as (
    select
        user_key,
        max(user_id) as user_id,
        cast(sum(plays) as {{ dbt.type_bigint() }}) as raw_plays,
        {%- for status in ['accepted', 'rejected', 'duplicate'] %}
            cast(sum(case when row_status = '{{ status }}' then plays else 0 end) as {{ dbt.type_bigint() }})
                as {{ status }}_plays,
        {%- endfor %}
        cast(sum(defaulted_plays) as {{ dbt.type_bigint() }}) as defaulted_plays,
        {%- for field, rule in listener_oddity_rules() %}
            cast(sum({{ listener_oddity_column(field, rule) }}) as {{ dbt.type_bigint() }})
                as {{ listener_oddity_column(field, rule) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from parts
    group by user_key
),

rejection_reasons as (
    select
        user_key,
        rejection_reason,
        row_number() over (
            partition by user_key order by sum(plays) desc, rejection_reason asc
        ) as reason_rank
    from parts
    where row_status = 'rejected'
    group by user_key, rejection_reason
),

final as (
    select
        per_listener.user_id,
        per_listener.raw_plays,
        per_listener.accepted_plays,
        per_listener.rejected_plays,
        per_listener.duplicate_plays,
        per_listener.defaulted_plays,
        {%- for field, rule in listener_oddity_rules() %}
            per_listener.{{ listener_oddity_column(field, rule) }},
        {%- endfor %}
        cast(per_listener.rejected_plays as {{ type_double() }}) / per_listener.raw_plays as rejected_share,
        cast(per_listener.defaulted_plays as {{ type_double() }})
        / nullif(per_listener.accepted_plays, 0) as defaulted_share,
        rejection_reasons.rejection_reason as main_rejection_reason
    from per_listener
    left join rejection_reasons
        on
            per_listener.user_key = rejection_reasons.user_key
            and rejection_reasons.reason_rank = 1
)

select * from final
