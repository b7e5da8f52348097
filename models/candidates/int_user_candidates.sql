{#-
    Each listener's candidate pool: every source's candidates, one row per listener and track,
    without the tracks the listener ever streamed (an exact anti-join), capped at
    candidate_pool_size by taste score. taste_score blends the sources: each source's score is
    scaled to 0-1 within the listener (1 = the source's best candidate for them) and weighted by
    var candidate_source_weights.
-#}

{%- set source_weights = var('candidate_source_weights') %}

with

all_sources as (
    select * from {{ ref('int_candidates_from_similar_tracks') }}
    union all
    select * from {{ ref('int_candidates_from_similar_artists') }}
    union all
    select * from {{ ref('int_candidates_from_new_releases') }}
    union all
    select * from {{ ref('int_candidates_from_popular') }}
),

ever_streamed as (
    select
        user_id,
        track_id
    from {{ ref('int_user_track_affinity_state') }}
    where stream_count > 0 and {{ refreshed_listener('user_id') }}
),

unheard as (
    select all_sources.*
    from all_sources
    left join ever_streamed
        on all_sources.user_id = ever_streamed.user_id and all_sources.track_id = ever_streamed.track_id
    where ever_streamed.track_id is null
),

weighted as (
    select
        *,
        case candidate_source
            {%- for source_name, weight in source_weights.items() %}
                when '{{ source_name }}' then {{ weight }}
            {%- endfor %}
        end
        * source_score / max(source_score) over (partition by user_id, candidate_source) as weighted_score
    from unheard
),

per_track as (
    select
        *,
        sum(weighted_score) over (partition by user_id, track_id) as summed_score,
        count(*) over (partition by user_id, track_id) as source_count,
        row_number() over (
            partition by user_id, track_id order by {{ comparable_float('weighted_score') }} desc, candidate_source asc
        ) as source_order
    from weighted
),

pooled as (
    select
        *,
        row_number() over (
            partition by user_id order by {{ comparable_float('summed_score') }} desc, track_id asc
        ) as pool_rank
    from per_track
    where source_order = 1
),

source_lists as (
    select
        user_id,
        track_id,
        {{ dbt.listagg('candidate_source', "','", 'order by candidate_source') }} as candidate_sources
    from per_track
    group by user_id, track_id
),

final as (
    select
        pooled.user_id,
        pooled.track_id,
        cast(pooled.pool_rank as {{ dbt.type_bigint() }}) as pool_rank,
        cast(
            pooled.summed_score / {{ source_weights.values() | sum }} as {{ type_double() }}
        ) as taste_score,
        pooled.candidate_source as best_source,
        pooled.seed_type,
        pooled.seed_id,
        source_lists.candidate_sources,
        cast(pooled.source_count as {{ dbt.type_bigint() }}) as source_count
    from pooled
    inner join source_lists on pooled.user_id = source_lists.user_id and pooled.track_id = source_lists.track_id
    where pooled.pool_rank <= {{ var('candidate_pool_size') }}
)

select * from final
