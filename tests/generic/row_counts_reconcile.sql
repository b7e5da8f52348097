{#- Fails on every source whose raw rows are not exactly accepted + rejected + duplicates + too late. -#}
{% test row_counts_reconcile(model) %}
    select *
    from {{ model }}
    where raw_rows <> accepted_rows + rejected_rows + duplicate_rows + too_late_rows
{% endtest %}
