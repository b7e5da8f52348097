{{ config(materialized=inlined_in_batches()) }}

{#-
    Candidate generator "als": implicit ALS (matrix factorization of the playlist × track matrix),
    fitted by the Python step between dbt runs (tunesday/recsys/fitted.py).
-#}

{{ fitted_candidates('playlist_als_candidates') }}
