{{ config(
    materialized='incremental',
    pre_hook="{{ delete_refreshed_listeners() }}",
    **per_listener_config()
) }}

{#-
    What a listener's music sounds like, as of run_date, weighted by their recent listening
    (the positive part of each track's decayed listening score, so skipped tracks weigh nothing).

    Per listener (macros/refresh.sql): a daily run recomputes the listeners of int_user_refresh;
    the others keep the rows of their last refresh (as_of_date), at most a week old.
-#}

with

weighted_tracks as (
    select
        affinity.user_id,
        tracks.tempo_bpm,
        {{ fold_tempo('tracks.tempo_bpm') }} as folded_tempo_bpm,
        tracks.energy,
        tracks.valence,
        tracks.danceability,
        greatest(affinity.listening_score, 0) as listening_weight
    from {{ ref('fct_user_track_affinity') }} as affinity
    inner join {{ ref('dim_tracks') }} as tracks on affinity.track_id = tracks.track_id
    where
        affinity.listening_score > 0
        and {{ refreshed_listener('affinity.user_id') }}
),

centres as (
    select
        user_id,
        sum(listening_weight) as total_weight,
        {{ weighted_mean('folded_tempo_bpm', 'listening_weight') }} as tempo_centre_bpm,
        {{ weighted_mean('energy', 'listening_weight') }} as energy_centre,
        {{ weighted_mean('valence', 'listening_weight') }} as valence_centre,
        {{ weighted_mean('danceability', 'listening_weight') }} as danceability_centre,
        count(*) as weighted_track_count
    from weighted_tracks
    group by user_id
),

spreads as (
    select
        weighted_tracks.user_id,
        sqrt({{ weighted_mean(
            'power(weighted_tracks.folded_tempo_bpm - centres.tempo_centre_bpm, 2)',
            'weighted_tracks.listening_weight'
        ) }}) as tempo_spread_bpm
    from weighted_tracks
    inner join centres on weighted_tracks.user_id = centres.user_id
    group by weighted_tracks.user_id
),

final as (
    select
        centres.user_id,
        cast(centres.tempo_centre_bpm as {{ type_double() }}) as tempo_centre_bpm,
        cast(spreads.tempo_spread_bpm as {{ type_double() }}) as tempo_spread_bpm,
        cast(centres.energy_centre as {{ type_double() }}) as energy_centre,
        cast(centres.valence_centre as {{ type_double() }}) as valence_centre,
        cast(centres.danceability_centre as {{ type_double() }}) as danceability_centre,
        cast(centres.weighted_track_count as {{ dbt.type_bigint() }}) as weighted_track_count,
        cast('{{ run_date() }}' as date) as as_of_date
    from centres
    inner join spreads on centres.user_id = spreads.user_id
)

select * from final
