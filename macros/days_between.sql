{#- Whole days from start_date to end_date (negative when end_date is earlier), for DATE values. -#}
{% macro days_between(start_date, end_date) %}
    {{ return(adapter.dispatch('days_between', 'tunesday')(start_date, end_date)) }}
{% endmacro %}

{% macro default__days_between(start_date, end_date) %}
    {{ dbt.datediff(start_date, end_date, 'day') }}
{%- endmacro %}

{% macro duckdb__days_between(start_date, end_date) %}
    date_diff('day', {{ start_date }}, {{ end_date }})
{%- endmacro %}

{% macro bigquery__days_between(start_date, end_date) %}
    date_diff({{ end_date }}, {{ start_date }}, day)
{%- endmacro %}
