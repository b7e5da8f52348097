{{ config(
    materialized='incremental',
    pre_hook="{{ delete_refreshed_listeners() }}",
    **per_listener_config()
) }}

{#-
    Lifetime counters of each listener with each artist: the settled fold
    (int_user_artist_familiarity_settled) plus the open days, read afresh from
    fct_user_artist_days every run, so that late plays of an open day count exactly as if they
    had come on time (macros/incremental_state.sql).

    Per listener (macros/refresh.sql): a daily run recomputes the listeners of int_user_refresh
    and keeps the others' rows, which equal a recompute, since a listener with no plays the
    previous run had not seen has the same days to fold (the settled and open parts of them
    shift, their fold does not). So its daily cost follows the listeners of the run.
-#}

with

open_days as (
    select * from {{ ref('fct_user_artist_days') }}
    where
        {{ open_days_filter('listened_date') }}
        and {{ refreshed_listener('user_id') }}
),

settled as (
    select * from {{ ref('int_user_artist_familiarity_settled') }}
    where {{ refreshed_listener('user_id') }}
),

final as (
    {{ artist_familiarity_fold('open_days', 'settled') }}
)

select * from final
