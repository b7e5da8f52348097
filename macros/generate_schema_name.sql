{#-
    Where each model lands: its stage's schema (BigQuery dataset) `<target schema>_<stage>`, the
    stage being the `+schema` of its folder in dbt_project.yml; building blocks (`int_*`), whatever
    their stage, in `<target schema>_intermediate`. Analysts' schemas then hold only what they
    should read. Overrides dbt's own macro of the same name.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif node.resource_type == 'model' and node.name.startswith('int_') -%}
        {{ target.schema }}_intermediate
    {%- else -%}
        {{ target.schema }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
