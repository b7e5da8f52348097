{#- Milliseconds since 1970-01-01 UTC of a timestamp, as an integer. -#}
{% macro epoch_millis(timestamp_expression) %}
    {{ return(adapter.dispatch('epoch_millis', 'tunesday')(timestamp_expression)) }}
{% endmacro %}

{% macro default__epoch_millis(timestamp_expression) %}
    cast(extract(epoch from {{ timestamp_expression }}) * 1000 as {{ dbt.type_bigint() }})
{% endmacro %}

{% macro duckdb__epoch_millis(timestamp_expression) %}
    epoch_ms({{ timestamp_expression }})
{% endmacro %}

{% macro bigquery__epoch_millis(timestamp_expression) %}
    unix_millis({{ timestamp_expression }})
{% endmacro %}

{#- Microseconds since 1970-01-01 UTC of a timestamp, as an integer (exact: both engines store microseconds). -#}
{% macro epoch_micros(timestamp_expression) %}
    {{ return(adapter.dispatch('epoch_micros', 'tunesday')(timestamp_expression)) }}
{% endmacro %}

{% macro default__epoch_micros(timestamp_expression) %}
    cast(extract(epoch from {{ timestamp_expression }}) * 1000000 as {{ dbt.type_bigint() }})
{% endmacro %}

{% macro duckdb__epoch_micros(timestamp_expression) %}
    epoch_us({{ timestamp_expression }})
{% endmacro %}

{% macro bigquery__epoch_micros(timestamp_expression) %}
    unix_micros({{ timestamp_expression }})
{% endmacro %}
