{#-
    Candidates: the neighbours (fct_track_similarity) of a listener's seed tracks. A track near
    several seeds sums their evidence; its reason is the seed that contributed most.
-#}

with

seeds as (
    select * from {{ ref('int_user_seed_tracks') }}
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

best_seed as (
    select
        *,
        sum(contribution) over (partition by user_id, seed_kind, track_id) as source_score,
        row_number() over (
            partition by user_id, seed_kind, track_id
            order by {{ comparable_float('contribution') }} desc, seed_track_id asc
        ) as seed_order
    from neighbours
),

final as (
    select
        user_id,
        track_id,
        case
            when seed_kind = 'recent_favourite' then 'recent_favourite_neighbours'
            else 'long_term_favourite_neighbours'
        end as candidate_source,
        cast(source_score as {{ type_double() }}) as source_score,
        'track' as seed_type,
        seed_track_id as seed_id
    from best_seed
    where seed_order = 1
)

select * from final
