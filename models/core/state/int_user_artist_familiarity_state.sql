{{ config(
    materialized='incremental',
    **incremental_by_key_config(['user_id', 'artist_id'])
) }}

{#-
    Lifetime counters of each listener with each artist, updated in place: a daily run reads
    only the run's rows of fct_user_artist_days and the state rows they touch. Days already
    folded in (on or before last_listen_date) are skipped, so a rerun changes nothing.
-#}

with

new_days as (
    select * from {{ ref('fct_user_artist_days') }}
    where {{ incremental_date_filter('listened_date', 'last_listen_date') }}
),

{{ incremental_state_previous('new_days', ['user_id', 'artist_id']) }}

unfolded_days as (
    select
        new_days.user_id,
        new_days.artist_id,
        new_days.listened_date,
        new_days.stream_count,
        {% if is_incremental() %}
            coalesce(
                previous.first_listen_date,
                min(new_days.listened_date) over (partition by new_days.user_id, new_days.artist_id)
            )
        {% else %}
            min(new_days.listened_date) over (partition by new_days.user_id, new_days.artist_id)
        {% endif %} as first_listen_date
    from new_days
    {{ incremental_state_unfolded('new_days', ['user_id', 'artist_id'], 'listened_date', 'last_listen_date') }}
),

folded as (
    select
        user_id,
        artist_id,
        min(first_listen_date) as first_listen_date,
        min(case when stream_count > 0 then listened_date end) as first_stream_date,
        max(listened_date) as last_listen_date,
        max(case when stream_count > 0 then listened_date end) as last_stream_date,
        sum(stream_count) as stream_count,
        sum(case when stream_count > 0 then 1 else 0 end) as stream_days,
        count(*) as play_days,
        sum(
            case
                when
                    stream_count > 0
                    and listened_date > first_listen_date
                    and {{ days_between('first_listen_date', 'listened_date') }} <= {{ var('discovery_window_days') }}
                    then 1
                else 0
            end
        ) as return_stream_days
    from unfolded_days
    group by user_id, artist_id
),

final as (
    select
        folded.user_id,
        folded.artist_id,
        folded.first_listen_date,
        {{ incremental_state_first('first_stream_date') }},
        folded.last_listen_date,
        {% if is_incremental() %}
            coalesce(folded.last_stream_date, previous.last_stream_date) as last_stream_date,
        {% else %}
            folded.last_stream_date,
        {% endif %}
        {{ incremental_state_sum('stream_count') }},
        {{ incremental_state_sum('stream_days') }},
        {{ incremental_state_sum('play_days') }},
        {{ incremental_state_sum('return_stream_days') }}
    from folded
    {{ incremental_state_join('folded', ['user_id', 'artist_id']) }}
)

select * from final
