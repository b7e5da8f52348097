{#-
    Makes the raw contract queryable as `<raw schema>.<table>` before anything else runs.
    DuckDB: a view per table over the Parquet files under TUNESDAY_RAW_DIR, so that sources
    (and unit tests, which look up source columns) see ordinary relations. BigQuery: nothing
    to do, the raw dataset holds real tables loaded by load jobs.
-#}
{% macro create_raw_views() %}
    {{ return(adapter.dispatch('create_raw_views', 'tunesday')()) }}
{% endmacro %}

{% macro default__create_raw_views() %}
    select 1
{% endmacro %}

{% macro duckdb__create_raw_views() %}
    {%- set raw_dir = env_var('TUNESDAY_RAW_DIR', 'target/data/raw') -%}
    {%- set raw_schema = source('raw', 'listening_events').schema -%}
    create schema if not exists {{ raw_schema }};
    {#-
        Files written before the contract had loaded_at read it as null (union_by_name), even when
        no file has it yet (the typed empty row).
    -#}
    {% for raw_table in raw_tables() %}
        create or replace view {{ raw_schema }}.{{ raw_table }} as
        select * from read_parquet('{{ raw_dir }}/{{ raw_table }}/*.parquet', union_by_name = true)
        union all by name
        select cast(null as timestamp) as loaded_at where false;
    {% endfor %}
{% endmacro %}
