{#-
    Rounds half up to `digits` decimals with plain IEEE arithmetic, so both engines give the
    same value: BigQuery's ROUND and DuckDB's round disagree on values such as 0.175.
-#}
{% macro round_half_up(expression, digits) %}
    (floor({{ expression }} * {{ 10 ** digits }} + 0.5) / {{ 10 ** digits }})
{%- endmacro %}
