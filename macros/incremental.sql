{#-
    Everything engine-specific about incremental models lives here, so models never branch on
    target.type. A daily model says:

        {{ config(materialized='incremental', **incremental_by_date_config('listened_date', ['user_id', 'track_id', 'listened_date'])) }}
        ... where {{ incremental_date_filter('cast(played_at as date)', 'listened_date') }}

    and gets: BigQuery production, insert_overwrite of the date partitions the run produced,
    clustered by user_id; the BigQuery emulator, merge on the row key (it cannot run a dynamic
    insert_overwrite twice); DuckDB, delete+insert of whole days.
-#}

{% macro run_date() %}
    {#-
        The day a run computes, 'YYYY-MM-DD': var run_date, else env var TUNESDAY_RUN_DATE (what
        `tunesday daily` sets: a new value re-parses only the files that read it, where a change of
        vars re-parses the whole project), else the day the run started (UTC).
    -#}
    {%- set value = var('run_date', none) -%}
    {%- if value is none and env_var('TUNESDAY_RUN_DATE', '') -%}
        {%- set value = env_var('TUNESDAY_RUN_DATE') -%}
    {%- endif -%}
    {%- if value is none -%}
        {%- set value = run_started_at.strftime('%Y-%m-%d') -%}
    {%- endif -%}
    {{ return(modules.datetime.date.fromisoformat(value | string).isoformat()) }}
{% endmacro %}

{% macro incremental_window_start() %}
    {#- First day an incremental run recomputes: run_date minus var incremental_lookback_days. -#}
    {%- set day = modules.datetime.date.fromisoformat(run_date()) -%}
    {%- set lookback = modules.datetime.timedelta(days=var('incremental_lookback_days') | int) -%}
    {{ return((day - lookback).isoformat()) }}
{% endmacro %}

{% macro incremental_date_filter(date_expression, loaded_date_column) %}
    {#- Days after the last one loaded (a missed daily run catches up) or inside the lookback. -#}
    {%- if is_incremental() -%}
        (
            {{ date_expression }} > (select max(loaded.{{ loaded_date_column }}) from {{ this }} as loaded)
            or {{ date_expression }} >= cast('{{ incremental_window_start() }}' as date)
        )
        and {{ date_expression }} <= cast('{{ run_date() }}' as date)
    {%- else -%}
        {{ date_expression }} <= cast('{{ run_date() }}' as date)
    {%- endif -%}
{% endmacro %}

{% macro settled_days_filter(date_expression, folded_date_column) %}
    {#-
        The settled days: before incremental_window_start(), so no later run recomputes them.
        In an incremental run, only those after the last day already folded into the model.
    -#}
    {{ date_expression }} < cast('{{ incremental_window_start() }}' as date)
    {%- if is_incremental() %}
        and coalesce(
            {{ date_expression }} > (select max(folded.{{ folded_date_column }}) from {{ this }} as folded),
            true
        )
    {%- endif -%}
{% endmacro %}

{% macro open_days_filter(date_expression) %}
    {#- The open days: from incremental_window_start() to run_date, which a run recomputes. -#}
    {{ date_expression }} >= cast('{{ incremental_window_start() }}' as date)
    and {{ date_expression }} <= cast('{{ run_date() }}' as date)
{%- endmacro %}

{% macro incremental_by_date_config(partition_column, unique_key) %}
    {{ return(adapter.dispatch('incremental_by_date_config', 'tunesday')(partition_column, unique_key)) }}
{% endmacro %}

{% macro default__incremental_by_date_config(partition_column, unique_key) %}
    {#- delete+insert keyed on the date replaces whole days, like a partition overwrite. -#}
    {{ return({
        'incremental_strategy': 'delete+insert',
        'unique_key': partition_column,
        'on_schema_change': 'fail',
    }) }}
{% endmacro %}

{% macro bigquery__incremental_by_date_config(partition_column, unique_key) %}
    {%- set default_strategy = 'merge' if target.name == 'bq_emulator' else 'insert_overwrite' -%}
    {%- set strategy = var('bigquery_incremental_strategy', default_strategy) -%}
    {{ return({
        'incremental_strategy': strategy,
        'unique_key': unique_key if strategy == 'merge' else none,
        'partition_by': {'field': partition_column, 'data_type': 'date', 'granularity': 'day'},
        'cluster_by': ['user_id'],
        'on_schema_change': 'fail',
    }) }}
{% endmacro %}

{% macro incremental_by_key_config(unique_key) %}
    {{ return(adapter.dispatch('incremental_by_key_config', 'tunesday')(unique_key)) }}
{% endmacro %}

{% macro default__incremental_by_key_config(unique_key) %}
    {#- State tables: a run replaces the rows of the keys it touched. -#}
    {{ return({
        'incremental_strategy': 'delete+insert',
        'unique_key': unique_key,
        'on_schema_change': 'fail',
    }) }}
{% endmacro %}

{% macro bigquery__incremental_by_key_config(unique_key) %}
    {{ return({
        'incremental_strategy': 'merge',
        'unique_key': unique_key,
        'cluster_by': ['user_id'],
        'on_schema_change': 'fail',
    }) }}
{% endmacro %}

{% macro run_week_start() %}
    {#- The Monday of run_date's week, 'YYYY-MM-DD' (weekly surfaces are keyed by it). -#}
    {%- set day = modules.datetime.date.fromisoformat(run_date()) -%}
    {{ return((day - modules.datetime.timedelta(days=day.weekday())).isoformat()) }}
{% endmacro %}

{% macro event_filing_date(timestamp_column) %}
    {#-
        The day a raw event is filed under: the UTC day it happened; for an event without a time,
        or one in the future (rejected), the run_date of the run that first saw it. A run loads
        the events filed up to its run_date.
    -#}
    case
        when {{ timestamp_column }} is null or {{ timestamp_column }} > {{ dbt.current_timestamp() }}
            then cast('{{ run_date() }}' as date)
        else cast({{ timestamp_column }} as date)
    end
{%- endmacro %}

{% macro incremental_history_config(unique_key) %}
    {#-
        A history kept across runs (one row per run_date and key): a rerun of a day replaces that
        day's rows, and --full-refresh keeps the history (full_refresh=false) instead of rebuilding it.
    -#}
    {{ return(adapter.dispatch('incremental_history_config', 'tunesday')(unique_key)) }}
{% endmacro %}

{% macro default__incremental_history_config(unique_key) %}
    {{ return({'incremental_strategy': 'delete+insert', 'unique_key': unique_key,
               'full_refresh': false, 'on_schema_change': 'append_new_columns'}) }}
{% endmacro %}

{% macro bigquery__incremental_history_config(unique_key) %}
    {{ return({'incremental_strategy': 'merge', 'unique_key': unique_key, 'full_refresh': false,
               'partition_by': {'field': 'run_date', 'data_type': 'date', 'granularity': 'month'},
               'on_schema_change': 'append_new_columns'}) }}
{% endmacro %}
