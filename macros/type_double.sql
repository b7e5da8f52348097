{#- dbt.type_float() is FLOAT4 on DuckDB: too coarse for audio attributes and scores. -#}
{% macro type_double() %}
    {{ return(adapter.dispatch('type_double', 'tunesday')()) }}
{% endmacro %}

{% macro default__type_double() %}double{% endmacro %}

{% macro bigquery__type_double() %}float64{% endmacro %}
