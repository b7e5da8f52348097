{{ config(
    materialized='incremental',
    pre_hook="{{ delete_refreshed_listeners() }}",
    **per_listener_config()
) }}

{#-
    One row per listener: the few facts of their taste an analyst tracks over time (snapshot
    snap_user_taste_profiles keeps the history). Values are rounded so that the snapshot
    records real changes of taste, not floating-point noise.

    Per listener (macros/refresh.sql): a daily run recomputes the listeners of int_user_refresh;
    the others keep the rows of their last refresh (as_of_date), at most a week old.
-#}

with

genre_weights as (
    select
        affinity.user_id,
        tracks.genre,
        sum(greatest(affinity.listening_score, 0)) as genre_weight
    from {{ ref('fct_user_track_affinity') }} as affinity
    inner join {{ ref('dim_tracks') }} as tracks on affinity.track_id = tracks.track_id
    where {{ refreshed_listener('affinity.user_id') }}
    group by affinity.user_id, tracks.genre
),

ranked_genres as (
    select
        user_id,
        genre,
        row_number() over (partition by user_id order by genre_weight desc, genre asc) as genre_rank
    from genre_weights
    where genre_weight > 0
),

top_genres as (
    select
        user_id,
        max(case when genre_rank = 1 then genre end) as top_genre,
        max(case when genre_rank = 2 then genre end) as second_genre,
        max(case when genre_rank = 3 then genre end) as third_genre
    from ranked_genres
    group by user_id
),

users as (
    select user_id from {{ ref('stg_raw__users') }}
    where {{ refreshed_listener('user_id') }}
),

final as (
    select
        users.user_id,
        top_genres.top_genre,
        top_genres.second_genre,
        top_genres.third_genre,
        cast({{ round_half_up("profile.tempo_centre_bpm", 0) }} as {{ dbt.type_bigint() }}) as tempo_centre_bpm,
        cast({{ round_half_up("profile.energy_centre", 2) }} as {{ type_double() }}) as energy_centre,
        cast(
            {{ round_half_up("exploration.exploration_propensity", 2) }} as {{ type_double() }}
        ) as exploration_propensity,
        cast({{ round_half_up("exploration.generalist_score", 2) }} as {{ type_double() }}) as generalist_score,
        cast('{{ run_date() }}' as date) as as_of_date
    from users
    left join top_genres on users.user_id = top_genres.user_id
    left join {{ ref('fct_user_audio_profile') }} as profile on users.user_id = profile.user_id
    left join {{ ref('fct_user_exploration') }} as exploration on users.user_id = exploration.user_id
)

select * from final
