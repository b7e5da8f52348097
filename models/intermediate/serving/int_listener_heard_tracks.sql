{#-
    Every track a listener has heard, one row per listener and track: the tracks they ever
    played (streamed or skipped) and, later, the tracks served to them lately. The Bloom filters
    of serving_bloom_filters are built from it.
-#}

with

affinity_state as (
    select
        user_id,
        track_id
    from {{ ref('int_user_track_affinity_state') }}
),

played as (
    select
        user_id,
        track_id,
        'played' as heard_reason,
        1 as reason_priority
    from affinity_state
),

-- ============================================================================================
-- served: EMPTY FOR NOW. To be filled with the tracks served to each listener in the last N
-- weeks (Discover Weekly and the other surfaces) once those tables exist. Same columns; a
-- track both played and served keeps heard_reason 'played' (lower reason_priority wins).
-- ============================================================================================
served as (
    select
        user_id,
        track_id,
        'served' as heard_reason,
        2 as reason_priority
    from played
    where false
),

heard as (
    select * from played
    union all
    select * from served
),

ranked as (
    select
        user_id,
        track_id,
        heard_reason,
        row_number() over (partition by user_id, track_id order by reason_priority) as reason_rank
    from heard
),

final as (
    select
        user_id,
        track_id,
        heard_reason
    from ranked
    where reason_rank = 1
)

select * from final
