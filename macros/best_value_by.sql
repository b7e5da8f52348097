{#-
    Aggregate: the value of the group's row with the highest score (rounded to 9 places by
    comparable_float, so that both engines see the same ties), a tie going to the smallest value:
    the seed of a candidate, "because you played …". One pass of a GROUP BY instead of a window
    that numbers every row and a filter on the first. `value` must not be null (BigQuery's
    ARRAY_AGG refuses null elements; they are skipped).
-#}
{% macro best_value_by(value, score) %}
    {{ return(adapter.dispatch('best_value_by', 'tunesday')(value, score)) }}
{% endmacro %}

{% macro default__best_value_by(value, score) %}
    {#- BigQuery. No LIMIT 1 inside: the emulator's DuckDB cannot parse it (the groups are small). -#}
    array_agg({{ value }} ignore nulls order by {{ comparable_float(score) }} desc, {{ value }} asc)[offset(0)]
{%- endmacro %}

{% macro duckdb__best_value_by(value, score) %}
    {#-
        The least (-score, value) pair, a fixed-size state per group. DuckDB's ordered aggregate
        (first(value order by …)) keeps every row of a group to sort them: at 1 M listeners the
        Smart Shuffle neighbours (650 M rows) spilled more than 38 GB that way.
    -#}
    struct_extract(min(struct_pack(score := -{{ comparable_float(score) }}, value := {{ value }})), 'value')
{%- endmacro %}
