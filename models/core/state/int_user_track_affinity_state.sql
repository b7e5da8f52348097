{{ config(
    materialized='incremental',
    **incremental_by_key_config(['user_id', 'track_id'])
) }}

{#-
    Listening evidence per listener and track, decayed to the last day with evidence. Because
    the decay is exponential, yesterday's state decayed by the days since, plus the new days'
    evidence decayed to the new last day, is exactly the full-history sum: a daily run reads
    only the run's days and the touched rows of the state.
-#}

{%- set weights = var('affinity_weights') -%}

with

new_days as (
    select * from {{ ref('fct_user_track_days') }}
    where {{ incremental_date_filter('listened_date', 'last_evidence_date') }}
),

{{ incremental_state_previous('new_days', ['user_id', 'track_id']) }}

daily_evidence as (
    select
        new_days.user_id,
        new_days.track_id,
        new_days.artist_id,
        new_days.listened_date as evidence_date,
        new_days.stream_count,
        new_days.skip_count,
        {{ weights['stream'] }} * new_days.stream_count
        + {{ weights['completion'] }} * new_days.completion_count
        + {{ weights['replay'] }} * greatest(new_days.stream_count - 1, 0)
        + {{ weights['skip'] }} * new_days.skip_count as evidence
    from new_days
    {{ incremental_state_unfolded('new_days', ['user_id', 'track_id'], 'listened_date', 'last_evidence_date') }}
),

with_last_day as (
    select
        *,
        max(evidence_date) over (partition by user_id, track_id) as last_day
    from daily_evidence
),

folded as (
    select
        user_id,
        track_id,
        artist_id,
        min(evidence_date) as first_day,
        max(last_day) as last_day,
        sum(evidence * {{ decay_factor('evidence_date', 'last_day') }}) as score,
        sum(stream_count) as stream_count,
        sum(skip_count) as skip_count,
        sum(case when stream_count > 0 then 1 else 0 end) as stream_days
    from with_last_day
    group by user_id, track_id, artist_id
),

final as (
    select
        folded.user_id,
        folded.track_id,
        folded.artist_id,
        cast(
            folded.score
            {% if is_incremental() %}
                + coalesce(
                    previous.affinity_score * {{ decay_factor('previous.last_evidence_date', 'folded.last_day') }},
                    0
                )
            {% endif %}
            as {{ type_double() }}
        ) as affinity_score,
        {{ incremental_state_first('first_evidence_date', 'first_day') }},
        {{ incremental_state_sum('stream_count') }},
        {{ incremental_state_sum('skip_count') }},
        {{ incremental_state_sum('stream_days') }},
        folded.last_day as last_evidence_date
    from folded
    {{ incremental_state_join('folded', ['user_id', 'track_id']) }}
)

select * from final
