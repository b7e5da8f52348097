{{ config(
    materialized='incremental',
    full_refresh=(none if var('rebuild_published_weeks') else false),
    post_hook="{{ insert_other_batches() }}",
    **incremental_by_date_config('week_start', ['user_id', 'week_start', 'playlist_position'])
) }}

{#-
    Discover Weekly: discover_weekly_size tracks per listener for the week of run_date, made by
    the week's first run (normally Monday's) and never remade: later runs of the week add
    nothing, so the list is stable all week. Only tracks the listener never played (an exact
    anti-join with the lifetime state, not the Bloom filter), at most
    discover_weekly_max_tracks_per_artist per artist, a share of new artists that follows their
    exploration propensity (within the min/max share vars; the other kind fills in when one runs
    short), ordered for flow: a walk round the Camelot wheel from the listener's main key,
    zigzagging between the A and B rings (the main key's ring first) so that neighbours stay
    compatible, tempo rising within a key.

    A published week is part of the record, so `--full-refresh` does not rebuild this table
    (full_refresh=false): a mid-week full refresh keeps the week's list. Only
    --vars '{rebuild_published_weeks: true}' rebuilds it (e.g. after the raw data was replaced).

    On DuckDB in batches of listeners (macros/batched_table.sql), like fct_user_recommendations:
    at 1 M listeners the anti-join of 300 M recommendations with the lifetime state filled the
    disk with spill in one query. Whether the week is published is asked once, before the first
    batch, which the later batches would otherwise see; the answer is a constant in the SQL, so
    on the days the model adds nothing its reads are filtered by a constant false, which BigQuery
    resolves without reading the tables.
-#}

{%- set size = var('discover_weekly_size') %}
{%- set in_this_batch = every_listener_batch('user_id') %}
{#- Nothing when this week's list exists already: it stands all week. -#}
{%- set week_to_make = ('not ' ~ has_rows_on(this, 'week_start', run_week_start())) if is_incremental() else 'true' %}

with

-- Read twice (the lists and the quotas): inlined, each reader scans the table again, where DuckDB
-- stored the batch's recommendations whole (2,000 listeners: 2.39 s stored, 1.19 s inlined).
recommendations as {{ inline_cte() }} (
    select * from {{ ref('fct_user_recommendations') }}
    where {{ in_this_batch }} and {{ week_to_make }}
),

ever_played as (
    select
        user_id,
        track_id
    from {{ ref('int_user_track_affinity_state') }}
    where {{ in_this_batch }} and {{ week_to_make }}
),

never_played as (
    select recommendations.*
    from recommendations
    left join ever_played
        on recommendations.user_id = ever_played.user_id and recommendations.track_id = ever_played.track_id
    where ever_played.track_id is null
),

{{ discover_weekly_picks('never_played', 'score') }},

main_keys as (
    select
        listener_keys.user_id,
        {{ camelot_number('wheel.pitch_class', 'wheel.musical_mode') }} as main_camelot_number,
        wheel.musical_mode as main_musical_mode
    from (
        select
            user_id,
            camelot_code
        from {{ ref('fct_user_camelot_keys') }}
        where key_rank = 1 and {{ in_this_batch }} and {{ week_to_make }}
    ) as listener_keys
    inner join {{ ref('camelot_wheel') }} as wheel on listener_keys.camelot_code = wheel.camelot_code
),

with_flow as (
    select
        picked.*,
        {{ fold_tempo('tracks.tempo_bpm') }} as folded_tempo_bpm,
        case when tracks.musical_mode = coalesce(main_keys.main_musical_mode, 1) then 0 else 1 end as ring_order,
        mod(
            {{ camelot_number('tracks.pitch_class', 'tracks.musical_mode') }}
            - coalesce(main_keys.main_camelot_number, 1) + 12,
            12
        ) as wheel_step
    from picked
    inner join {{ ref('dim_tracks') }} as tracks on picked.track_id = tracks.track_id
    left join main_keys on picked.user_id = main_keys.user_id
),

final as (
    select
        user_id,
        cast('{{ run_week_start() }}' as date) as week_start,
        cast(row_number() over (
            partition by user_id
            order by
                case when wheel_step is null then 1 else 0 end,
                wheel_step,
                case when mod(wheel_step, 2) = 0 then ring_order else 1 - ring_order end,
                {{ comparable_float('folded_tempo_bpm') }},
                track_id
        ) as {{ dbt.type_bigint() }}) as playlist_position,
        track_id,
        artist_id,
        score,
        recommendation_rank,
        is_new_artist,
        cast(new_artist_slots as {{ type_double() }}) / {{ size }} as target_new_artist_share,
        best_source,
        seed_type,
        seed_id,
        reason_codes,
        cast('{{ run_date() }}' as date) as generated_on
    from with_flow
)

select * from final
