{{ config(materialized=inlined_in_batches()) }}

{#-
    Candidate generator "cooccurrence": the tracks sharing most playlists with the seeds. Each
    seed adds its int_playlist_track_cooccurrence strength (shared playlists h weighted
    1 / sqrt(|h|), the var continuation_cooccurring_tracks strongest per seed), divided by
    sqrt(its playlist count), so that ubiquitous seeds say less.
-#}

with

seeds as (
    select * from {{ ref('int_playlist_continuation_seeds') }}
),

scored as (
    {{ item_item_scores(seed_weighted_strength(), 'cooccurrence_rank') }}
)

{{ top_continuation_candidates('scored') }}
