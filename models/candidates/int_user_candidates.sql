{{ config(materialized=batched_table()) }}

{#-
    Each listener's candidate pool: every source's candidates, one row per listener and track,
    without the tracks the listener ever streamed (an exact anti-join), capped at
    candidate_pool_size by taste score. taste_score blends the sources: each source's score is
    scaled to 0-1 within the listener (1 = the source's best candidate for them) and weighted by
    var candidate_source_weights; each scaled score is kept as well (<source>_score, 0 when the
    source did not propose the track), a feature of the listeners' reranker.
    On DuckDB in batches of listeners (macros/batched_table.sql: a GROUP BY of ~870 M candidate
    rows at 1 M listeners); each batch holds whole listeners, so the same rows as one query. The
    sources are computed within each batch's query (ephemeral on DuckDB: macro inlined_in_batches),
    each for the batch's listeners, and never stored.
-#}

{%- set source_weights = var('candidate_source_weights') %}
{%- set source_names = source_weights.keys() | sort %}
{%- set in_this_batch = listener_batch('user_id') %}
{%- if source_names | length > 8 %}
    {{ exceptions.raise_compiler_error('int_user_candidates packs a source\'s place in 3 bits: at most 8 sources') }}
{%- endif %}

with

all_sources as (
    -- Each source holds the batch's listeners only (it chooses them with listener_batch).
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
    where stream_count > 0 and {{ refreshed_listener('user_id') }} and {{ in_this_batch }}
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
        unheard.user_id,
        unheard.track_id,
        unheard.source_score / source_best.best_source_score as scaled_score,
        case unheard.candidate_source
            {%- for source_name, weight in source_weights.items() %}
                when '{{ source_name }}' then {{ weight }}
            {%- endfor %}
        end
        * unheard.source_score / source_best.best_source_score as weighted_score,
        case unheard.candidate_source
            {%- for source_name in source_names %}
                when '{{ source_name }}' then {{ loop.index0 }}
            {%- endfor %}
        end as source_place,
        case unheard.candidate_source
            {%- for source_name in source_names %}
                when '{{ source_name }}' then {{ 2 ** loop.index0 }}
            {%- endfor %}
        end as source_bit
    from unheard
    inner join source_best
        on unheard.user_id = source_best.user_id and unheard.candidate_source = source_best.candidate_source
),

per_track as (
    -- One row per listener and track, from a GROUP BY of fixed-size aggregates only (at a million
    -- listeners these are a billion rows; a window over them, or a string aggregate per group,
    -- sorts and spills). A (listener, track) has at most one row per source, so:
    -- * source_mask, the sum of each source's bit (its place in alphabetical order), lists them;
    -- * best_key orders the rows as "weighted score (to 9 decimals) desc, source asc" in one
    --   integer: the score in billionths times 8, plus 7 - the source's place. Its max is the
    --   best source's row, whose place is 7 - (best_key & 7).
    select
        user_id,
        track_id,
        sum(weighted_score) as summed_score,
        {%- for source_name in source_names %}
            max(case when source_place = {{ loop.index0 }} then scaled_score else 0 end) as {{ source_name }}_score,
        {%- endfor %}
        count(*) as source_count,
        sum(source_bit) as source_mask,
        max(cast(round(weighted_score * 1000000000) as {{ dbt.type_bigint() }}) * 8 + 7 - source_place)
            as best_key
    from weighted
    group by user_id, track_id
),

pooled as (
    select
        user_id,
        track_id,
        summed_score,
        {%- for source_name in source_names %}
            {{ source_name }}_score,
        {%- endfor %}
        source_count,
        source_mask,
        pool_rank,
        7 - (best_key & 7) as best_place
    from (
        select
            *,
            row_number() over (
                partition by user_id order by {{ comparable_float('summed_score') }} desc, track_id asc
            ) as pool_rank
        from per_track
    ) as ranked
    where pool_rank <= {{ var('candidate_pool_size') }}
),

-- the best source's seed, looked up for the pooled rows only
final as (
    select
        pooled.user_id,
        pooled.track_id,
        cast(pooled.pool_rank as {{ dbt.type_bigint() }}) as pool_rank,
        cast(
            pooled.summed_score / {{ source_weights.values() | sum }} as {{ type_double() }}
        ) as taste_score,
        unheard.candidate_source as best_source,
        unheard.seed_type,
        unheard.seed_id,
        substr(
            {% for source_name in source_names -%}
                case when (pooled.source_mask & {{ 2 ** loop.index0 }}) > 0 then ',{{ source_name }}' else '' end
                {%- if not loop.last %} ||{% endif %}
            {% endfor %}, 2
        ) as candidate_sources,
        {%- for source_name in source_names %}
            {%- set column = source_name ~ '_score' %}
            cast({{ comparable_float('pooled.' ~ column) }} as {{ type_double() }}) as {{ column }},
        {%- endfor %}
        cast(pooled.source_count as {{ dbt.type_bigint() }}) as source_count
    from pooled
    inner join unheard
        on
            pooled.user_id = unheard.user_id
            and pooled.track_id = unheard.track_id
            and unheard.candidate_source = case pooled.best_place
                {%- for source_name in source_names %}
                    when {{ loop.index0 }} then '{{ source_name }}'
                {%- endfor %}
            end
)

select * from final
