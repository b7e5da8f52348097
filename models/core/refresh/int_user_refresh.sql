{{ config(
    materialized='incremental',
    post_hook="{{ prune_refresh_history() }}",
    **incremental_by_date_config('run_date', ['run_date', 'user_id'])
) }}

{#-
    The listeners a run recomputes (lifetime states, candidates, ranking, filters: the models that
    use macros/refresh.sql), one row per run_date and listener, with the first reason that applies:

      new_plays  plays the previous run did not see: of the days since it, or of the late-data
                 lookback's days but loaded after it started (late plays): their favourites,
                 profile and filters moved;
      library    a track saved or an artist followed on the days since the previous run;
      weekly     their day of the 7-day cycle (a hash of the id): every listener at least weekly,
                 so the world's changes (similar tracks, popularity, new releases, windows sliding
                 by) reach the ones who did not listen;
      stale      not recomputed on any of the 6 days before (a new listener, or missed runs);
      full       a full build, or var refresh_all_listeners: everyone.

    A rerun of a day gives the same set (it reads only earlier runs' rows); rows older than two
    cycles are pruned (macro prune_refresh_history), so the table stays small.
-#}

{%- set day = "cast('" ~ run_date() ~ "' as date)" %}
-- depends_on: {{ ref('stg_raw__listening_events') }}, {{ ref('stg_raw__saved_tracks') }}, {{ ref('stg_raw__follows') }}
{%- set everyone = not is_incremental() or var('refresh_all_listeners', false) %}
{#-
    The days this run reads, as constants (BigQuery prunes partitions on constants only): earlier
    runs from two cycles back; plays, saves and follows from the day after the previous run (looked
    up when the model compiles) or the lookback's start, whichever is earlier. In a unit test,
    whose `this` is a fixture, only the SQL below bounds them.
-#}
{%- set earliest_run = days_after(run_date(), -2 * refresh_cycle_days()) %}
{%- set first_read_day = none %}
{%- if not everyone and execute and not in_unit_test() %}
    {%- set previous_day = last_loaded_day('run_date', "run_date < " ~ day) %}
    {%- set first_read_day = incremental_window_start() if previous_day is none
        else [days_after(previous_day, 1), incremental_window_start()] | min %}
{%- endif %}

with

listeners as (
    -- The known listeners and anyone with listening evidence: the listeners of
    -- int_user_track_affinity_state, from what it folds (it reads this model).
    select user_id from {{ ref('stg_raw__users') }}
    union distinct
    select user_id from {{ ref('int_user_track_affinity_settled') }}
    union distinct
    select user_id from {{ ref('fct_user_track_days') }}
    where {{ open_days_filter('listened_date') }}
),

{% if not everyone %}
    earlier_runs as (
        select
            run_date,
            user_id,
            run_started_at
        from {{ this }}
        where
            run_date < {{ day }}
            and run_date >= cast('{{ earliest_run }}' as date)
    ),

    previous_run as (
        select
            max(run_date) as run_date,
            max(run_started_at) as run_started_at
        from earlier_runs
    ),

    loaded_since as (
        -- The first day this run loads: the day after the previous run, or the lookback's start
        -- if that is earlier (a run on the day after a full build also starts there).
        select
            coalesce(
                least(
                    {{ dbt.dateadd('day', 1, 'previous_run.run_date') }},
                    cast('{{ incremental_window_start() }}' as date)
                ),
                cast('{{ incremental_window_start() }}' as date)
            ) as first_day,
            previous_run.run_date as previous_day,
            previous_run.run_started_at as previous_started_at
        from previous_run
    ),

    played as (
        -- Plays of the days since the previous run, and late plays: of the days it had already
        -- loaded, but loaded after it started.
        select distinct events.user_id
        from {{ ref('stg_raw__listening_events') }} as events
        cross join loaded_since
        where
            cast(events.played_at as date) <= {{ day }}
            and cast(events.played_at as date) >= loaded_since.first_day
            {%- if first_read_day is not none %}
                -- the same days as constants: an accepted play is filed under its day of play
                and events.partition_date >= cast('{{ first_read_day }}' as date)
                and events.partition_date <= {{ day }}
            {%- endif %}
            and (
                loaded_since.previous_day is null
                or cast(events.played_at as date) > loaded_since.previous_day
                or events.loaded_at > loaded_since.previous_started_at
            )
    ),

    library as (
        -- Saves and follows of the days since the previous run.
        select saved.user_id
        from {{ ref('stg_raw__saved_tracks') }} as saved
        cross join loaded_since
        where
            cast(saved.saved_at as date) <= {{ day }}
            and cast(saved.saved_at as date) >= loaded_since.first_day
            and (loaded_since.previous_day is null or cast(saved.saved_at as date) > loaded_since.previous_day)
        union distinct
        select follows.user_id
        from {{ ref('stg_raw__follows') }} as follows
        cross join loaded_since
        where
            cast(follows.followed_at as date) <= {{ day }}
            and cast(follows.followed_at as date) >= loaded_since.first_day
            and (loaded_since.previous_day is null or cast(follows.followed_at as date) > loaded_since.previous_day)
    ),

    recently_refreshed as (
        select distinct user_id
        from earlier_runs
        where {{ days_between('run_date', day) }} < {{ refresh_cycle_days() }}
    ),
{% endif %}

reasons as (
    {% if everyone %}
        select
            user_id,
            'full' as refresh_reason,
            0 as priority
        from listeners
    {% else %}
        select
            user_id,
            'new_plays' as refresh_reason,
            1 as priority
        from played
        union all
        select
            user_id,
            'library' as refresh_reason,
            2 as priority
        from library
        union all
        select
            user_id,
            'weekly' as refresh_reason,
            3 as priority
        from listeners
        where {{ refresh_bucket('user_id') }} = {{ refresh_cycle_day() }}
        union all
        select
            listeners.user_id,
            'stale' as refresh_reason,
            4 as priority
        from listeners
        left join recently_refreshed on listeners.user_id = recently_refreshed.user_id
        where recently_refreshed.user_id is null
    {% endif %}
),

ranked as (
    select
        user_id,
        refresh_reason,
        row_number() over (partition by user_id order by priority) as reason_rank
    from reasons
),

final as (
    select
        {{ day }} as run_date,
        user_id,
        refresh_reason,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }}) as run_started_at
    from ranked
    where reason_rank = 1
)

select * from final
