{{ config(materialized=inlined_in_batches()) }}

{#-
    Candidate generator "tail" (tail-weighted seeds): the co-occurrence generator's sum with the
    later seeds counting more. A seed's strength is multiplied by var continuation_tail_decay ^
    (its distance from the last seed in playlist order), so the last seed counts 1, the one
    before it the decay, and so on: a playlist drifts, and what it ends with says most about
    what comes next.
-#}

{%- set tail_weighted_strength -%}
    {{ seed_weighted_strength() }} * power({{ var('continuation_tail_decay') }}, seeds.seed_count - seeds.seed_position)
{%- endset %}

with

seeds as (
    select * from {{ ref('int_playlist_continuation_seeds') }}
),

scored as (
    {{ item_item_scores(tail_weighted_strength, 'cooccurrence_rank') }}
)

{{ top_continuation_candidates('scored') }}
