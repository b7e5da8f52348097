{#-
    Every track a listener has heard, one row per listener and track: the tracks they ever
    played (streamed or skipped) and the tracks served to them lately (Discover Weekly lists of
    the last bloom_served_weeks weeks). The Bloom filters of serving_bloom_filters are built from it.
-#}

with

affinity_state as (
    select
        user_id,
        track_id
    from {{ ref('int_user_track_affinity_state') }}
    where {{ refreshed_listener('user_id', on_a_new_week=true) }}
),

played as (
    select
        user_id,
        track_id,
        'played' as heard_reason,
        1 as reason_priority
    from affinity_state
),

served as (
    -- Discover Weekly lists of the last bloom_served_weeks weeks, this week's included.
    select
        user_id,
        track_id,
        'served' as heard_reason,
        2 as reason_priority
    from {{ ref('fct_discover_weekly') }}
    where
        {{ refreshed_listener('user_id', on_a_new_week=true) }}
        -- constants: BigQuery reads only these weeks' partitions
        and week_start <= cast('{{ run_week_start() }}' as date)
        and week_start > cast('{{ days_after(run_week_start(), -7 * var("bloom_served_weeks")) }}' as date)
),

heard as (
    select * from played
    union all
    select * from served
),

final as (
    -- A GROUP BY, not a window over every row: a track both played and served counts as played.
    select
        user_id,
        track_id,
        case min(reason_priority) when 1 then 'played' else 'served' end as heard_reason
    from heard
    group by user_id, track_id
)

select * from final
