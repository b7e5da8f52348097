{{ config(
    materialized='incremental',
    post_hook="{{ prune_refresh_history() }}",
    **incremental_by_date_config('run_date', ['run_date', 'user_id'])
) }}

{#-
    The listeners a run recomputes (candidates, ranking, pools, filters: the models that use
    macros/refresh.sql), one row per run_date and listener, with the first reason that applies:

      new_plays  plays on a day the run loads (the days since the previous run, and the late-data
                 lookback): their favourites, profile and filters moved;
      library    a track saved or an artist followed on one of those days;
      weekly     their day of the 7-day cycle (a hash of the id): every listener at least weekly,
                 so the world's changes (similar tracks, popularity, new releases, windows sliding
                 by) reach the ones who did not listen;
      stale      not recomputed on any of the 6 days before (a new listener, or missed runs);
      full       a full build, or var refresh_all_listeners: everyone.

    A rerun of a day gives the same set (it reads only earlier runs' rows); rows older than two
    cycles are pruned (macro prune_refresh_history), so the table stays small.
-#}

{%- set day = "cast('" ~ run_date() ~ "' as date)" %}
-- depends_on: {{ ref('fct_user_track_days') }}, {{ ref('stg_raw__saved_tracks') }}, {{ ref('stg_raw__follows') }}
{%- set everyone = not is_incremental() or var('refresh_all_listeners', false) %}

with

listeners as (
    select user_id from {{ ref('stg_raw__users') }}
    union distinct
    select user_id from {{ ref('int_user_track_affinity_state') }}
),

{% if not everyone %}
    earlier_runs as (
        select
            run_date,
            user_id
        from {{ this }}
        where
            run_date < {{ day }}
            and {{ days_between('run_date', day) }} <= 2 * {{ refresh_cycle_days() }}
    ),

    loaded_since as (
        -- The first day this run loads: the day after the previous run, or the lookback's start
        -- if that is earlier.
        select
            coalesce(
                least(max({{ dbt.dateadd('day', 1, 'run_date') }}), cast('{{ incremental_window_start() }}' as date)),
                cast('{{ incremental_window_start() }}' as date)
            ) as first_day
        from earlier_runs
    ),

    played as (
        select distinct track_days.user_id
        from {{ ref('fct_user_track_days') }} as track_days
        where
            track_days.listened_date <= {{ day }}
            and track_days.listened_date >= (select loaded_since.first_day from loaded_since)
    ),

    library as (
        select saved.user_id
        from {{ ref('stg_raw__saved_tracks') }} as saved
        where
            cast(saved.saved_at as date) <= {{ day }}
            and cast(saved.saved_at as date) >= (select loaded_since.first_day from loaded_since)
        union distinct
        select follows.user_id
        from {{ ref('stg_raw__follows') }} as follows
        where
            cast(follows.followed_at as date) <= {{ day }}
            and cast(follows.followed_at as date) >= (select loaded_since.first_day from loaded_since)
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
        refresh_reason
    from ranked
    where reason_rank = 1
)

select * from final
