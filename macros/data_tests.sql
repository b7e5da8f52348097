{#-
    The data tests of a table incremental by day check the days a daily run recomputes, not every
    day of the table: a test reads the whole of the columns it tests, and over years of plays the
    tests alone would cost more than every model of the run together on BigQuery (README "What
    BigQuery costs"), and make a DuckDB daily run slower with every day of history. A day no run
    recomputes any more was checked when it was written. `--full-refresh`, or var
    `test_every_day`, tests every day.
-#}

{% macro bigquery__get_where_subquery(relation) -%}
    {{- return(tunesday.tested_rows(relation)) -}}
{%- endmacro %}

{% macro duckdb__get_where_subquery(relation) -%}
    {{- return(tunesday.tested_rows(relation)) -}}
{%- endmacro %}

{% macro tested_rows(relation) -%}
    {#- dbt's test filter (config `where`), and the run's days for a table incremental by day. -#}
    {%- set conditions = [config.get('where', '')] | select | list -%}
    {%- set days_column = tested_days_column(relation) -%}
    {%- if days_column -%}
        {%- do conditions.append(days_column ~ " >= cast('" ~ incremental_window_start() ~ "' as date)") -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{% macro tested_days_column(relation) %}
    {#-
        The day column a test of `relation` reads from the run's first day on: the model's
        partition column (a day partition on BigQuery), or its `meta: days_column` (set by
        incremental_by_date_config on DuckDB, or by hand on a view over such a table).
        None on a full refresh, with var test_every_day, or for any other relation.
    -#}
    {%- if not execute or flags.FULL_REFRESH or var('test_every_day') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- for node in graph.get('nodes', {}).values()
            if node.resource_type == 'model' and node.alias == relation.identifier and node.schema == relation.schema -%}
        {%- set partition_by = node.config.get('partition_by') or {} -%}
        {%- if partition_by.get('granularity', 'day') == 'day' and partition_by.get('field') -%}
            {{ return(partition_by.get('field')) }}
        {%- endif -%}
        {{ return(node.config.get('meta', {}).get('days_column')) }}
    {%- endfor -%}
    {{ return(none) }}
{% endmacro %}
