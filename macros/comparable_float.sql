{#-
    A float rounded to 9 decimals, for ORDER BY and comparisons that must come out the same on
    every engine: DuckDB and BigQuery can differ in the last bits of the same arithmetic, and a
    1-ulp difference would otherwise flip a tie between two candidates.
-#}
{% macro comparable_float(expression) %}
    round({{ expression }}, 9)
{%- endmacro %}
