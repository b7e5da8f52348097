{#-
    What each exposed listener did on each day they listened, from var experiment_pre_period_days
    (14) before their first exposure (the pre-period: CUPED's covariate) to the analysis end: plays,
    streams, skips and minutes (fct_user_track_days), streams of tracks For You had listed for them
    on or before that day (recommended_streams: int_experiment_served_tracks), and the artists they
    discovered that day that stuck by run_date (new_artists_stuck: fct_user_artist_familiarity).
-#}

{%- set pre_period_days = var('experiment_pre_period_days') %}

with

listeners as (
    select
        experiment_id,
        user_id,
        first_exposure_date,
        analysis_end_date,
        {{ dbt.dateadd('day', -pre_period_days, 'first_exposure_date') }} as pre_period_start_date
    from {{ ref('int_experiment_first_exposures') }}
),

first_listed as (
    select
        user_id,
        track_id,
        min(run_date) as first_listed_date
    from {{ ref('int_experiment_served_tracks') }}
    group by user_id, track_id
),

track_days as (
    select
        listeners.experiment_id,
        listeners.user_id,
        listened.listened_date,
        sum(listened.play_count) as play_count,
        sum(listened.stream_count) as stream_count,
        sum(listened.skip_count) as skip_count,
        sum(listened.ms_played) as ms_played,
        sum(case when listened.listened_date >= first_listed.first_listed_date then listened.stream_count else 0 end)
            as recommended_stream_count,
        0 as stuck_discovery_count
    from listeners
    inner join {{ ref('fct_user_track_days') }} as listened
        on
            listeners.user_id = listened.user_id
            and listeners.pre_period_start_date <= listened.listened_date
            and listeners.analysis_end_date >= listened.listened_date
    left join first_listed
        on listened.user_id = first_listed.user_id and listened.track_id = first_listed.track_id
    group by listeners.experiment_id, listeners.user_id, listened.listened_date
),

discovery_days as (
    select
        listeners.experiment_id,
        listeners.user_id,
        familiarity.first_listen_date as listened_date,
        0 as play_count,
        0 as stream_count,
        0 as skip_count,
        0 as ms_played,
        0 as recommended_stream_count,
        count(*) as stuck_discovery_count
    from listeners
    inner join {{ ref('fct_user_artist_familiarity') }} as familiarity
        on
            listeners.user_id = familiarity.user_id
            and listeners.pre_period_start_date <= familiarity.first_listen_date
            and listeners.analysis_end_date >= familiarity.first_listen_date
    where familiarity.is_discovery and familiarity.discovery_outcome = 'stuck'
    group by listeners.experiment_id, listeners.user_id, familiarity.first_listen_date
),

unioned as (
    select * from track_days
    union all
    select * from discovery_days
),

final as (
    select
        unioned.experiment_id,
        unioned.user_id,
        unioned.listened_date,
        unioned.listened_date >= listeners.first_exposure_date as is_post_exposure,
        sum(unioned.play_count) as play_count,
        sum(unioned.stream_count) as stream_count,
        sum(unioned.skip_count) as skip_count,
        sum(unioned.ms_played) as ms_played,
        sum(unioned.recommended_stream_count) as recommended_stream_count,
        sum(unioned.stuck_discovery_count) as stuck_discovery_count
    from unioned
    inner join listeners
        on unioned.experiment_id = listeners.experiment_id and unioned.user_id = listeners.user_id
    group by unioned.experiment_id, unioned.user_id, unioned.listened_date, listeners.first_exposure_date
)

select * from final
