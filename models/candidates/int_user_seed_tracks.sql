{#-
    The tracks a listener's recommendations start from: their long-term favourites (decayed
    affinity) and their recent favourites (streams over the last candidate_recent_days days),
    var candidate_seed_tracks of each, with a weight 0-1 relative to their best seed. Only the
    listeners the run recomputes (int_user_refresh), like every model up to the pool.
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
