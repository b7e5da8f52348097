{{ config(
    materialized='incremental',
    pre_hook="{{ delete_refreshed_listeners() }}",
    **per_listener_config()
) }}

{#-
    How each listener explores, over the exploration_window_days before run_date:
    exploration propensity (share of their streams on artists they discovered in that window),
    how their discoveries turned out, and a generalist score (how evenly their streams spread
    over genres; 0 = one genre only, 1 = evenly over every genre of the catalog).

    Per listener (macros/refresh.sql): a daily run recomputes the listeners of int_user_refresh;
    the others keep the rows of their last refresh (as_of_date), at most a week old.
-#}

with

recent_days as (
    select * from {{ ref('fct_user_artist_days') }}
    where
        {{ recent_days_filter('listened_date', var('exploration_window_days')) }}
        and {{ refreshed_listener('user_id') }}
),

familiarity as (
    select * from {{ ref('fct_user_artist_familiarity') }}
    where {{ refreshed_listener('user_id') }}
),

artists as (
    select
        artist_id,
        genre
    from {{ ref('stg_raw__artists') }}
),

catalog_genres as (
    select count(distinct genre) as genre_count from artists
),

recent_streams as (
    select
        recent_days.user_id,
        recent_days.artist_id,
        artists.genre,
        recent_days.stream_count,
        familiarity.is_discovery
        and {{ days_between('familiarity.first_listen_date', "cast('" ~ run_date() ~ "' as date)") }}
        < {{ var('exploration_window_days') }} as is_new_artist
    from recent_days
    inner join familiarity
        on recent_days.user_id = familiarity.user_id and recent_days.artist_id = familiarity.artist_id
    inner join artists on recent_days.artist_id = artists.artist_id
),

exploration as (
    select
        user_id,
        sum(stream_count) as recent_stream_count,
        sum(case when is_new_artist then stream_count else 0 end) as new_artist_stream_count
    from recent_streams
    group by user_id
),

genre_shares as (
    select
        user_id,
        genre,
        cast(sum(stream_count) as {{ type_double() }})
        / nullif(sum(sum(stream_count)) over (partition by user_id), 0) as genre_share
    from recent_streams
    group by user_id, genre
),

spread as (
    select
        genre_shares.user_id,
        -sum(case when genre_shares.genre_share > 0 then genre_shares.genre_share * ln(genre_shares.genre_share) end)
        / nullif(ln(max(catalog_genres.genre_count)), 0) as generalist_score
    from genre_shares
    cross join catalog_genres
    group by genre_shares.user_id
),

discoveries as (
    select
        user_id,
        sum(case when discovery_outcome is not null then 1 else 0 end) as discovery_count,
        sum(case when discovery_outcome = 'stuck' then 1 else 0 end) as stuck_discovery_count,
        sum(case when discovery_outcome in ('stuck', 'did_not_stick') then 1 else 0 end) as decided_discovery_count
    from familiarity
    group by user_id
),

final as (
    select
        discoveries.user_id,
        cast(
            cast(exploration.new_artist_stream_count as {{ type_double() }})
            / nullif(exploration.recent_stream_count, 0) as {{ type_double() }}
        ) as exploration_propensity,
        cast(coalesce(spread.generalist_score, 0) as {{ type_double() }}) as generalist_score,
        cast(coalesce(exploration.recent_stream_count, 0) as {{ dbt.type_bigint() }}) as recent_stream_count,
        cast(discoveries.discovery_count as {{ dbt.type_bigint() }}) as discovery_count,
        cast(discoveries.stuck_discovery_count as {{ dbt.type_bigint() }}) as stuck_discovery_count,
        cast(
            cast(discoveries.stuck_discovery_count as {{ type_double() }})
            / nullif(discoveries.decided_discovery_count, 0) as {{ type_double() }}
        ) as discovery_stick_rate,
        cast('{{ run_date() }}' as date) as as_of_date
    from discoveries
    left join exploration on discoveries.user_id = exploration.user_id
    left join spread on discoveries.user_id = spread.user_id
)

select * from final
