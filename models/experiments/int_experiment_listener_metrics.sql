{#-
    Each exposed listener's value of each experiment metric as of each day from their first
    exposure to the analysis end, with its pre-period value (CUPED's covariate), one row per
    experiment, listener, day and metric (macro experiment_metrics):
        recommended_streams  streams of tracks For You had listed for them, per day exposed
        streams              streams (plays of 30 s or more), per day exposed
        listening_minutes    minutes played, per day exposed
        new_artists_stuck    artists discovered since exposure that stuck by run_date, per day exposed
        skip_rate            skips / plays since exposure (null without a play)
    The covariate is the same measure over the var experiment_pre_period_days (14) days before the
    first exposure (skip_rate: null without a play then).
-#}

{%- set pre_period_days = var('experiment_pre_period_days') %}
{%- set double = type_double() %}

with

listeners as (
    select * from {{ ref('int_experiment_first_exposures') }}
),

listener_days as (
    select * from {{ ref('int_experiment_listener_days') }}
),

calendar as (
    select distinct listened_date as as_of_date
    from {{ ref('fct_user_track_days') }}
    where
        listened_date >= (select min(listeners.first_exposure_date) from listeners)
        and listened_date <= (select max(listeners.analysis_end_date) from listeners)
),

grid as (
    select
        listeners.experiment_id,
        listeners.user_id,
        listeners.variant,
        listeners.first_exposure_date,
        calendar.as_of_date
    from listeners
    inner join calendar
        on
            listeners.first_exposure_date <= calendar.as_of_date
            and listeners.analysis_end_date >= calendar.as_of_date
),

daily as (
    select
        grid.experiment_id,
        grid.user_id,
        grid.variant,
        grid.first_exposure_date,
        grid.as_of_date,
        coalesce(listener_days.play_count, 0) as play_count,
        coalesce(listener_days.stream_count, 0) as stream_count,
        coalesce(listener_days.skip_count, 0) as skip_count,
        coalesce(listener_days.ms_played, 0) as ms_played,
        coalesce(listener_days.recommended_stream_count, 0) as recommended_stream_count,
        coalesce(listener_days.stuck_discovery_count, 0) as stuck_discovery_count
    from grid
    left join listener_days
        on
            grid.experiment_id = listener_days.experiment_id
            and grid.user_id = listener_days.user_id
            and grid.as_of_date = listener_days.listened_date
),

cumulative as (
    select
        experiment_id,
        user_id,
        variant,
        as_of_date,
        {{ days_between('first_exposure_date', 'as_of_date') }} + 1 as exposed_days,
        sum(play_count) over listener_to_date as play_count,
        sum(stream_count) over listener_to_date as stream_count,
        sum(skip_count) over listener_to_date as skip_count,
        sum(ms_played) over listener_to_date as ms_played,
        sum(recommended_stream_count) over listener_to_date as recommended_stream_count,
        sum(stuck_discovery_count) over listener_to_date as stuck_discovery_count
    from daily
    window listener_to_date as (
        partition by experiment_id, user_id order by as_of_date rows between unbounded preceding and current row
    )
),

pre_period as (
    select
        experiment_id,
        user_id,
        sum(play_count) as play_count,
        sum(stream_count) as stream_count,
        sum(skip_count) as skip_count,
        sum(ms_played) as ms_played,
        sum(recommended_stream_count) as recommended_stream_count,
        sum(stuck_discovery_count) as stuck_discovery_count
    from listener_days
    where not is_post_exposure
    group by experiment_id, user_id
),

joined as (
    select
        cumulative.*,
        coalesce(pre_period.play_count, 0) as pre_play_count,
        coalesce(pre_period.stream_count, 0) as pre_stream_count,
        coalesce(pre_period.skip_count, 0) as pre_skip_count,
        coalesce(pre_period.ms_played, 0) as pre_ms_played,
        coalesce(pre_period.recommended_stream_count, 0) as pre_recommended_stream_count,
        coalesce(pre_period.stuck_discovery_count, 0) as pre_stuck_discovery_count
    from cumulative
    left join pre_period
        on cumulative.experiment_id = pre_period.experiment_id and cumulative.user_id = pre_period.user_id
),

{%- set per_day = {
    'recommended_streams': 'recommended_stream_count',
    'streams': 'stream_count',
    'listening_minutes': 'ms_played',
    'new_artists_stuck': 'stuck_discovery_count',
} %}

metrics as (
    {%- for metric in experiment_metrics() %}
        select
            experiment_id,
            user_id,
            variant,
            as_of_date,
            exposed_days,
            '{{ metric }}' as metric,
            {%- if metric == 'skip_rate' %}
                cast(skip_count as {{ double }}) / nullif(play_count, 0) as metric_value,
                cast(pre_skip_count as {{ double }}) / nullif(pre_play_count, 0) as covariate
            {%- else %}
                {%- set scale = ' / 60000.0' if metric == 'listening_minutes' else '' %}
                cast({{ per_day[metric] }} as {{ double }}){{ scale }} / exposed_days as metric_value,
                cast(pre_{{ per_day[metric] }} as {{ double }}){{ scale }} / {{ pre_period_days }} as covariate
            {%- endif %}
        from joined
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select * from metrics
