{{ config(
    materialized='incremental',
    **incremental_by_key_config(['user_id', 'artist_id'])
) }}

{#-
    int_user_artist_familiarity_state folded over the settled days only (before
    incremental_window_start(): no run recomputes them any more). A daily run reads the days
    that settled since the last run and the state rows of the keys they touch
    (macros/incremental_state.sql).
-#}

with

new_days as (
    select * from {{ ref('fct_user_artist_days') }}
    where {{ settled_days_filter('listened_date', 'last_listen_date') }}
),

{{ incremental_state_previous('new_days', ['user_id', 'artist_id']) }}

final as (
    {{ artist_familiarity_fold('new_days', 'previous' if is_incremental() else none) }}
)

select * from final
