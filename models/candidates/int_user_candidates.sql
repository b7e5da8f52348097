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

source_best as (
    select
        user_id,
        candidate_source,
        max(source_score) as best_source_score
    from unheard
    group by user_id, candidate_source
),

weighted as (
    select
        unheard.*,
        case unheard.candidate_source
            {%- for source_name, weight in source_weights.items() %}
                when '{{ source_name }}' then {{ weight }}
            {%- endfor %}
        end
        * unheard.source_score / source_best.best_source_score as weighted_score
    from unheard
    inner join source_best
        on unheard.user_id = source_best.user_id and unheard.candidate_source = source_best.candidate_source
),

per_track as (
    -- One row per listener and track: GROUP BYs and joins, no window over every candidate (at a
    -- million listeners they are a billion rows), and small aggregates: the best source (its
    -- reason) as one value, a 0/1 flag per known source (the list is spelled out for the pool only).
    select
        user_id,
        track_id,
        sum(weighted_score) as summed_score,
        count(*) as source_count,
        {{ first_value_by("candidate_source || '|' || seed_type || '|' || seed_id",
            comparable_float('weighted_score') ~ ' desc, candidate_source asc') }} as best,
        {% for source_name in source_weights.keys() | sort -%}
            max(case when candidate_source = '{{ source_name }}' then 1 else 0 end) as from_{{ source_name }}
            {%- if not loop.last %},{% endif %}
        {% endfor %}
    from weighted
    group by user_id, track_id
),

pooled as (
    select
        user_id,
        track_id,
        summed_score,
        source_count,
        best,
        {% for source_name in source_weights.keys() | sort -%}
            from_{{ source_name }},
        {% endfor %}
        row_number() over (
            partition by user_id order by {{ comparable_float('summed_score') }} desc, track_id asc
        ) as pool_rank
    from per_track
),

final as (
    select
        pooled.user_id,
        pooled.track_id,
        cast(pooled.pool_rank as {{ dbt.type_bigint() }}) as pool_rank,
        cast(
            pooled.summed_score / {{ source_weights.values() | sum }} as {{ type_double() }}
        ) as taste_score,
        {{ dbt.split_part('pooled.best', "'|'", 1) }} as best_source,
        {{ dbt.split_part('pooled.best', "'|'", 2) }} as seed_type,
        -- the rest after the second '|' (an id may hold one)
        substr(
            pooled.best,
            length({{ dbt.split_part('pooled.best', "'|'", 1) }})
            + length({{ dbt.split_part('pooled.best', "'|'", 2) }}) + 3
        ) as seed_id,
        substr(
            {% for source_name in source_weights.keys() | sort -%}
                case when pooled.from_{{ source_name }} = 1 then ',{{ source_name }}' else '' end
                {%- if not loop.last %} ||{% endif %}
            {% endfor %}, 2
        ) as candidate_sources,
        cast(pooled.source_count as {{ dbt.type_bigint() }}) as source_count
    from pooled
    where pooled.pool_rank <= {{ var('candidate_pool_size') }}
)

select * from final
