{#-
    The daily run recomputes a listener's candidates, ranking and filters only when they need it
    (models/candidates/int_user_refresh.sql says who and why). A per-listener model says:

        {{ config(materialized='incremental', pre_hook="{{ delete_refreshed_listeners() }}",
                  **per_listener_config()) }}
        ... from {{ ref('x') }} where {{ refreshed_listener('user_id') }}

    and a daily run deletes the refreshed listeners' rows, then appends their new ones; the other
    listeners' rows stay as their last refresh made them. A full build computes everyone. The
    intermediate models between them (seeds, each candidate source, the pool) are plain tables that
    hold only the listeners of the run: `where {{ refreshed_listener('user_id') }}` alone.
-#}

{% macro refresh_cycle_days() %}
    {#- Every listener is recomputed at least this often (their weekly refresh). -#}
    {{ return(7) }}
{% endmacro %}

{% macro refresh_bucket(expression) %}
    {#-
        The day of the refresh cycle a listener (or playlist) is due, 0-6: from the MD5 of the id,
        identical on both engines (28 bits of it, so the cast never overflows).
    -#}
    mod(cast('0x' || substr({{ dbt.hash(expression) }}, 1, 7) as {{ dbt.type_bigint() }}), {{ refresh_cycle_days() }})
{%- endmacro %}

{% macro refresh_cycle_day() %}
    {#- run_date's day of the refresh cycle, 0-6 (days since 1970-01-01, modulo the cycle). -#}
    {%- set day = modules.datetime.date.fromisoformat(run_date()) -%}
    {{ return((day - modules.datetime.date(1970, 1, 1)).days % refresh_cycle_days()) }}
{% endmacro %}

{% macro refreshed_listener(user_column, on_a_new_week=false) %}
    {#-
        True for the listeners this run recomputes (int_user_refresh; everyone in a full build).
        on_a_new_week: also everyone on the first run of a week (what depends on the week's
        Discover Weekly, like the Bloom filters of served tracks).
    -#}
    {%- set refresh = ref('int_user_refresh') -%}
    {%- set day = "cast('" ~ run_date() ~ "' as date)" -%}
    (
        {{ user_column }} in (
            select refresh.user_id from {{ refresh }} as refresh
            where refresh.run_date = {{ day }}
        )
        {%- if on_a_new_week %}
            or not exists (
                -- no earlier run this week (the days as constants: BigQuery reads this week only)
                select earlier.run_date from {{ refresh }} as earlier
                where earlier.run_date >= cast('{{ run_week_start() }}' as date) and earlier.run_date < {{ day }}
            )
        {%- endif %}
    )
{%- endmacro %}

{% macro delete_refreshed_listeners(on_a_new_week=false) %}
    {#- Pre-hook: the rows of the listeners this run recomputes go, their new rows are appended. -#}
    {%- if is_incremental() %}
        delete from {{ this }}
        where {{ refreshed_listener('user_id', on_a_new_week) }}
    {%- endif %}
{% endmacro %}

{% macro per_listener_config() %}
    {{ return(adapter.dispatch('per_listener_config', 'tunesday')()) }}
{% endmacro %}

{% macro default__per_listener_config() %}
    {{ return({'incremental_strategy': 'append', 'on_schema_change': 'fail'}) }}
{% endmacro %}

{% macro bigquery__per_listener_config() %}
    {#- merge without a unique key only inserts: BigQuery's append. -#}
    {{ return({'incremental_strategy': 'merge', 'cluster_by': ['user_id'], 'on_schema_change': 'fail'}) }}
{% endmacro %}

{% macro prune_refresh_history() %}
    {#-
        Post-hook of int_user_refresh: the rows of runs older than two cycles are never read again.
        On BigQuery a delete of whole partitions by a constant filter of the partition column is
        a metadata operation that reads nothing.
    -#}
    {%- if is_incremental() %}
        delete from {{ this }}
        where run_date < cast('{{ days_after(run_date(), -2 * refresh_cycle_days()) }}' as date)
    {%- endif %}
{% endmacro %}
