{#-
    Enforced model contracts on the BigQuery emulator (target bq_emulator, CI only).

    dbt-bigquery creates a contracted table in one statement,
        create or replace table t (col type, ...) options() as (select ...)
    which real BigQuery runs, but the emulator executes on DuckDB, whose parser rejects a column
    list together with `as select`. On that target only, a contracted SQL table is created with
    its typed columns first and filled by an insert of the same select, in one script: the same
    contract check (get_assert_columns_equivalent), the same column types, the same rows.
    Every other case (real BigQuery, uncontracted models) runs dbt-bigquery's own macro unchanged.
-#}
{% macro bigquery__create_table_as(temporary, relation, compiled_code, language='sql') -%}
    {%- set contract_config = config.get('contract') -%}
    {%- if target.name == 'bq_emulator' and language == 'sql' and contract_config.enforced and not temporary -%}
        {%- set partition_config = adapter.parse_partition_by(config.get('partition_by', none)) -%}
        {{ config.get('sql_header', none) or '' }}
        {{ get_assert_columns_equivalent(compiled_code) }}
        create or replace table {{ relation }}
        {{ get_table_columns_and_constraints() }}
        {{ partition_by(partition_config) }}
        {{ cluster_by(config.get('cluster_by', none)) }};
        insert into {{ relation }}
        {{ get_select_subquery(compiled_code) }};
    {%- else -%}
        {{ return(dbt.bigquery__create_table_as(temporary, relation, compiled_code, language)) }}
    {%- endif -%}
{%- endmacro %}
