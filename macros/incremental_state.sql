{#-
    The incremental state update, shared by the state models (models/core/state/): a daily run
    reads only the run's new rows and the state rows they touch, skips days already folded in
    (so a rerun changes nothing), and adds the new rows' fold to the previous state. A model says:

        with new_days as (...),
        {{ incremental_state_previous('new_days', ['user_id', 'track_id']) }}
        unfolded as (select ... from new_days {{ incremental_state_unfolded('new_days', keys, 'listened_date', 'last_evidence_date') }}),
        folded as (select ... from unfolded group by ...),
        final as (
            select ..., {{ incremental_state_sum('stream_count') }}, ...
            from folded {{ incremental_state_join('folded', keys) }}
        )

    In a full build every macro renders nothing but the plain fold.
-#}

{% macro incremental_state_previous(new_rows, keys) %}
    {%- if is_incremental() %}
    touched as (
        select distinct
            {{ keys | join(',\n            ') }}
        from {{ new_rows }}
    ),

    previous as (
        select state.*
        from {{ this }} as state
        inner join touched
            on {% for key in keys %}state.{{ key }} = touched.{{ key }}{% if not loop.last %} and {% endif %}{% endfor %}
    ),
    {%- endif %}
{% endmacro %}

{% macro incremental_state_join(alias, keys) %}
    {%- if is_incremental() %}
    left join previous
        on {% for key in keys %}{{ alias }}.{{ key }} = previous.{{ key }}{% if not loop.last %} and {% endif %}{% endfor %}
    {%- endif %}
{% endmacro %}

{% macro incremental_state_unfolded(alias, keys, date_column, last_date_column) %}
    {%- if is_incremental() %}
    {{ incremental_state_join(alias, keys) }}
    -- A rerun of a day already folded into the state adds nothing.
    where previous.{{ last_date_column }} is null or {{ alias }}.{{ date_column }} > previous.{{ last_date_column }}
    {%- endif %}
{% endmacro %}

{% macro incremental_state_sum(column) %}
    {%- if is_incremental() -%}
        cast(coalesce(previous.{{ column }}, 0) + folded.{{ column }} as {{ dbt.type_bigint() }}) as {{ column }}
    {%- else -%}
        cast(folded.{{ column }} as {{ dbt.type_bigint() }}) as {{ column }}
    {%- endif -%}
{% endmacro %}

{% macro incremental_state_first(column, folded_column=none) %}
    {#- The earliest value: the previous state's, else the new fold's. -#}
    {%- set new = 'folded.' ~ (folded_column or column) -%}
    {%- if is_incremental() -%}
        coalesce(previous.{{ column }}, {{ new }}) as {{ column }}
    {%- else -%}
        {{ new }} as {{ column }}
    {%- endif -%}
{% endmacro %}
