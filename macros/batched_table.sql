{#-
    A table built in batches, for a model whose GROUP BY one machine cannot hold in one query: the
    Smart Shuffle neighbours of 1 M listeners are 346 M (playlist, track) groups, whose hash table
    had spilled 32.5 GB of disk when the query was stopped; an eighth of the playlists at a time
    took 72 s and spilled 2.1 GB (9.6 GB memory limit, 2 threads). The model is materialized
    `batched_table()` and chooses its batch's rows with in_batch(expression, …), which decides how
    many batches from the rows the run will read. BigQuery spreads one query over its workers: the
    table materialization, no batches.

    An incremental model is batched the same way with a post-hook: materialized 'incremental', it
    builds or appends its first batch as usual, and post_hook="{{ insert_other_batches() }}"
    appends the others (after the pre-hook's delete, in the same transaction).
-#}

{% macro batched_table() %}
    {{ return(adapter.dispatch('batched_table', 'tunesday')()) }}
{% endmacro %}

{% macro default__batched_table() %}
    {{ return('table') }}
{% endmacro %}

{% macro duckdb__batched_table() %}
    {{ return('batched_table') }}
{% endmacro %}

{% macro inlined_in_batches() %}
    {#-
        The materialization of a model read by one batched model only (the candidate sources,
        read by int_user_candidates): on DuckDB ephemeral, so that its reader computes it batch by
        batch, within the batch's own query, and it is never stored (at 1 M listeners the four
        sources were 863 M rows, about 15 GB of the warehouse, written and read once); the model
        chooses its rows with the reader's batch condition (listener_batch). A table on BigQuery,
        where one query reads it whole and analysts can query it.
    -#}
    {{ return(adapter.dispatch('inlined_in_batches', 'tunesday')()) }}
{% endmacro %}

{% macro default__inlined_in_batches() %}
    {{ return('table') }}
{% endmacro %}

{% macro duckdb__inlined_in_batches() %}
    {{ return('ephemeral') }}
{% endmacro %}

{% macro in_batch(expression, counted_relations, count_query, rows_per_batch, hashed=false) %}
    {#-
        The condition of the first batch's rows: `expression` (a non-negative integer, or any
        value when `hashed`: its hash) modulo the number of batches is 0; the materialization
        builds batch b with the same query, b in place of 0.
        The number of batches: count_query's count over rows_per_batch, at least 1 (and 1 when a
        relation of counted_relations does not exist yet, in a unit test, or when parsing).
    -#}
    {{ return(adapter.dispatch('in_batch', 'tunesday')(expression, counted_relations, count_query, rows_per_batch, hashed)) }}
{% endmacro %}

{% macro default__in_batch(expression, counted_relations, count_query, rows_per_batch, hashed) %}
    {{ return('true') }}
{% endmacro %}

{% macro duckdb__in_batch(expression, counted_relations, count_query, rows_per_batch, hashed) %}
    {%- set batches = namespace(count=1) -%}
    {%- if execute and not in_unit_test() -%}
        {%- set missing = [] -%}
        {%- for relation in counted_relations -%}
            {%- if load_relation(relation) is none -%}
                {%- do missing.append(relation) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if not missing -%}
            {%- set rows = run_query(count_query).columns[0].values()[0] | int -%}
            {%- set batches.count = [1, (rows / rows_per_batch) | round(0, 'ceil') | int] | max -%}
        {%- endif -%}
    {%- endif -%}
    {#-
        One batch: a constant condition (with the marker), not mod(…, 1) = 0. DuckDB guesses that
        an equality on an expression keeps a fraction of the rows, and on that guess it made the
        filtered table the build side of the hash joins after it: fct_user_recommendations of
        2,000 listeners took 1.10 s with mod(hash(user_id), 1) = 0 and 0.76 s with 0 = 0
        (medians of 5, one thread), where `set disabled_optimizers = 'build_side_probe_side'`
        gave the same 0.73 s.
    -#}
    {%- set number = 'hash(' ~ expression ~ ')' if hashed else expression -%}
    {%- set batch_of = ('0' if batches.count == 1 else 'mod(' ~ number ~ ', ' ~ batches.count ~ ')') -%}
    {{ return(batch_of ~ ' = 0 /* batch 0 of ' ~ batches.count ~ ' */') }}
{% endmacro %}

{% macro refreshed_batch(column, refresh_model, rows_per_batch) %}
    {#-
        The in_batch condition of a model recomputed for the rows refresh_model lists on the run
        date (the listeners or playlists whose inputs changed): batches of about rows_per_batch of
        them, split on a hash of `column`, so each batch holds whole listeners or playlists.
    -#}
    {%- set refresh = ref(refresh_model) -%}
    {%- set count_query -%}
        select count(*) from {{ refresh }} where run_date = cast('{{ run_date() }}' as date)
    {%- endset -%}
    {{ return(in_batch(column, [refresh], count_query, rows_per_batch, hashed=true)) }}
{% endmacro %}

{% macro listener_batch(user_column) %}
    {#- The batches of a listener model: var listeners_per_batch of int_user_refresh's listeners. -#}
    {{ return(refreshed_batch(user_column, 'int_user_refresh', var('listeners_per_batch'))) }}
{% endmacro %}

{% macro every_listener_batch(user_column) %}
    {#-
        The batches of a model made for every listener at once (Discover Weekly's week list): var
        listeners_per_batch of the accepted listeners (stg_raw__users).
    -#}
    {%- set users = ref('stg_raw__users') -%}
    {{ return(in_batch(user_column, [users], 'select count(*) from ' ~ users, var('listeners_per_batch'), hashed=true)) }}
{% endmacro %}

{% macro batches_of(sql) %}
    {#- The batches of a model's compiled SQL: (its in_batch marker, how many), or none without one. -#}
    {%- set marker = modules.re.search('= 0 /\\* batch 0 of (\\d+) \\*/', sql) -%}
    {{ return(none if marker is none else (marker.group(0), marker.group(1) | int)) }}
{% endmacro %}

{% macro sql_of_batch(sql, marker, batch, batches) %}
    {#- The model's SQL choosing the rows of batch `batch` in place of batch 0's. -#}
    {{ return(sql.replace(marker, '= ' ~ batch ~ ' /* batch ' ~ batch ~ ' of ' ~ batches ~ ' */')) }}
{% endmacro %}

{% macro insert_other_batches() %}
    {#- Post-hook of a batched incremental model: appends the rows of its batches after the first. -#}
    {{ return(adapter.dispatch('insert_other_batches', 'tunesday')()) }}
{% endmacro %}

{% macro default__insert_other_batches() %}
    {{ return('') }}
{% endmacro %}

{% macro duckdb__insert_other_batches() %}
    {%- if execute -%}
        {%- set batches = batches_of(model.compiled_code) -%}
        {%- if batches is none -%}
            {{ exceptions.raise_compiler_error("insert_other_batches: the model must choose its rows with in_batch()") }}
        {%- endif -%}
        {%- for batch in range(1, batches[1]) %}
            insert into {{ this }} by name
            select * from (
                {{ sql_of_batch(model.compiled_code, batches[0], batch, batches[1]) }}
            ) as batch_rows;
        {%- endfor %}
    {%- endif -%}
{% endmacro %}

{% materialization batched_table, adapter='duckdb' %}
    {#-
        dbt-duckdb's table materialization, with the rows of every batch after the first inserted
        into the new table before it takes the old one's place (in the same transaction).
    -#}
    {%- set marker_and_count = batches_of(sql) -%}
    {%- if marker_and_count is none -%}
        {{ exceptions.raise_compiler_error("a batched_table model must choose its rows with in_batch()") }}
    {%- endif -%}
    {%- set marker, batches = marker_and_count -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_relation = make_backup_relation(target_relation, 'table' if existing_relation is none else existing_relation.type) -%}
    {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
    {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {% call statement('main') -%}
        {{ create_table_as(False, intermediate_relation, sql) }}
    {%- endcall %}
    {%- for batch in range(1, batches) %}
        {% call statement('batch_' ~ batch) -%}
            insert into {{ intermediate_relation }}
            select * from (
                {{ sql_of_batch(sql, marker, batch, batches) }}
            ) as batch_rows
        {%- endcall %}
    {%- endfor %}
    {% if existing_relation is not none %}
        {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {% endif %}
    {{ adapter.rename_relation(intermediate_relation, target_relation) }}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do persist_docs(target_relation, model) %}
    {{ adapter.commit() }}
    {{ drop_relation_if_exists(backup_relation) }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{% macro release_consumed(model_names) %}
    {#-
        Post-hook of the one model that reads the given intermediates, on DuckDB with var
        release_consumed_intermediates: empties them once it is built. Every run rebuilds them
        (for its listeners or playlists, or whole), so nothing is lost but their disk: at 1 M
        listeners the Smart Shuffle neighbours (347 M rows) and the candidate sources (863 M,
        since not stored: inlined_in_batches) were the largest tables of a 51 GB warehouse, and a
        full build that kept the candidate pools, the Smart Shuffle pools and the track
        co-occurrences as well filled a 79 GB disk before Discover Weekly. Each is replaced by an
        empty table of the same columns, whose blocks DuckDB reuses after its next checkpoint.
        Off by default, so that an analyst (and the tests) can read them; bench/scale.py turns it on.
    -#}
    {{ return(adapter.dispatch('release_consumed', 'tunesday')(model_names)) }}
{% endmacro %}

{% macro default__release_consumed(model_names) %}
    {{ return('') }}
{% endmacro %}

{% macro duckdb__release_consumed(model_names) %}
    {%- if var('release_consumed_intermediates', false) %}
        {%- for name in model_names %}
            create or replace table {{ ref(name) }} as select * from {{ ref(name) }} limit 0;
        {%- endfor %}
    {%- endif %}
{% endmacro %}
