{{ config(
    materialized='incremental',
    pre_hook="{{ delete_refreshed_listeners() }}",
    **per_listener_config()
) }}

{#-
    Share of each Camelot key in a listener's recent listening (same weights as the audio profile).

    Per listener (macros/refresh.sql): a daily run recomputes the listeners of int_user_refresh;
    the others keep the rows of their last refresh (as_of_date), at most a week old.
-#}

with

weighted_tracks as (
    select
        affinity.user_id,
        tracks.camelot_code,
        greatest(affinity.listening_score, 0) as listening_weight
    from {{ ref('fct_user_track_affinity') }} as affinity
    inner join {{ ref('dim_tracks') }} as tracks on affinity.track_id = tracks.track_id
    where
        affinity.listening_score > 0
        and tracks.camelot_code is not null
        and {{ refreshed_listener('affinity.user_id') }}
),

per_key as (
    select
        user_id,
        camelot_code,
        sum(listening_weight) as key_weight
    from weighted_tracks
    group by user_id, camelot_code
),

final as (
    select
        user_id,
        camelot_code,
        cast(key_weight / sum(key_weight) over (partition by user_id) as {{ type_double() }}) as listening_share,
        row_number() over (partition by user_id order by key_weight desc, camelot_code asc) as key_rank,
        cast('{{ run_date() }}' as date) as as_of_date
    from per_key
)

select * from final
