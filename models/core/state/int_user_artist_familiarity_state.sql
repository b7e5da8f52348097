{#-
    Lifetime counters of each listener with each artist: the settled fold
    (int_user_artist_familiarity_settled) plus the open days, read afresh from
    fct_user_artist_days every run, so that late plays of an open day count exactly as if they
    had come on time (macros/incremental_state.sql).
-#}

with

open_days as (
    select * from {{ ref('fct_user_artist_days') }}
    where {{ open_days_filter('listened_date') }}
),

settled as (
    select * from {{ ref('int_user_artist_familiarity_settled') }}
),

final as (
    {{ artist_familiarity_fold('open_days', 'settled') }}
)

select * from final
