{% macro query_labels(node) %}
    {#-
        The comment dbt puts on every statement (dbt_project.yml `query-comment`), a JSON object:
        dbt-bigquery makes its keys the job's labels (`job-label: true`), so that BigQuery's job
        history and billing export add bytes up per model and per run date. A statement outside
        a node (hooks of the run, dbt's own catalog queries) has model `none`.
    -#}
    {{ return(tojson({
        'model': node.name if node is not none else 'none',
        'resource_type': node.resource_type if node is not none else 'none',
        'run_date': run_date(outside_nodes=true),
    })) }}
{% endmacro %}
