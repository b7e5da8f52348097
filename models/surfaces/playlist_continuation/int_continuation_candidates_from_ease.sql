{{ config(materialized=inlined_in_batches()) }}

{#-
    Candidate generator "ease": EASE (Steck 2019, a closed-form item-item model, in its dual form),
    fitted by the Python step between dbt runs (tunesday/recsys/fitted.py).
-#}

{{ fitted_candidates('playlist_ease_candidates') }}
