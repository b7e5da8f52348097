{#-
    The tracks a listener's recommendations start from: their long-term favourites (decayed
    affinity) and their recent favourites (streams over the last candidate_recent_days days),
    var candidate_seed_tracks of each, with a weight 0-1 relative to their best seed. Only the
    listeners the run recomputes (int_user_refresh), like every model up to the pool.
    A returning listener, with no stream in those days (their history ended earlier), gets recent
    favourites anchored at their last active day: the tracks they streamed in the
    candidate_recent_days days up to it, weighted by affinity (from the lifetime state, so the
    daily tables are still read for the recent days only).
-#}

with

long_term as (
    select
        user_id,
        track_id,
        affinity_score as seed_strength
    from {{ ref('fct_user_track_affinity') }}
    where stream_count > 0 and affinity_score > 0 and {{ refreshed_listener('user_id') }}
),

recent as (
    select
        user_id,
        track_id,
        cast(sum(stream_count) as {{ type_double() }}) as seed_strength
    from {{ ref('fct_user_track_days') }}
    where
        {{ refreshed_listener('user_id') }}
        and {{ recent_days_filter('listened_date', var('candidate_recent_days')) }}
    group by user_id, track_id
    having sum(stream_count) > 0
),

recent_listeners as (
    select distinct user_id from recent
),

last_active as (
    select
        user_id,
        max(last_evidence_date) as last_active_date
    from {{ ref('fct_user_track_affinity') }}
    where stream_count > 0 and {{ refreshed_listener('user_id') }}
    group by user_id
),

returning_recent as (
    select
        affinity.user_id,
        affinity.track_id,
        affinity.affinity_score as seed_strength
    from {{ ref('fct_user_track_affinity') }} as affinity
    inner join last_active on affinity.user_id = last_active.user_id
    left join recent_listeners on affinity.user_id = recent_listeners.user_id
    where
        recent_listeners.user_id is null
        and affinity.stream_count > 0
        and affinity.affinity_score > 0
        and {{ days_between('affinity.last_evidence_date', 'last_active.last_active_date') }}
        < {{ var('candidate_recent_days') }}
),

both_kinds as (
    select
        'long_term_favourite' as seed_kind,
        *
    from long_term
    union all
    select
        'recent_favourite' as seed_kind,
        *
    from recent
    union all
    select
        'recent_favourite' as seed_kind,
        *
    from returning_recent
),

ranked as (
    select
        *,
        row_number() over (
            partition by user_id, seed_kind order by {{ comparable_float('seed_strength') }} desc, track_id asc
        ) as seed_rank,
        max(seed_strength) over (partition by user_id, seed_kind) as best_strength
    from both_kinds
),

final as (
    select
        user_id,
        seed_kind,
        track_id as seed_track_id,
        seed_rank,
        cast(seed_strength / best_strength as {{ type_double() }}) as seed_weight
    from ranked
    where seed_rank <= {{ var('candidate_seed_tracks') }}
)

select * from final
