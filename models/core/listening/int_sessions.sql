{{ config(
    materialized='incremental',
    pre_hook="{{ delete_replaced_sessions() }}",
    post_hook="{{ delete_merged_sessions() }}",
    **incremental_by_key_in_days_config(['session_id'], 'last_listened_date')
) }}

{#-
    One row per listening session. A daily run rebuilds the sessions its days touch, reading
    their plays from the day before the window on (a session never spans more than that, see
    int_plays_sessionized), so its cost follows the day's plays. A late play can close the gap
    between two sessions of the window: the later one is then part of the earlier, and the
    post-hook deletes its row (macro delete_merged_sessions). Every read is by day, the days
    constants (macro incremental_first_day): on BigQuery, partitions.
-#}

{%- set first_day = incremental_first_day('last_listened_date') if is_incremental() else none %}
{#- The columns used: `plays` is read twice, and DuckDB keeps a CTE read twice whole. #}
{%- set play_columns = ['session_id', 'user_id', 'played_at', 'listened_date', 'context_type', 'is_stream',
    'is_skip', 'ms_played', 'track_id', 'artist_id'] %}

with

{% if is_incremental() %}
    window_plays as (
        select
            session_id,
            listened_date
        from {{ ref('int_plays_sessionized') }}
        where {{ incremental_date_filter('listened_date', 'last_listened_date') }}
    ),

    touched_sessions as (
        select distinct session_id from window_plays
    ),

    window_start as (
        select min(listened_date) as first_day from window_plays
    ),

    plays as (
        -- All plays of the touched sessions: they began at most a day before the window.
        select {% for column in play_columns %}plays.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
        from {{ ref('int_plays_sessionized') }} as plays
        inner join touched_sessions on plays.session_id = touched_sessions.session_id
        cross join window_start
        where
            {{ days_between('plays.listened_date', 'window_start.first_day') }} <= 1
            and plays.listened_date <= cast('{{ run_date() }}' as date)
            {%- if first_day %}
                and plays.listened_date >= cast('{{ days_after(first_day, -1) }}' as date)
            {%- endif %}
    ),
{% else %}
    plays as (
        select {{ play_columns | join(', ') }} from {{ ref('int_plays_sessionized') }}
        where listened_date <= cast('{{ run_date() }}' as date)
    ),
{% endif %}

context_plays as (
    select
        session_id,
        context_type,
        count(*) as context_play_count
    from plays
    group by session_id, context_type
),

ranked_contexts as (
    select
        session_id,
        context_type,
        row_number() over (
            partition by session_id order by context_play_count desc, context_type asc
        ) as context_rank
    from context_plays
),

main_contexts as (
    select
        session_id,
        context_type as main_context_type
    from ranked_contexts
    where context_rank = 1
),

aggregated as (
    select
        session_id,
        user_id,
        min(played_at) as session_started_at,
        max(played_at) as last_play_started_at,
        max(listened_date) as last_listened_date,
        count(*) as play_count,
        sum(case when is_stream then 1 else 0 end) as stream_count,
        sum(case when is_skip then 1 else 0 end) as skip_count,
        sum(ms_played) as ms_played,
        count(distinct track_id) as distinct_track_count,
        count(distinct artist_id) as distinct_artist_count
    from plays
    group by session_id, user_id
),

final as (
    select
        aggregated.session_id,
        aggregated.user_id,
        aggregated.session_started_at,
        aggregated.last_play_started_at,
        aggregated.last_listened_date,
        main_contexts.main_context_type,
        cast(aggregated.play_count as {{ dbt.type_bigint() }}) as play_count,
        cast(aggregated.stream_count as {{ dbt.type_bigint() }}) as stream_count,
        cast(aggregated.skip_count as {{ dbt.type_bigint() }}) as skip_count,
        cast(aggregated.ms_played as {{ dbt.type_bigint() }}) as ms_played,
        cast(aggregated.distinct_track_count as {{ dbt.type_bigint() }}) as distinct_track_count,
        cast(aggregated.distinct_artist_count as {{ dbt.type_bigint() }}) as distinct_artist_count
    from aggregated
    inner join main_contexts on aggregated.session_id = main_contexts.session_id
)

select * from final
{{ in_date_order('last_listened_date') }}
