{{ config(
    materialized='incremental',
    **incremental_by_key_config(['user_id', 'track_id'])
) }}

{#-
    int_user_track_affinity_state folded over the settled days only (before
    incremental_window_start(): no run recomputes them any more). A daily run reads the days
    that settled since the last run and the state rows of the keys they touch; because the
    decay is exponential, the old score decayed to the new last day plus the new evidence is
    exactly the full-history sum (macros/incremental_state.sql).
-#}

with

new_days as (
    select * from {{ ref('fct_user_track_days') }}
    where {{ settled_days_filter('listened_date', 'last_evidence_date') }}
),

{{ incremental_state_previous('new_days', ['user_id', 'track_id']) }}

final as (
    {{ track_affinity_fold('new_days', 'previous' if is_incremental() else none) }}
)

select * from final
