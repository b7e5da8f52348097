{#-
    Everything engine-specific about incremental models lives here, so models never branch on
    target.type. A daily model says:

        {{ config(materialized='incremental', **incremental_by_date_config('listened_date', ['user_id', 'track_id', 'listened_date'])) }}
        ... where {{ incremental_date_filter('cast(played_at as date)', 'listened_date') }}

    and gets: BigQuery production, insert_overwrite of the date partitions the run produced,
    clustered by user_id; the BigQuery emulator, merge on the row key (it cannot run a dynamic
    insert_overwrite twice); DuckDB, delete+insert of whole days.
-#}

{% macro run_date(outside_nodes=false) %}
    {#-
        The day a run computes, 'YYYY-MM-DD': var run_date, else env var TUNESDAY_RUN_DATE (what
        `tunesday daily` sets), else the day the run started (UTC). The environment is read only
        when a node runs (or outside nodes, as the query comment is rendered): a file that reads
        an environment variable while dbt parses it is parsed again whenever the value changes,
        where a change of vars re-parses the whole project.
    -#}
    {%- set value = var('run_date', none) -%}
    {%- if value is none and (execute or outside_nodes) and env_var('TUNESDAY_RUN_DATE', '') -%}
        {%- set value = env_var('TUNESDAY_RUN_DATE') -%}
    {%- endif -%}
    {%- if value is none -%}
        {%- set value = run_started_at.strftime('%Y-%m-%d') -%}
    {%- endif -%}
    {{ return(modules.datetime.date.fromisoformat(value | string).isoformat()) }}
{% endmacro %}

{% macro incremental_window_start() %}
    {#- First day an incremental run recomputes: run_date minus var incremental_lookback_days. -#}
    {{ return(days_after(run_date(), -(var('incremental_lookback_days') | int))) }}
{% endmacro %}

{% macro incremental_date_filter(date_expression, loaded_date_column) %}
    {#- Days after the last one loaded (a missed daily run catches up) or inside the lookback. -#}
    {%- if is_incremental() -%}
        {%- set first_day = incremental_first_day(loaded_date_column) -%}
        {%- if first_day is none -%}
            (
                {{ date_expression }} > (select max(loaded.{{ loaded_date_column }}) from {{ this }} as loaded)
                or {{ date_expression }} >= cast('{{ incremental_window_start() }}' as date)
            )
        {%- else -%}
            {{ date_expression }} >= cast('{{ first_day }}' as date)
        {%- endif %}
        and {{ date_expression }} <= cast('{{ run_date() }}' as date)
    {%- else -%}
        {{ date_expression }} <= cast('{{ run_date() }}' as date)
    {%- endif -%}
{% endmacro %}

{% macro settled_days_filter(date_expression, folded_date_column, before=none) %}
    {#-
        The settled days: before incremental_window_start() (or `before`, when given), so no later
        run recomputes them. In an incremental run, only those after the last day already folded
        into the model.
    -#}
    {{ date_expression }} < cast('{{ before or incremental_window_start() }}' as date)
    {%- if is_incremental() and in_unit_test() %}
        and coalesce(
            {{ date_expression }} > (select max(folded.{{ folded_date_column }}) from {{ this }} as folded),
            true
        )
    {%- elif is_incremental() %}
        {%- set last_folded = last_loaded_day(folded_date_column) %}
        {%- if last_folded is not none %}
        and {{ date_expression }} > cast('{{ last_folded }}' as date)
        {%- endif %}
    {%- endif -%}
{% endmacro %}

{% macro incremental_first_day(loaded_date_column, condition=none) %}
    {#-
        The first day an incremental run recomputes, 'YYYY-MM-DD': the day after the last one the
        model holds (a missed run catches up) or incremental_window_start(), whichever is
        earlier. It is a constant in the compiled SQL, so that BigQuery reads only those days'
        partitions: it prunes on constant filters, never on a subquery's result. None in a unit
        test, whose `this` is a fixture that only the SQL can read.
    -#}
    {%- if in_unit_test() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set window_start = incremental_window_start() -%}
    {%- set last_day = last_loaded_day(loaded_date_column, condition) if execute else none -%}
    {%- if last_day is none -%}
        {{ return(window_start) }}
    {%- endif -%}
    {{ return([days_after(last_day, 1), window_start] | min) }}
{% endmacro %}

{% macro last_loaded_day(date_column, condition=none, relation=none) %}
    {#-
        The last day the model (`this`, or `relation`: a model built before it) holds,
        'YYYY-MM-DD': the maximum of `date_column` over its rows (those meeting `condition`), or
        none (also when `relation` is not built yet). Looked up when the model is compiled for a
        run. It searches the month before run_date first, where a daily run finds it (on
        BigQuery: a month of partitions of one column), and the whole column only when that
        month holds nothing (no run for a month, or a rerun of an older day).
    -#}
    {%- if relation is not none and load_relation(relation) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set recent = max_loaded_day(date_column, condition, days_after(run_date(), -31), relation) -%}
    {{ return(recent if recent is not none else max_loaded_day(date_column, condition, none, relation)) }}
{% endmacro %}

{% macro max_loaded_day(date_column, condition, since, relation=none) %}
    {#- last_loaded_day's query: max(date_column) over the rows meeting `condition`, from `since` on. -#}
    {%- set query -%}
        select max({{ date_column }}) as last_day
        from {{ relation or this }}
        where {{ condition or 'true' }}
        {%- if since is not none %}
            and {{ date_column }} >= cast('{{ since }}' as date)
        {%- endif %}
    {%- endset -%}
    {%- set value = run_query(query).columns[0].values()[0] -%}
    {{ return(none if value is none else (value | string)[:10]) }}
{% endmacro %}

{% macro days_after(day, days) %}
    {#- The day `days` days after `day` (both 'YYYY-MM-DD'; negative: before). -#}
    {%- set shifted = modules.datetime.date.fromisoformat(day) + modules.datetime.timedelta(days=days | int) -%}
    {{ return(shifted.isoformat()) }}
{% endmacro %}

{% macro in_unit_test() %}
    {#- Whether a unit test renders the model: its `this` is then a fixture, not a table to query. -#}
    {{ return(model is mapping and model.get('resource_type') == 'unit_test') }}
{% endmacro %}

{% macro open_days_filter(date_expression) %}
    {#- The open days: from incremental_window_start() to run_date, which a run recomputes. -#}
    {{ date_expression }} >= cast('{{ incremental_window_start() }}' as date)
    and {{ date_expression }} <= cast('{{ run_date() }}' as date)
{%- endmacro %}

{% macro recent_days_filter(date_expression, days) %}
    {#-
        The `days` days up to run_date, run_date included, as constants: on BigQuery a model that
        reads the last weeks of a daily table reads only their partitions.
    -#}
    {{ date_expression }} > cast('{{ days_after(run_date(), -(days | int)) }}' as date)
    and {{ date_expression }} <= cast('{{ run_date() }}' as date)
{%- endmacro %}

{% macro incremental_by_date_config(partition_column, unique_key, cluster_by=['user_id']) %}
    {{ return(adapter.dispatch('incremental_by_date_config', 'tunesday')(partition_column, unique_key, cluster_by)) }}
{% endmacro %}

{% macro default__incremental_by_date_config(partition_column, unique_key, cluster_by) %}
    {#-
        delete+insert keyed on the date replaces whole days, like a partition overwrite. The day
        column is named for the data tests (macros/data_tests.sql), as BigQuery's partition is.
    -#}
    {{ return({
        'incremental_strategy': 'delete+insert',
        'unique_key': partition_column,
        'on_schema_change': 'fail',
        'meta': {'days_column': partition_column},
    }) }}
{% endmacro %}

{% macro bigquery__incremental_by_date_config(partition_column, unique_key, cluster_by) %}
    {%- set default_strategy = 'merge' if target.name == 'bq_emulator' else 'insert_overwrite' -%}
    {%- set strategy = var('bigquery_incremental_strategy', default_strategy) -%}
    {{ return({
        'incremental_strategy': strategy,
        'unique_key': unique_key if strategy == 'merge' else none,
        'partition_by': {'field': partition_column, 'data_type': 'date', 'granularity': 'day'},
        'cluster_by': cluster_by,
        'on_schema_change': 'fail',
    }) }}
{% endmacro %}

{% macro in_date_order(date_column) %}
    {#- Ends a dated model's final select: rows stored by day on DuckDB (why: macros/_macros.yml). -#}
    {{ return(adapter.dispatch('in_date_order', 'tunesday')(date_column)) }}
{% endmacro %}

{% macro default__in_date_order(date_column) %}
    order by {{ date_column }}
{%- endmacro %}

{% macro bigquery__in_date_order(date_column) %}
{%- endmacro %}

{% macro incremental_by_key_config(unique_key, cluster_by=['user_id']) %}
    {{ return(adapter.dispatch('incremental_by_key_config', 'tunesday')(unique_key, cluster_by)) }}
{% endmacro %}

{% macro default__incremental_by_key_config(unique_key, cluster_by=none) %}
    {#- State tables: a run replaces the rows of the keys it touched. -#}
    {{ return({
        'incremental_strategy': 'delete+insert',
        'unique_key': unique_key,
        'on_schema_change': 'fail',
    }) }}
{% endmacro %}

{% macro bigquery__incremental_by_key_config(unique_key, cluster_by=['user_id']) %}
    {{ return({
        'incremental_strategy': 'merge',
        'unique_key': unique_key,
        'cluster_by': cluster_by,
        'on_schema_change': 'fail',
    }) }}
{% endmacro %}

{% macro incremental_by_key_in_days_config(unique_key, partition_column) %}
    {#-
        Rows replaced by key, as incremental_by_key_config, in a table whose keys' rows all lie
        in the days a run recomputes (and the day before them), so that the rows to replace can
        be found by day: the model's pre-hook deletes them (a bounded delete), then the run
        inserts.
    -#}
    {{ return(adapter.dispatch('incremental_by_key_in_days_config', 'tunesday')(unique_key, partition_column)) }}
{% endmacro %}

{% macro default__incremental_by_key_in_days_config(unique_key, partition_column) %}
    {#- delete+insert on the key: what BigQuery's pre-hook and insert do, in one statement. -#}
    {%- set config = default__incremental_by_key_config(unique_key) -%}
    {%- do config.update({'meta': {'days_column': partition_column}}) -%}
    {{ return(config) }}
{% endmacro %}

{% macro bigquery__incremental_by_key_in_days_config(unique_key, partition_column) %}
    {#-
        A merge that never matches (predicate false): an insert. A merge matching on the key
        would read the whole table, every day of it: BigQuery prunes a merge's target only on
        constant predicates, and a config's predicates are fixed when the project is parsed,
        before the run knows its first day.
    -#}
    {{ return({
        'incremental_strategy': 'merge',
        'unique_key': unique_key,
        'incremental_predicates': ['false'],
        'partition_by': {'field': partition_column, 'data_type': 'date', 'granularity': 'day'},
        'cluster_by': ['user_id'],
        'on_schema_change': 'fail',
    }) }}
{% endmacro %}

{% macro run_week_start() %}
    {#- The Monday of run_date's week, 'YYYY-MM-DD' (weekly surfaces are keyed by it). -#}
    {%- set day = modules.datetime.date.fromisoformat(run_date()) -%}
    {{ return((day - modules.datetime.timedelta(days=day.weekday())).isoformat()) }}
{% endmacro %}

{% macro has_rows_on(relation, date_column, day) %}
    {#-
        A condition: whether `relation` has rows whose date_column is `day` ('YYYY-MM-DD'). Asked
        once when the model's SQL is rendered for the run, so it is the constant `true` or
        `false` (a model built in batches reads its table after the first batch is in it); in a
        unit test, whose `this` is a fixture, the same question in SQL.
    -#}
    {%- set condition -%}
        exists (select 1 from {{ relation }} where {{ date_column }} = cast('{{ day }}' as date))
    {%- endset -%}
    {%- if in_unit_test() -%}
        {{ return(condition) }}
    {%- elif not execute -%}
        {{ return('false') }}
    {%- endif -%}
    {%- set found = run_query('select ' ~ condition).columns[0].values()[0] -%}
    {{ return('true' if found else 'false') }}
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
