{#- Weighted mean of value, ignoring rows where value is null. An aggregate expression. -#}
{% macro weighted_mean(value, weight) %}
    sum({{ weight }} * {{ value }}) / nullif(sum(case when {{ value }} is not null then {{ weight }} end), 0)
{%- endmacro %}
