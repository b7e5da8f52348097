{{ config(
    materialized='incremental',
    pre_hook="{{ delete_refreshed_playlists() }}",
    post_hook=["{{ insert_other_batches() }}", "{{ release_consumed(['int_playlist_track_cooccurrence']) }}"],
    **per_playlist_config()
) }}

{#-
    The first stage of the playlist continuations: every track a candidate generator proposes for
    a continued playlist (ranked within var continuation_generator_depth by one of
    int_continuation_candidates_from_<generator>, macro continuation_generators), one row per
    (playlist, track), with what the second stage ranks them by: each generator's score and rank
    (the generators keep their var continuation_feature_depth best; 0 and that depth + 1 beyond),
    and its score over the best the generator gave a candidate of the playlist (scores' scales
    differ from playlist to playlist), how many generators proposed the track, the playlist's
    seeds, the track's reach and how many seeds share its artist.

    Incremental per playlist like fct_playlist_continuations: the pre-hook deletes the rows of the
    playlists int_playlist_refresh names and of those gone from staging. On DuckDB in batches of
    about var continuation_playlists_per_batch of those playlists (the generators and the seeds
    are inlined in the batch's query; the post-hook appends the batches after the first).
-#}

{%- set feature_depth = var('continuation_feature_depth') %}

with

seeds as (
    select * from {{ ref('int_playlist_continuation_seeds') }}
),

proposed as (
    {%- for generator in continuation_generators() %}
        select
            playlist_key,
            track_key,
            '{{ generator }}' as generator,
            score,
            candidate_rank
        from {{ ref('int_continuation_candidates_from_' ~ generator) }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

candidates as (
    select
        playlist_key,
        track_key,
        {%- for generator in continuation_generators() %}
            coalesce(max(case when generator = '{{ generator }}' then score end), 0) as {{ generator }}_score,
            coalesce(max(case when generator = '{{ generator }}' then candidate_rank end), {{ feature_depth + 1 }})
                as {{ generator }}_rank,
        {%- endfor %}
        sum(case when candidate_rank <= {{ var('continuation_generator_depth') }} then 1 else 0 end) as generator_count
    from proposed
    group by playlist_key, track_key
    having min(candidate_rank) <= {{ var('continuation_generator_depth') }}
),

playlists as (
    select
        playlist_key,
        max(playlist_id) as playlist_id,
        max(seed_count) as seed_count
    from seeds
    group by playlist_key
),

tracks as (
    select distinct
        track_key,
        track_id,
        track_playlist_count
    from {{ ref('int_playlist_track_keys') }}
)

select
    playlists.playlist_id,
    tracks.track_id,
    playlists.seed_count,
    tracks.track_playlist_count,
    coalesce(seed_artists.artist_seed_count, 0) as artist_seed_count,
    candidates.generator_count,
    {%- for generator in continuation_generators() %}
        candidates.{{ generator }}_score,
        candidates.{{ generator }}_rank,
        coalesce(
            candidates.{{ generator }}_score
            / nullif(max(candidates.{{ generator }}_score) over (partition by candidates.playlist_key), 0),
            0
        ) as {{ generator }}_relative_score,
    {%- endfor %}
    cast('{{ run_date() }}' as date) as as_of_date
from candidates
inner join playlists on candidates.playlist_key = playlists.playlist_key
inner join tracks on candidates.track_key = tracks.track_key
left join {{ ref('int_playlist_track_artists') }} as track_artists on candidates.track_key = track_artists.track_key
left join {{ ref('int_continuation_seed_artists') }} as seed_artists
    on candidates.playlist_key = seed_artists.playlist_key and track_artists.artist_id = seed_artists.artist_id

-- depends_on: {{ ref('int_playlist_refresh') }} (the pre-hook deletes the rows of the playlists it names)
