{{ config(
    materialized='incremental',
    pre_hook="{{ delete_refreshed_listeners() }}",
    **per_listener_config()
) }}

{#-
    How much each listener likes each track they have evidence on, as of run_date: the decayed
    listening evidence of the state, plus a standing bonus for a track in their library.

    Per listener (macros/refresh.sql): a daily run recomputes the listeners of int_user_refresh;
    the others keep the rows of their last refresh (as_of_date), at most a week old.
-#}
{%- set weights = var('affinity_weights') -%}

with

state as (
    select * from {{ ref('int_user_track_affinity_state') }}
    where
        last_evidence_date <= cast('{{ run_date() }}' as date)
        and {{ refreshed_listener('user_id') }}
),

saves as (
    select
        user_id,
        track_id
    from {{ ref('stg_raw__saved_tracks') }}
    where
        cast(saved_at as date) <= cast('{{ run_date() }}' as date)
        and {{ refreshed_listener('user_id') }}
),

tracks as (
    select
        track_id,
        artist_id
    from {{ ref('stg_raw__tracks') }}
),

combined as (
    select
        coalesce(state.user_id, saves.user_id) as user_id,
        coalesce(state.track_id, saves.track_id) as track_id,
        coalesce(
            state.affinity_score * {{ decay_factor('state.last_evidence_date', "cast('" ~ run_date() ~ "' as date)") }},
            0
        ) as listening_score,
        saves.user_id is not null as is_saved,
        coalesce(state.stream_count, 0) as stream_count,
        coalesce(state.skip_count, 0) as skip_count,
        coalesce(state.stream_days, 0) as stream_days,
        state.first_evidence_date,
        state.last_evidence_date
    from state
    full outer join saves
        on state.user_id = saves.user_id and state.track_id = saves.track_id
),

in_catalog as (
    select
        combined.*,
        tracks.artist_id
    from combined
    inner join tracks on combined.track_id = tracks.track_id
),

scored as (
    {{ affinity_scored('in_catalog', 'track_id', 'is_saved', weights['save']) }}
),

final as (
    select
        user_id,
        track_id,
        artist_id,
        cast(affinity_score as {{ type_double() }}) as affinity_score,
        cast(listening_score as {{ type_double() }}) as listening_score,
        is_saved,
        cast(stream_count as {{ dbt.type_bigint() }}) as stream_count,
        cast(skip_count as {{ dbt.type_bigint() }}) as skip_count,
        cast(stream_days as {{ dbt.type_bigint() }}) as stream_days,
        first_evidence_date,
        last_evidence_date,
        affinity_rank,
        as_of_date
    from scored
)

select * from final
