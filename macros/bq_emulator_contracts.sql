{#-
    Enforced model contracts on the BigQuery emulator (target bq_emulator, CI only).

    dbt-bigquery creates a contracted table in one statement,
        create or replace table t (col type, ...) options() as (select ...)
    which real BigQuery runs, but the emulator executes on DuckDB, whose parser rejects a column
    list together with `as select`. On that target only, a contracted SQL table is created with
    its typed columns first and filled by an insert of the same select, in one script: the same
    contract check (get_assert_columns_equivalent), the same column types, the same rows. The
    temporary table an incremental run merges from (on_schema_change other than ignore) is made the
    same way, with its expiry option.
    Every other case (real BigQuery, uncontracted models) runs dbt-bigquery's own macro unchanged.
-#}
{% macro bigquery__create_table_as(temporary, relation, compiled_code, language='sql') -%}
    {%- set contract_config = config.get('contract') -%}
    {%- if target.name == 'bq_emulator' and language == 'sql' and contract_config.enforced -%}
        {%- set partition_config = adapter.parse_partition_by(config.get('partition_by', none)) -%}
        {{ config.get('sql_header', none) or '' }}
        {{ get_assert_columns_equivalent(compiled_code) }}
        create or replace table {{ relation }}
        {{ get_table_columns_and_constraints() }}
        {{ partition_by(partition_config) }}
        {{ cluster_by(config.get('cluster_by', none)) }}
        {{ bigquery_table_options(config, model, temporary) if temporary }};
        insert into {{ relation }}
        {{ get_select_subquery(compiled_code) }};
    {%- else -%}
        {{ return(dbt.bigquery__create_table_as(temporary, relation, compiled_code, language)) }}
    {%- endif -%}
{%- endmacro %}
