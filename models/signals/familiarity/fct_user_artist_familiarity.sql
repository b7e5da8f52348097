{{ config(
    materialized='incremental',
    pre_hook="{{ delete_refreshed_listeners() }}",
    **per_listener_config()
) }}

{#-
    How well each listener knows each artist they have played, as of run_date, and whether a
    discovery of the artist stuck. Tiers from lifetime streams: new (played, never streamed),
    sampled, familiar, core (thresholds are vars).

    Per listener (macros/refresh.sql): a daily run recomputes the listeners of int_user_refresh;
    the others keep the rows of their last refresh (as_of_date), at most a week old.
-#}

with

state as (
    select * from {{ ref('int_user_artist_familiarity_state') }}
    where
        first_listen_date <= cast('{{ run_date() }}' as date)
        and {{ refreshed_listener('user_id') }}
),

with_history_start as (
    select
        *,
        min(first_listen_date) over (partition by user_id) as history_started_on
    from state
),

classified as (
    select
        *,
        case
            when stream_count = 0 then 'new'
            when
                stream_count >= {{ var('core_min_streams') }}
                and stream_days >= {{ var('core_min_stream_days') }}
                then 'core'
            when
                stream_count >= {{ var('familiar_min_streams') }}
                or stream_days >= {{ var('familiar_min_stream_days') }}
                then 'familiar'
            else 'sampled'
        end as familiarity_tier,
        -- Artists played in the first days of a listener's history were known before it.
        {{ days_between('history_started_on', 'first_listen_date') }}
        >= {{ var('discovery_burn_in_days') }} as is_discovery,
        {{ days_between('first_listen_date', "cast('" ~ run_date() ~ "' as date)") }}
        > {{ var('discovery_window_days') }} as is_discovery_window_closed
    from with_history_start
),

final as (
    select
        user_id,
        artist_id,
        familiarity_tier,
        first_listen_date,
        first_stream_date,
        last_listen_date,
        last_stream_date,
        stream_count,
        stream_days,
        play_days,
        return_stream_days,
        is_discovery,
        case
            when not is_discovery then null
            when return_stream_days >= {{ var('discovery_min_return_days') }} then 'stuck'
            when is_discovery_window_closed then 'did_not_stick'
            else 'pending'
        end as discovery_outcome,
        cast('{{ run_date() }}' as date) as as_of_date
    from classified
)

select * from final
