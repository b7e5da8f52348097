{{ config(
    materialized='incremental',
    **incremental_by_key_config(['user_key', 'outcome'])
) }}

{#-
    audit_raw__listener_oddities' counts over the settled days: the plays of
    base_raw__listening_events per listener and outcome, filed under the days before
    audit_settled_before(), which no later run rewrites. A daily run folds in the days that
    settled since its last run (after the last day folded, constants: BigQuery reads those
    partitions only) and the rows of the keys they touch; counts add up, so the fold is the
    full-history count.
-#}

{%- set settled_before = audit_settled_before() %}

with

new_days as (
    select * from {{ ref('base_raw__listening_events') }}
    where {{ settled_days_filter('partition_date', 'last_partition_date', settled_before) }}
),

new_parts as (
    {{ listener_oddity_parts('new_days') }}
),

{{ incremental_state_previous('new_parts', ['user_key', 'outcome']) }}

parts as (
    select * from new_parts
    {%- if is_incremental() %}
        union all
        select * from previous
    {%- endif %}
),

final as (
    select
        user_key,
        outcome,
        max(user_id) as user_id,
        max(row_status) as row_status,
        max(rejection_reason) as rejection_reason,
        cast(sum(plays) as {{ dbt.type_bigint() }}) as plays,
        cast(sum(defaulted_plays) as {{ dbt.type_bigint() }}) as defaulted_plays,
        {%- for field, rule in listener_oddity_rules() %}
            cast(sum({{ listener_oddity_column(field, rule) }}) as {{ dbt.type_bigint() }})
                as {{ listener_oddity_column(field, rule) }},
        {%- endfor %}
        max(last_partition_date) as last_partition_date
    from parts
    group by user_key, outcome
)

select * from final
