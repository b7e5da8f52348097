{#-
    The fate of one raw row in a base model: 'rejected' when a cleaning rule gave it a
    rejection_reason, 'duplicate' when an earlier trusted row has the same key, else 'accepted'.
    Rejected rows are ranked apart (partition by rejection_reason) so that a bad copy never
    hides the good one.
-#}
{% macro row_status(key_columns, order_by) %}
    case
        when rejection_reason is not null then 'rejected'
        when row_number() over (
            partition by rejection_reason, {{ key_columns | join(', ') }}
            order by {{ order_by }}
        ) = 1 then 'accepted'
        else 'duplicate'
    end
{% endmacro %}
