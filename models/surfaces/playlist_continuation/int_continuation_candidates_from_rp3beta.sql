{{ config(materialized=inlined_in_batches()) }}

{#-
    Candidate generator "rp3beta": item-item with RP3beta's weights of
    int_playlist_track_cooccurrence (a random walk seed → playlist → track, Σ_h 1 / (n_seed |h|),
    over n_track^β), summed over the seeds, the var continuation_cooccurring_tracks best per seed.
-#}

with

seeds as (
    select * from {{ ref('int_playlist_continuation_seeds') }}
),

scored as (
    {{ item_item_scores('pairs.rp3beta', 'rp3beta_rank') }}
)

{{ top_continuation_candidates('scored') }}
