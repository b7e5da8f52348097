{#-
    The playlist continuations' candidate generators (models/surfaces/playlist_continuation):
    each proposes its var continuation_generator_depth best tracks per playlist, never a seed,
    and keeps the scores of its var continuation_feature_depth best, so that a track another
    generator proposed has this one's score too when it has one.
-#}

{% macro top_continuation_candidates(scored, seeds='seeds') %}
    {#-
        A generator's last step: of `scored` (playlist_key, track_key, score > 0), the var
        continuation_feature_depth best tracks per playlist that are not among its seeds, ranked
        1, 2, … (ties by track key, an id order). Those ranked within var
        continuation_generator_depth are the ones it proposes.
    -#}
    select
        playlist_key,
        track_key,
        score,
        candidate_rank
    from (
        select
            {{ scored }}.playlist_key,
            {{ scored }}.track_key,
            {{ scored }}.score,
            row_number() over (
                partition by {{ scored }}.playlist_key
                order by {{ comparable_float(scored ~ '.score') }} desc, {{ scored }}.track_key asc
            ) as candidate_rank
        from {{ scored }}
        left join {{ seeds }}
            on {{ scored }}.playlist_key = {{ seeds }}.playlist_key and {{ scored }}.track_key = {{ seeds }}.track_key
        where {{ seeds }}.track_key is null and {{ scored }}.score > 0
    ) as ranked
    where candidate_rank <= {{ var('continuation_feature_depth') }}
{%- endmacro %}

{% macro item_item_scores(score, rank_column) %}
    {#-
        An item-item generator's scores (the seeds CTE must be in scope): each seed's pairs of
        int_playlist_track_cooccurrence among its var continuation_cooccurring_tracks best by
        `rank_column`, `score` (over columns of seeds and pairs) summed per (playlist, track).
    -#}
    select
        seeds.playlist_key,
        pairs.cooccurring_track_key as track_key,
        sum({{ score }}) as score
    from seeds
    inner join {{ ref('int_playlist_track_cooccurrence') }} as pairs on seeds.track_key = pairs.track_key
    where pairs.{{ rank_column }} <= {{ var('continuation_cooccurring_tracks') }}
    group by seeds.playlist_key, pairs.cooccurring_track_key
{%- endmacro %}

{% macro seed_weighted_strength() %}
    {#-
        The co-occurrence generators' term of one seed and one pair (seeds and pairs in scope, as
        in item_item_scores): the pair's strength over sqrt(the seed's playlist count), so that
        ubiquitous seeds say less.
    -#}
    pairs.strength / sqrt(cast(seeds.track_playlist_count as {{ type_double() }}))
{%- endmacro %}

{% macro title_tokens(relation, key_column, name_column) %}
    {#-
        One row (key_column, token) per distinct word of a title: lower case, every run of
        characters other than a-z and 0-9 a separator (so "Road Trip!!" and "road-trip" share
        both words, and an emoji-only title has none).
    -#}
    {{ return(adapter.dispatch('title_tokens', 'tunesday')(relation, key_column, name_column)) }}
{% endmacro %}

{% macro default__title_tokens(relation, key_column, name_column) %}
    select distinct
        titled.{{ key_column }},
        token
    from {{ relation }} as titled
    cross join unnest(split(trim(regexp_replace(lower(titled.{{ name_column }}), r'[^a-z0-9]+', ' ')), ' ')) as token
    where token <> ''
{%- endmacro %}

{% macro duckdb__title_tokens(relation, key_column, name_column) %}
    select distinct
        {{ key_column }},
        token
    from (
        select
            titled.{{ key_column }},
            unnest(string_split(trim(regexp_replace(lower(titled.{{ name_column }}), '[^a-z0-9]+', ' ', 'g')), ' ')) as token
        from {{ relation }} as titled
    ) as tokens
    where token <> ''
{%- endmacro %}

{% macro continuation_generators() %}
    {#- The candidate generators, each a model int_continuation_candidates_from_<name>. -#}
    {{ return(['cooccurrence', 'cosine', 'rp3beta', 'tail', 'neighbours', 'titles', 'artists', 'als', 'ease']) }}
{% endmacro %}

{% macro create_recsys_tables() %}
    {#-
        On-run-start: the tables that the Python step writes and models read (source recsys),
        created empty when missing, so that a build without the step finds them.
    -#}
    {%- if execute -%}
        {%- for name in ['playlist_als_candidates', 'playlist_ease_candidates'] -%}
            {%- set fitted = source('recsys', name) -%}
            {%- if loop.first -%}
                {%- do adapter.create_schema(api.Relation.create(database=fitted.database, schema=fitted.schema)) -%}
            {%- endif -%}
            {%- do run_query(
                'create table if not exists ' ~ fitted ~ ' (playlist_id ' ~ dbt.type_string() ~ ', track_id '
                ~ dbt.type_string() ~ ', candidate_rank ' ~ dbt.type_int() ~ ', score ' ~ type_double() ~ ')'
            ) -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{% endmacro %}

{% macro fitted_candidates(source_table) %}
    {#-
        A generator fitted in Python (tunesday/recsys/fitted.py, run by `tunesday-recsys
        continue` after int_playlist_track_keys is built): each continued playlist's tracks from
        source recsys.<source_table>, by their score. The table is created empty when missing
        (create_recsys_tables, on-run-start): without the step the generator proposes nothing.
    -#}
    with

    seeds as (
        select * from {{ ref('int_playlist_continuation_seeds') }}
    ),

    continued as (
        select distinct
            playlist_key,
            playlist_id
        from seeds
    ),

    tracks as (
        select distinct
            track_key,
            track_id
        from {{ ref('int_playlist_track_keys') }}
    ),

    scored as (
        select
            continued.playlist_key,
            tracks.track_key,
            fitted.score
        from continued
        inner join {{ source('recsys', source_table) }} as fitted on continued.playlist_id = fitted.playlist_id
        inner join tracks on fitted.track_id = tracks.track_id
    )

    {{ top_continuation_candidates('scored') }}
{%- endmacro %}

{% macro continuation_blend_score() %}
    {#-
        The hand-weighted second stage of before the reranker (var continuation_ranking 'blend'):
        the co-occurrence, neighbours and artists scores of int_playlist_continuation_candidates,
        each scaled to its best value per playlist, weighted by var continuation_weights, over
        the track's playlist count ^ var continuation_popularity_damping.
    -#}
    {%- set weights = var('continuation_weights') -%}
    (
    {%- for generator, weight in [('cooccurrence', weights['item']), ('neighbours', weights['playlist_neighbours']),
                                  ('artists', weights['artist'])] %}
        {{ '+ ' if not loop.first }}{{ weight }} * coalesce(
            {{ generator }}_score / nullif(max({{ generator }}_score) over (partition by playlist_id), 0), 0
        )
    {%- endfor %}
    )
    / power(cast(track_playlist_count as {{ type_double() }}), {{ var('continuation_popularity_damping') }})
{%- endmacro %}

{% macro continuation_score() %}
    {#-
        The second stage's score of a candidate (a row of int_playlist_continuation_candidates)
        by var continuation_ranking: 'ranker', the learned reranker's compiled trees
        (macros/rankers/continuation_ranker.sql, written by `tunesday-recsys train-ranker`), or
        'blend' (continuation_blend_score). sqlfluff sees a constant in place of the trees (var
        lint_without_ranker_trees, set in .sqlfluff): they are generated, thousands of nested CASEs
        its parser gives up on, and tests/python/test_recsys_ranker.py proves them on both engines.
    -#}
    {%- if var('continuation_ranking') == 'ranker' -%}
        {{ return('0.0' if var('lint_without_ranker_trees', false) else continuation_ranker_score()) }}
    {%- elif var('continuation_ranking') == 'blend' -%}
        {{ return(continuation_blend_score()) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "var continuation_ranking must be 'ranker' or 'blend', not '" ~ var('continuation_ranking') ~ "'"
        ) }}
    {%- endif -%}
{% endmacro %}
