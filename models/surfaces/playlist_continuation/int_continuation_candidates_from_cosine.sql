{{ config(materialized=inlined_in_batches()) }}

{#-
    Candidate generator "cosine": item-item with the asymmetric cosine and shrinkage of
    int_playlist_track_cooccurrence (shared playlists / (n_seed^α n_track^(1-α) + shrink)),
    summed over the seeds, the var continuation_cooccurring_tracks best per seed.
-#}

with

seeds as (
    select * from {{ ref('int_playlist_continuation_seeds') }}
),

scored as (
    {{ item_item_scores('pairs.cosine', 'cosine_rank') }}
)

{{ top_continuation_candidates('scored') }}
