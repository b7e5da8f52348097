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

{% if is_incremental() %}
    touched as (
        select distinct
            user_id,
            track_id
        from new_days
    ),

    previous as (
        select state.*
        from {{ this }} as state
        inner join touched
            on state.user_id = touched.user_id and state.track_id = touched.track_id
    ),
{% endif %}

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
    {% if is_incremental() %}
        left join previous
            on new_days.user_id = previous.user_id and new_days.track_id = previous.track_id
        -- A rerun of a day already folded into the state adds nothing.
        where previous.last_evidence_date is null or new_days.listened_date > previous.last_evidence_date
    {% endif %}
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
        {% if is_incremental() %}
            coalesce(previous.first_evidence_date, folded.first_day) as first_evidence_date,
            cast(coalesce(previous.stream_count, 0) + folded.stream_count as {{ dbt.type_bigint() }}) as stream_count,
            cast(coalesce(previous.skip_count, 0) + folded.skip_count as {{ dbt.type_bigint() }}) as skip_count,
            cast(coalesce(previous.stream_days, 0) + folded.stream_days as {{ dbt.type_bigint() }}) as stream_days,
        {% else %}
            folded.first_day as first_evidence_date,
            cast(folded.stream_count as {{ dbt.type_bigint() }}) as stream_count,
            cast(folded.skip_count as {{ dbt.type_bigint() }}) as skip_count,
            cast(folded.stream_days as {{ dbt.type_bigint() }}) as stream_days,
        {% endif %}
        folded.last_day as last_evidence_date
    from folded
    {% if is_incremental() %}
        left join previous
            on folded.user_id = previous.user_id and folded.track_id = previous.track_id
    {% endif %}
)

select * from final
