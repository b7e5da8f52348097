{#- How much each track was streamed lately, overall and per listener country. -#}

with

recent_streams as (
    select
        listening_days.track_id,
        members.country_code,
        listening_days.user_id,
        listening_days.stream_count
    from {{ ref('fct_user_track_days') }} as listening_days
    inner join {{ ref('stg_raw__users') }} as members on listening_days.user_id = members.user_id
    where
        listening_days.stream_count > 0
        and {{ recent_days_filter('listening_days.listened_date', var('candidate_popular_days')) }}
),

per_country as (
    select
        track_id,
        country_code,
        sum(stream_count) as country_stream_count,
        count(distinct user_id) as country_listener_count
    from recent_streams
    group by track_id, country_code
),

overall as (
    select
        track_id,
        sum(country_stream_count) as stream_count,
        sum(country_listener_count) as listener_count
    from per_country
    group by track_id
),

final as (
    select
        per_country.track_id,
        per_country.country_code,
        cast(per_country.country_stream_count as {{ dbt.type_bigint() }}) as country_stream_count,
        cast(per_country.country_listener_count as {{ dbt.type_bigint() }}) as country_listener_count,
        cast(overall.stream_count as {{ dbt.type_bigint() }}) as stream_count,
        cast(overall.listener_count as {{ dbt.type_bigint() }}) as listener_count,
        cast(
            ln(1 + overall.stream_count) / ln(1 + max(overall.stream_count) over ())
            as {{ type_double() }}
        ) as popularity_prior
    from per_country
    inner join overall on per_country.track_id = overall.track_id
)

select * from final
