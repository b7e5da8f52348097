{{ config(
    materialized='incremental',
    pre_hook="{{ delete_refreshed_listeners() }}",
    post_hook=["{{ insert_other_batches() }}", "{{ release_consumed(['int_user_candidates']) }}"],
    **per_listener_config()
) }}

{#-
    Every candidate of a listener's pool, scored and ranked. The score blends (weights: var
    ranking_weights) taste (the candidate's sources), audio fit (tempo closeness with half and
    double time folded, and how well its Camelot key fits the keys the listener plays), novelty
    suited to the listener's exploration propensity, and a popularity prior. Missing audio
    attributes or profiles count as a neutral 0.5. reason_codes says why the track is there.
    A daily run ranks the listeners it recomputes (int_user_refresh, macros/refresh.sql) and
    keeps everyone else's rows as their last refresh made them (as_of_date says when).
    On DuckDB in batches of listeners (macros/batched_table.sql: the ranking sorts every
    candidate of a listener, 300 M rows at 1 M listeners): the first batch is built or appended
    as usual, the post-hook appends the others.
-#}

{%- set weights = var('ranking_weights') %}
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
    select distinct
        track_id,
        popularity_prior
    from {{ ref('int_track_popularity') }}
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
        coalesce(popularity.popularity_prior, 0) as popularity_prior
    from candidates
    inner join tracks on candidates.track_id = tracks.track_id
    left join familiarity
        on candidates.user_id = familiarity.user_id and tracks.artist_id = familiarity.artist_id
    left join exploration on candidates.user_id = exploration.user_id
    left join profile on candidates.user_id = profile.user_id
    left join key_fit
        on candidates.user_id = key_fit.user_id and tracks.camelot_code = key_fit.camelot_code
    left join popularity on candidates.track_id = popularity.track_id
),

scored as (
    select
        *,
        (tempo_fit + key_fit) / 2 as audio_fit,
        case when is_new_artist then exploration_propensity else 1 - exploration_propensity end as novelty_fit
    from scored_parts
),

ranked as (
    select
        *,
        {{ weights['taste'] }} * taste_score
        + {{ weights['audio'] }} * audio_fit
        + {{ weights['novelty'] }} * novelty_fit
        + {{ weights['popularity'] }} * popularity_prior as score
    from scored
),

final as (
    select
        user_id,
        track_id,
        artist_id,
        cast(
            row_number() over (
                partition by user_id order by {{ comparable_float('score') }} desc, track_id asc
            ) as {{ dbt.type_bigint() }}
        ) as recommendation_rank,
        cast({{ comparable_float('score') }} as {{ type_double() }}) as score,
        cast({{ comparable_float('taste_score') }} as {{ type_double() }}) as taste_score,
        cast({{ comparable_float('audio_fit') }} as {{ type_double() }}) as audio_fit,
        cast({{ comparable_float('tempo_fit') }} as {{ type_double() }}) as tempo_fit,
        cast({{ comparable_float('key_fit') }} as {{ type_double() }}) as key_fit,
        cast({{ comparable_float('novelty_fit') }} as {{ type_double() }}) as novelty_fit,
        cast({{ comparable_float('popularity_prior') }} as {{ type_double() }}) as popularity_prior,
        is_new_artist,
        best_source,
        seed_type,
        seed_id,
        candidate_sources,
        best_source || ':' || seed_id
        || case when {{ comparable_float('tempo_fit') }} >= 0.8 then ',tempo_match' else '' end
        || case when {{ comparable_float('key_fit') }} >= 0.8 then ',key_match' else '' end
        || case when is_new_artist then ',new_artist' else ',known_artist' end
        || case when {{ comparable_float('popularity_prior') }} >= 0.8 then ',popular' else '' end as reason_codes,
        cast('{{ run_date() }}' as date) as as_of_date
    from ranked
)

select * from final

-- depends_on: {{ ref('int_user_refresh') }} (the pre-hook deletes the rows of the listeners it names)
