{{ config(materialized=inlined_in_batches()) }}

{#-
    Candidates: releases of the last candidate_new_release_days days by artists the listener
    follows or has as core artists. A followed artist counts more than a core one.
    On DuckDB computed by int_user_candidates batch by batch, never stored (macro
    inlined_in_batches); the batch's listeners are chosen here.
-#}

with

listener_artists as (
    select
        user_id,
        artist_id,
        max(artist_weight) as artist_weight
    from (
        select
            user_id,
            artist_id,
            1.0 as artist_weight
        from {{ ref('stg_raw__follows') }}
        where {{ refreshed_listener('user_id') }} and {{ listener_batch('user_id') }}
        union all
        select
            user_id,
            artist_id,
            0.8 as artist_weight
        from {{ ref('fct_user_artist_familiarity') }}
        where
            familiarity_tier = 'core' and {{ refreshed_listener('user_id') }} and {{ listener_batch('user_id') }}
    ) as followed_or_core
    group by user_id, artist_id
),

new_releases as (
    select
        track_id,
        artist_id,
        popularity
    from {{ ref('dim_tracks') }}
    where
        release_date <= cast('{{ run_date() }}' as date)
        and {{ days_between('release_date', "cast('" ~ run_date() ~ "' as date)") }}
        < {{ var('candidate_new_release_days') }}
),

final as (
    select
        listener_artists.user_id,
        new_releases.track_id,
        'new_releases' as candidate_source,
        cast(
            listener_artists.artist_weight * (1 + cast(new_releases.popularity as {{ type_double() }})) / 101
            as {{ type_double() }}
        ) as source_score,
        'artist' as seed_type,
        listener_artists.artist_id as seed_id
    from listener_artists
    inner join new_releases on listener_artists.artist_id = new_releases.artist_id
)

select * from final
