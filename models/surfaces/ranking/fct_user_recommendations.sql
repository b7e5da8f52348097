{{ config(
    materialized='incremental',
    pre_hook="{{ delete_refreshed_listeners() }}",
    post_hook=["{{ insert_other_batches() }}", "{{ release_consumed(['int_user_candidates']) }}"],
    **per_listener_config()
) }}

{#-
    Every candidate of a listener's pool, scored and ranked. Two scores, both kept: blend_score
    blends (weights: var ranking_weights) taste (the candidate's sources), audio fit (tempo
    closeness with half and double time folded, and how well its Camelot key fits the keys the
    listener plays), novelty suited to the listener's exploration propensity, and a popularity
    prior; ranker_score is the listeners' learned reranker (LightGBM lambdarank trained on a time
    split of listening by `tunesday-recsys train-listener-ranker`, its trees compiled into
    macros/rankers/listener_ranker.sql) over the same features and a few more (each source's score,
    the listener's affinity for the artist, the track's listeners). score is the one var
    listener_ranking names, what Discover Weekly picks by. for_you_score is the one the listener's
    variant names when they are in the For You experiment running on run_date
    (int_experiment_assignments; experiment_id and variant say which), else score.
    recommendation_rank is For You's order (macro for_you_ranked): best for_you_score first within
    new and within known artists, interleaved at the listener's target share of new artists. Missing audio attributes or profiles count as a neutral 0.5.
    reason_codes says why the track is there.
    A daily run ranks the listeners it recomputes (int_user_refresh, macros/refresh.sql) and
    keeps everyone else's rows as their last refresh made them (as_of_date says when).
    On DuckDB in batches of listeners (macros/batched_table.sql: the ranking sorts every
    candidate of a listener, 300 M rows at 1 M listeners): the first batch is built or appended
    as usual, the post-hook appends the others.
-#}

{%- set weights = var('ranking_weights') %}
{%- if var('listener_ranking') not in ['ranker', 'blend'] %}
    {{ exceptions.raise_compiler_error(
        "var listener_ranking is '" ~ var('listener_ranking') ~ "': 'ranker' or 'blend'"
    ) }}
{%- endif %}
{%- set default_score = var('listener_ranking') ~ '_score' %}
{#- The batch's listeners, in every listener table: at 1 M listeners the joins with everyone's
    rows ran out of memory (a 9.4 GiB limit) in the first batch. -#}
{%- set in_this_batch = listener_batch('user_id') %}

with

candidates as (
    select * from {{ ref('int_user_candidates') }}
    where {{ in_this_batch }}
),

tracks as (
    select
        track_id,
        artist_id,
        tempo_bpm,
        camelot_code
    from {{ ref('dim_tracks') }}
),

-- The listener tables are read for the batch's listeners only (not everyone's rows into the joins).
familiarity as (
    select
        user_id,
        artist_id
    from {{ ref('fct_user_artist_familiarity') }}
    where {{ refreshed_listener('user_id') }} and {{ in_this_batch }}
),

exploration as (
    select
        user_id,
        exploration_propensity
    from {{ ref('fct_user_exploration') }}
    where {{ refreshed_listener('user_id') }} and {{ in_this_batch }}
),

profile as (
    select
        user_id,
        tempo_centre_bpm,
        tempo_spread_bpm
    from {{ ref('fct_user_audio_profile') }}
    where {{ refreshed_listener('user_id') }} and {{ in_this_batch }}
),

key_fit as (
    select
        user_id,
        camelot_code,
        key_fit
    from {{ ref('int_user_key_fit') }}
    where {{ refreshed_listener('user_id') }} and {{ in_this_batch }}
),

popularity as (
    select
        track_id,
        max(popularity_prior) as popularity_prior,
        max(listener_count) as listener_count
    from {{ ref('int_track_popularity') }}
    group by track_id
),

artist_affinity as (
    select
        user_id,
        artist_id,
        affinity_score
    from {{ ref('fct_user_artist_affinity') }}
    where {{ refreshed_listener('user_id') }} and {{ in_this_batch }}
),

scored_parts as (
    select
        candidates.*,
        tracks.artist_id,
        familiarity.artist_id is null as is_new_artist,
        coalesce(exploration.exploration_propensity, 0.5) as exploration_propensity,
        coalesce(
            exp(-0.5 * power(
                least(
                    abs({{ fold_tempo('tracks.tempo_bpm') }} - profile.tempo_centre_bpm),
                    abs(2 * {{ fold_tempo('tracks.tempo_bpm') }} - profile.tempo_centre_bpm),
                    abs({{ fold_tempo('tracks.tempo_bpm') }} / 2 - profile.tempo_centre_bpm)
                ) / greatest(coalesce(profile.tempo_spread_bpm, 0), 8), 2
            )),
            0.5
        ) as tempo_fit,
        coalesce(key_fit.key_fit, 0.5) as key_fit,
        coalesce(popularity.popularity_prior, 0) as popularity_prior,
        coalesce(popularity.listener_count, 0) as track_listeners,
        coalesce(artist_affinity.affinity_score, 0) as artist_affinity
    from candidates
    inner join tracks on candidates.track_id = tracks.track_id
    left join familiarity
        on candidates.user_id = familiarity.user_id and tracks.artist_id = familiarity.artist_id
    left join exploration on candidates.user_id = exploration.user_id
    left join profile on candidates.user_id = profile.user_id
    left join key_fit
        on candidates.user_id = key_fit.user_id and tracks.camelot_code = key_fit.camelot_code
    left join popularity on candidates.track_id = popularity.track_id
    left join artist_affinity
        on candidates.user_id = artist_affinity.user_id and tracks.artist_id = artist_affinity.artist_id
),

