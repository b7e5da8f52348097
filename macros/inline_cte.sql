{#-
    Between `name as` and the CTE's opening parenthesis: a CTE that DuckDB must not store. DuckDB
    stores a CTE read more than once in memory, spilling it whole when it is big: the raw events of
    a run, hundreds of millions of wide rows in a full build, spilled tens of gigabytes and took
    half an hour at a million listeners (bench/scale.py). Inlined, each reader computes it again
    from the Parquet files, streaming. BigQuery has no such keyword (and decides by itself).
-#}
{% macro inline_cte() %}
    {{- return(adapter.dispatch('inline_cte', 'tunesday')()) -}}
{% endmacro %}

{% macro default__inline_cte() %}{% endmacro %}

{% macro duckdb__inline_cte() %}not materialized{% endmacro %}
