{#-
    Aggregate: the value of the group's first row in `order_by` (a SQL ORDER BY list, such as
    "round(score, 9) desc, seed_id asc"; make it total, so that ties resolve the same way on both
    engines). One pass of a GROUP BY instead of a window that numbers every row and a filter on
    the first: at tens of millions of rows the window sorts and spills, the aggregate does not.
    `value` must not be null (BigQuery's ARRAY_AGG refuses null elements; they are skipped).
-#}
{% macro first_value_by(value, order_by) %}
    {{ return(adapter.dispatch('first_value_by', 'tunesday')(value, order_by)) }}
{% endmacro %}

{% macro default__first_value_by(value, order_by) %}
    {#- BigQuery. No LIMIT 1 inside: the emulator's DuckDB cannot parse it (the groups are small). -#}
    array_agg({{ value }} ignore nulls order by {{ order_by }})[offset(0)]
{%- endmacro %}

{% macro duckdb__first_value_by(value, order_by) %}
    first({{ value }} order by {{ order_by }})
{%- endmacro %}