-- The features as stored (to comparable_float's 9 decimals): the reranker's trees compare these
-- very values, so that a model's predictions on the stored columns are the stored scores.
features as (
    select
        user_id,
        track_id,
        artist_id,
        is_new_artist,
        best_source,
        seed_type,
        seed_id,
        candidate_sources,
        pool_rank,
        source_count,
        {%- for source_name in var('candidate_source_weights').keys() | sort %}
            {{ source_name }}_score,
        {%- endfor %}
        case when is_new_artist then 1 else 0 end as new_artist,
        {{ comparable_float('taste_score') }} as taste_score,
        {{ comparable_float('(tempo_fit + key_fit) / 2') }} as audio_fit,
        {{ comparable_float('tempo_fit') }} as tempo_fit,
        {{ comparable_float('key_fit') }} as key_fit,
        {{ comparable_float(
            'case when is_new_artist then exploration_propensity else 1 - exploration_propensity end'
        ) }} as novelty_fit,
        {{ comparable_float('exploration_propensity') }} as exploration_propensity,
        {{ comparable_float('popularity_prior') }} as popularity_prior,
        track_listeners,
        {{ comparable_float('artist_affinity') }} as artist_affinity
    from scored_parts
),

scored as (
    select
        *,
        {{ comparable_float(
            weights['taste'] ~ ' * taste_score + ' ~ weights['audio'] ~ ' * audio_fit + '
            ~ weights['novelty'] ~ ' * novelty_fit + ' ~ weights['popularity'] ~ ' * popularity_prior'
        ) }} as blend_score,
        {#- sqlfluff sees a constant (.sqlfluff sets lint_without_ranker_trees; macro continuation_score) #}
        {{ comparable_float(
            '0.0' if var('lint_without_ranker_trees', false) else listener_ranker_score()
        ) }} as ranker_score
    from features
),

-- The variant of the For You experiment running on run_date that the listener is in, if any
-- (seeds experiments, experiment_variants; at most one runs per surface).
for_you_variants as (
    select
        assignments.user_id,
        assignments.experiment_id,
        assignments.variant,
        assignments.ranking
    from {{ ref('int_experiment_assignments') }} as assignments
    inner join {{ ref('experiments') }} as experiments on assignments.experiment_id = experiments.experiment_id
    where
        experiments.surface = 'for_you'
        and {{ experiment_is_running('experiments') }}
        and {{ listener_batch('assignments.user_id') }}
),

ranked as (
    select
        scored.*,
        scored.{{ default_score }} as score,
        for_you_variants.experiment_id,
        for_you_variants.variant,
        case for_you_variants.ranking
            when 'blend' then scored.blend_score
            when 'ranker' then scored.ranker_score
            else scored.{{ default_score }}
        end as for_you_score
    from scored
    left join for_you_variants on scored.user_id = for_you_variants.user_id
),

for_you_order as (
    {{ for_you_ranked('ranked', 'for_you_score') }}
),

final as (
    select
        user_id,
        track_id,
        artist_id,
        cast(list_rank as {{ dbt.type_bigint() }}) as recommendation_rank,
        cast(score as {{ type_double() }}) as score,
        cast(for_you_score as {{ type_double() }}) as for_you_score,
        experiment_id,
        variant,
        cast(blend_score as {{ type_double() }}) as blend_score,
        cast(ranker_score as {{ type_double() }}) as ranker_score,
        cast(taste_score as {{ type_double() }}) as taste_score,
        cast(audio_fit as {{ type_double() }}) as audio_fit,
        cast(tempo_fit as {{ type_double() }}) as tempo_fit,
        cast(key_fit as {{ type_double() }}) as key_fit,
        cast(novelty_fit as {{ type_double() }}) as novelty_fit,
        cast(popularity_prior as {{ type_double() }}) as popularity_prior,
        cast(exploration_propensity as {{ type_double() }}) as exploration_propensity,
        cast(artist_affinity as {{ type_double() }}) as artist_affinity,
        cast(track_listeners as {{ dbt.type_bigint() }}) as track_listeners,
        cast(pool_rank as {{ dbt.type_bigint() }}) as pool_rank,
        cast(source_count as {{ dbt.type_bigint() }}) as source_count,
        {%- for source_name in var('candidate_source_weights').keys() | sort %}
            cast({{ source_name }}_score as {{ type_double() }}) as {{ source_name }}_score,
        {%- endfor %}
        is_new_artist,
        best_source,
        seed_type,
        seed_id,
        candidate_sources,
        best_source || ':' || seed_id
        || case when tempo_fit >= 0.8 then ',tempo_match' else '' end
        || case when key_fit >= 0.8 then ',key_match' else '' end
        || case when is_new_artist then ',new_artist' else ',known_artist' end
        || case when popularity_prior >= 0.8 then ',popular' else '' end as reason_codes,
        cast('{{ run_date() }}' as date) as as_of_date
    from for_you_order
)

select * from final

-- depends_on: {{ ref('int_user_refresh') }} (the pre-hook deletes the rows of the listeners it names)
