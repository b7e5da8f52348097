{#-
    The daily run recomputes a listener's lifetime states, candidates, ranking and filters, and a
    playlist's Smart Shuffle pool and continuation, only when they need it: a refresh model says
    which keys a run recomputes and why (models/core/refresh/int_user_refresh.sql for listeners,
    int_playlist_refresh.sql beside it for playlists), one row per run_date and key. A per-key
    model says:

        {{ config(materialized='incremental',
                  pre_hook="{{ delete_refreshed('playlist_id', 'int_playlist_refresh') }}",
                  **per_key_config('playlist_id')) }}
        ... from {{ ref('x') }} where {{ refreshed('playlist_id', 'int_playlist_refresh') }}

    and a daily run deletes the refreshed keys' rows, then appends their new ones; the other keys'
    rows stay as their last refresh made them. A full build computes every key. The listener
    models use the wrappers refreshed_listener, delete_refreshed_listeners and
    per_listener_config; the intermediate models between them (seeds, each candidate source, the
    pool) are plain tables that hold only the listeners of the run:
    `where {{ refreshed_listener('user_id') }}` alone. A model whose pre-hook names a refresh model
    declares it: `-- depends_on: {{ ref('int_user_refresh') }}` (hooks are rendered at run time).
-#}

{% macro refresh_cycle_days() %}
    {#- Every listener is recomputed at least this often (their weekly refresh). -#}
    {{ return(7) }}
{% endmacro %}

{% macro refresh_bucket(expression) %}
    {#-
        The day of the refresh cycle a listener (or playlist) is due, 0-6: from the MD5 of the id,
        identical on both engines (28 bits of it, so the cast never overflows).
    -#}
    mod(cast('0x' || substr({{ dbt.hash(expression) }}, 1, 7) as {{ dbt.type_bigint() }}), {{ refresh_cycle_days() }})
{%- endmacro %}

{% macro refresh_cycle_day() %}
    {#- run_date's day of the refresh cycle, 0-6 (days since 1970-01-01, modulo the cycle). -#}
    {%- set day = modules.datetime.date.fromisoformat(run_date()) -%}
    {{ return((day - modules.datetime.date(1970, 1, 1)).days % refresh_cycle_days()) }}
{% endmacro %}

{% macro refreshed(key_column, refresh_model, key='user_id', on_a_new_week=false) %}
    {#-
        True for the keys this run recomputes: `key_column` is among the `key` values of
        `refresh_model`'s rows of run_date (every key in a full build). on_a_new_week: also every
        key on the first run of a week (what depends on the week's Discover Weekly, like the
        Bloom filters of served tracks).
    -#}
    {%- set refresh = ref(refresh_model) -%}
    {%- set day = "cast('" ~ run_date() ~ "' as date)" -%}
    (
        {{ key_column }} in (
            select refresh.{{ key }} from {{ refresh }} as refresh
            where refresh.run_date = {{ day }}
        )
        {%- if on_a_new_week %}
            or not exists (
                -- no earlier run this week (the days as constants: BigQuery reads this week only)
                select earlier.run_date from {{ refresh }} as earlier
                where earlier.run_date >= cast('{{ run_week_start() }}' as date) and earlier.run_date < {{ day }}
            )
        {%- endif %}
    )
{%- endmacro %}

{% macro delete_refreshed(key, refresh_model, on_a_new_week=false, or_where=none) %}
    {#-
        Pre-hook of a per-key model: the rows of the keys this run recomputes go (and those
        `or_where` names), their new rows are appended.
    -#}
    {%- if is_incremental() %}
        delete from {{ this }}
        where
            {{ refreshed(key, refresh_model, key, on_a_new_week) }}
            {%- if or_where %}
            or {{ or_where }}
            {%- endif %}
    {%- endif %}
{% endmacro %}

{% macro per_key_config(key) %}
    {#- The config of a per-key model: appended to (after its pre-hook's delete), clustered by the key on BigQuery. -#}
    {{ return(adapter.dispatch('per_key_config', 'tunesday')(key)) }}
{% endmacro %}

{% macro default__per_key_config(key) %}
    {{ return({'incremental_strategy': 'append', 'on_schema_change': 'fail'}) }}
{% endmacro %}

{% macro bigquery__per_key_config(key) %}
    {#- merge without a unique key only inserts: BigQuery's append. -#}
    {{ return({'incremental_strategy': 'merge', 'cluster_by': [key], 'on_schema_change': 'fail'}) }}
{% endmacro %}

{#- Listeners (int_user_refresh). -#}

{% macro refreshed_listener(user_column, on_a_new_week=false) %}
    {#- True for the listeners this run recomputes (int_user_refresh; everyone in a full build). -#}
    {{- refreshed(user_column, 'int_user_refresh', 'user_id', on_a_new_week) -}}
{%- endmacro %}

{% macro delete_refreshed_listeners(on_a_new_week=false) %}
    {#- Pre-hook: the rows of the listeners this run recomputes go, their new rows are appended. -#}
    {{- delete_refreshed('user_id', 'int_user_refresh', on_a_new_week) -}}
{% endmacro %}

{% macro per_listener_config() %}
    {{ return(per_key_config('user_id')) }}
{% endmacro %}

{#- Playlists (int_playlist_refresh). -#}

{% macro refreshed_playlist(playlist_column) %}
    {#- True for the playlists this run recomputes (int_playlist_refresh; every playlist in a full build). -#}
    {{- refreshed(playlist_column, 'int_playlist_refresh', 'playlist_id') -}}
{%- endmacro %}

{% macro delete_refreshed_playlists() %}
    {#-
        Pre-hook: the rows of the playlists this run recomputes go, and those of any playlist no
        longer in staging (gone, even in a gap between runs longer than the refresh history).
    -#}
    {{- delete_refreshed(
        'playlist_id', 'int_playlist_refresh',
        or_where='playlist_id not in (select playlists.playlist_id from ' ~ ref('stg_raw__playlists') ~ ' as playlists)'
    ) -}}
{% endmacro %}

{% macro per_playlist_config() %}
    {{ return(per_key_config('playlist_id')) }}
{% endmacro %}

{% macro prune_refresh_history() %}
    {#-
        Post-hook of int_user_refresh and int_playlist_refresh: the rows of runs older than two cycles are never read again.
        On BigQuery a delete of whole partitions by a constant filter of the partition column is
        a metadata operation that reads nothing.
    -#}
    {%- if is_incremental() %}
        delete from {{ this }}
        where run_date < cast('{{ days_after(run_date(), -2 * refresh_cycle_days()) }}' as date)
    {%- endif %}
{% endmacro %}
