{#- A few bad rows are normal; a source rejecting more than max_share of its rows is an incident. -#}
{% test rejected_share_within_threshold(model, column_name, max_share=none) %}
    {%- set threshold = max_share if max_share is not none else var('max_rejected_share') -%}
    select *
    from {{ model }}
    where {{ column_name }} > {{ threshold }}
{% endtest %}
