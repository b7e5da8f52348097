{{ config(materialized=inlined_in_batches()) }}

{#-
    Candidates: the neighbours (fct_track_similarity) of a listener's seed tracks. A track near
    several seeds sums their evidence; its reason is the seed that contributed most.
    On DuckDB computed by int_user_candidates batch by batch, never stored (macro
    inlined_in_batches: ~20 seeds × ~19 neighbours a listener, hundreds of millions of rows at
    1 M listeners); the batch's listeners are chosen here, on the seeds.
-#}

with

seeds as (
    select * from {{ ref('int_user_seed_tracks') }}
    where {{ listener_batch('user_id') }}
),

neighbours as (
    select
        seeds.user_id,
        seeds.seed_kind,
        seeds.seed_track_id,
        similarity.similar_track_id as track_id,
        seeds.seed_weight * similarity.similarity as contribution
    from seeds
    inner join {{ ref('fct_track_similarity') }} as similarity on seeds.seed_track_id = similarity.track_id
),

final as (
    -- One row per listener, kind of seed and track (a GROUP BY, not a window over every row).
    select
        user_id,
        track_id,
        case
            when seed_kind = 'recent_favourite' then 'recent_favourite_neighbours'
            else 'long_term_favourite_neighbours'
        end as candidate_source,
        cast(sum(contribution) as {{ type_double() }}) as source_score,
        'track' as seed_type,
        {{ best_value_by('seed_track_id', 'contribution') }} as seed_id
    from neighbours
    group by user_id, seed_kind, track_id
)

select * from final
