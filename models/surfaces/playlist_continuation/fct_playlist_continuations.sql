{{ config(
    materialized='incremental',
    pre_hook="{{ delete_refreshed_playlists() }}",
    **per_playlist_config()
) }}

{#-
    Playlist continuation (the RecSys Challenge 2018 task): for each playlist of at most var
    continuation_max_seed_tracks tracks (its "seeds"), the var continuation_size tracks most likely
    to come next, not on it already. The second stage: the candidates of every generator
    (int_playlist_continuation_candidates) ordered by var continuation_ranking:
    - 'ranker': the learned reranker, LightGBM lambdarank trees compiled to SQL (macro
      continuation_ranker_score in macros/rankers/, written by `tunesday-recsys train-ranker`);
    - 'blend': the hand-weighted sum of before the reranker, each of the co-occurrence,
      neighbours and artists scores scaled to its best value per playlist, weighted by var
      continuation_weights, divided by the track's playlist count ^ var
      continuation_popularity_damping.
    Measured with tunesday-recsys on the shared MPD playlists (see README).

    Incremental per playlist, like its candidates: a daily run recomputes the playlists
    int_playlist_refresh names; the pre-hook deletes their rows and those of playlists gone from
    staging.
-#}

with

candidates as (
    select * from {{ ref('int_playlist_continuation_candidates') }}
    where {{ refreshed_playlist('playlist_id') }}
),

scored as (
    select
        playlist_id,
        track_id,
        {{ continuation_score() }} as score
    from candidates
),

ranked as (
    select
        playlist_id,
        track_id,
        score,
        row_number() over (
            partition by playlist_id order by {{ comparable_float('coalesce(score, 0)') }} desc, track_id asc
        ) as continuation_rank
    from scored
)

select
    playlist_id,
    continuation_rank,
    track_id,
    score,
    cast('{{ run_date() }}' as date) as as_of_date
from ranked
where continuation_rank <= {{ var('continuation_size') }}

-- depends_on: {{ ref('int_playlist_refresh') }} (the pre-hook deletes the rows of the playlists it names)
