{{ config(
    materialized='incremental',
    **incremental_by_date_config('listened_date', ['event_id'])
) }}

{#-
    Every trusted play with its signals (stream, skip, completion) and its listening session.
    An incremental run reads the run's days plus the day before them, so that a session that
    started before midnight keeps its id; sessions longer than a day are cut at that horizon.
    It reads them by base_raw__listening_events' partition_date (a play's day of play), the days
    constants (macro incremental_first_day): on BigQuery, only those partitions.
-#}

{%- set first_day = incremental_first_day('listened_date') if is_incremental() else none %}

{%- set session_key -%}
    sessionized.user_id || '|' || cast({{ epoch_millis('sessionized.session_started_at') }} as {{ dbt.type_string() }})
{%- endset %}

{%- set play_columns = ['event_id', 'user_id', 'track_id', 'played_at', 'ms_played', 'context_type', 'context_id',
    'end_reason', 'is_shuffled', 'is_skipped', 'platform'] %}

with

plays_in_window as (
    -- Only the columns used: the windows below sort every row they keep.
    select {{ play_columns | join(', ') }} from {{ ref('stg_raw__listening_events') }}
    where
        {% if first_day -%}
            partition_date >= cast('{{ first_day }}' as date)
            and partition_date <= cast('{{ run_date() }}' as date)
            and
        {% endif -%}
        {{ incremental_date_filter('cast(played_at as date)', 'listened_date') }}
),

{% if is_incremental() %}
    window_first_day as (
        select min(cast(played_at as date)) as first_day from plays_in_window
    ),

    context_plays as (
        -- The day before the window: only to continue sessions across midnight.
        select {% for column in play_columns %}events.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
        from {{ ref('stg_raw__listening_events') }} as events
        cross join window_first_day
        where
            {{ days_between('cast(events.played_at as date)', 'window_first_day.first_day') }} = 1
            {%- if first_day %}
                -- The eve of first_day: when the first day with plays is later, its eve has none.
                and events.partition_date = cast('{{ days_after(first_day, -1) }}' as date)
            {%- endif %}
    ),
{% endif %}

plays as (
    select * from plays_in_window
    {% if is_incremental() %}
        union all
        select * from context_plays
    {% endif %}
),

tracks as (
    select
        track_id,
        artist_id,
        duration_ms
    from {{ ref('stg_raw__tracks') }}
),

with_previous as (
    select
        plays.*,
        lag(plays.played_at) over (
            partition by plays.user_id order by plays.played_at asc, plays.event_id asc
        ) as previous_played_at,
        lag(plays.ms_played) over (
            partition by plays.user_id order by plays.played_at asc, plays.event_id asc
        ) as previous_ms_played
    from plays
),

session_starts_marked as (
    select
        *,
        coalesce(
            {{ dbt.datediff('previous_played_at', 'played_at', 'second') }}
            - cast(previous_ms_played as {{ type_double() }}) / 1000
            > {{ var('session_gap_minutes') }} * 60,
            true
        ) as is_session_start
    from with_previous
),

sessionized as (
    select
        *,
        max(case when is_session_start then played_at end) over (
            partition by user_id order by played_at asc, event_id asc
            rows between unbounded preceding and current row
        ) as session_started_at
    from session_starts_marked
),

final as (
    select
        sessionized.event_id,
        sessionized.user_id,
        sessionized.track_id,
        tracks.artist_id,
        sessionized.played_at,
        cast(sessionized.played_at as date) as listened_date,
        sessionized.ms_played,
        case
            when tracks.duration_ms > 0
                then least(1.0, cast(sessionized.ms_played as {{ type_double() }}) / tracks.duration_ms)
        end as completion_ratio,
        sessionized.ms_played >= {{ var('stream_min_ms') }} as is_stream,
        (
            sessionized.is_skipped
            or sessionized.end_reason = 'fwdbtn'
            or sessionized.ms_played < {{ var('stream_min_ms') }}
        ) as is_skip,
        coalesce(
            cast(sessionized.ms_played as {{ type_double() }}) / nullif(tracks.duration_ms, 0)
            >= {{ var('completion_min_ratio') }},
            false
        ) as is_completed,
        sessionized.context_type,
        sessionized.context_id,
        sessionized.end_reason,
        sessionized.is_shuffled,
        sessionized.platform,
        {{ hash64(session_key) }} as session_id,
        sessionized.session_started_at,
        sessionized.is_session_start
    from sessionized
    inner join tracks on sessionized.track_id = tracks.track_id
    {% if is_incremental() %}
        where sessionized.event_id in (select w.event_id from plays_in_window as w)
    {% endif %}
)

select * from final
