{#-
    What the serving shim answers for a listener's surfaces on run_date: one row per listener,
    surface and position. discover_weekly: the week's list (fct_discover_weekly, week of
    run_date); for_you: the top for_you_size of fct_user_recommendations, with the score it ranks by
    (for_you_score: the listener's variant's in a running experiment), and the experiment and
    variant that decided the surface's order (null when none did: the shim says them in its
    response and logs the exposure). Tracks of dim_tracks only; their display fields are in
    serving_tracks.
-#}

with

discover_weekly as (
    select
        user_id,
        'discover_weekly' as surface,
        playlist_position as surface_position,
        track_id,
        score,
        is_new_artist,
        reason_codes,
        seed_type,
        seed_id,
        cast(null as {{ dbt.type_string() }}) as experiment_id,
        cast(null as {{ dbt.type_string() }}) as variant
    from {{ ref('fct_discover_weekly') }}
    where week_start = cast('{{ run_week_start() }}' as date)
),

for_you as (
    select
        user_id,
        'for_you' as surface,
        recommendation_rank as surface_position,
        track_id,
        for_you_score as score,
        is_new_artist,
        reason_codes,
        seed_type,
        seed_id,
        experiment_id,
        variant
    from {{ ref('fct_user_recommendations') }}
    where recommendation_rank <= {{ var('for_you_size') }}
),

surfaces as (
    select * from discover_weekly
    union all
    select * from for_you
),

final as (
    select
        surfaces.user_id,
        surfaces.surface,
        cast(surfaces.surface_position as {{ dbt.type_bigint() }}) as surface_position,
        surfaces.track_id,
        cast(surfaces.score as {{ type_double() }}) as score,
        surfaces.is_new_artist,
        surfaces.reason_codes,
        surfaces.seed_type,
        surfaces.seed_id,
        surfaces.experiment_id,
        surfaces.variant,
        cast('{{ run_week_start() }}' as date) as week_start,
        cast('{{ run_date() }}' as date) as run_date
    from surfaces
    -- dim_tracks: only tracks with display fields (serving_tracks)
    inner join {{ ref('dim_tracks') }} as tracks on surfaces.track_id = tracks.track_id
)

select * from final
