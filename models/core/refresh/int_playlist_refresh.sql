{{ config(
    materialized='incremental',
    post_hook="{{ prune_refresh_history() }}",
    **incremental_by_date_config('run_date', ['run_date', 'playlist_id'], cluster_by=['playlist_id'])
) }}

{#-
    The playlists a run recomputes the Smart Shuffle pool of (fct_smart_shuffle_pools, through
    macros/refresh.sql), one row per run_date and playlist, with the first reason that applies:

      changed  its track list is not the one its last refresh computed the pool from (the
               fingerprint below differs): tracks added or removed, or the playlist gone from
               staging (its fingerprint is then null, and its pool rows go);
      weekly   its day of the 7-day cycle (a hash of the id): every playlist at least weekly.
               The pool also depends on fct_track_similarity, dim_tracks and int_track_popularity,
               which change every day; this refresh is what bounds how stale they get in a kept
               pool: at most a week;
      stale    not recomputed on any of the 6 days before (a new playlist, or missed runs);
      full     a full build, or var refresh_all_playlists: every playlist.

    The fingerprint is the MD5 of the playlist's distinct track ids in order of id: the tracks the
    pool is computed from (a reordered playlist keeps its pool). A rerun of a day gives the same
    set (it reads only earlier runs' rows); rows older than two cycles are pruned (macro
    prune_refresh_history), so the table stays small.
-#}

{%- set day = "cast('" ~ run_date() ~ "' as date)" %}
{%- set everyone = not is_incremental() or var('refresh_all_playlists', false) %}

with

playlist_tracks as (
    -- What fct_smart_shuffle_pools reads of a playlist: its distinct tracks.
    {{ distinct_playlist_tracks() }}
),

fingerprints as (
    select
        playlist_id,
        {{ dbt.hash(dbt.listagg('track_id', "','", 'order by track_id')) }} as track_list_fingerprint
    from playlist_tracks
    group by playlist_id
),

playlists as (
    select
        playlists.playlist_id,
        fingerprints.track_list_fingerprint
    from {{ ref('stg_raw__playlists') }} as playlists
    left join fingerprints on playlists.playlist_id = fingerprints.playlist_id
),

{% if not everyone %}
    earlier_runs as (
        -- The runs of the last two cycles (the days as constants: BigQuery reads them only).
        select
            run_date,
            playlist_id,
            track_list_fingerprint
        from {{ this }}
        where
            run_date < {{ day }}
            and run_date >= cast('{{ days_after(run_date(), -2 * refresh_cycle_days()) }}' as date)
    ),

    last_refresh as (
        -- Each playlist's last refresh: the track list its pool was computed from.
        select
            playlist_id,
            track_list_fingerprint
        from (
            select
                playlist_id,
                track_list_fingerprint,
                row_number() over (partition by playlist_id order by run_date desc) as recency
            from earlier_runs
        ) as ordered
        where recency = 1
    ),

    changed as (
        -- A track list unlike the last refresh's, or a playlist gone since it had tracks.
        select
            last_refresh.playlist_id,
            playlists.track_list_fingerprint
        from last_refresh
        left join playlists on last_refresh.playlist_id = playlists.playlist_id
        where coalesce(playlists.track_list_fingerprint, '') <> coalesce(last_refresh.track_list_fingerprint, '')
    ),

    recently_refreshed as (
        select distinct playlist_id
        from earlier_runs
        where {{ days_between('run_date', day) }} < {{ refresh_cycle_days() }}
    ),
{% endif %}

reasons as (
    {% if everyone %}
        select
            playlist_id,
            track_list_fingerprint,
            'full' as refresh_reason,
            0 as priority
        from playlists
    {% else %}
        select
            playlist_id,
            track_list_fingerprint,
            'changed' as refresh_reason,
            1 as priority
        from changed
        union all
        select
            playlist_id,
            track_list_fingerprint,
            'weekly' as refresh_reason,
            2 as priority
        from playlists
        where {{ refresh_bucket('playlist_id') }} = {{ refresh_cycle_day() }}
        union all
        select
            playlists.playlist_id,
            playlists.track_list_fingerprint,
            'stale' as refresh_reason,
            3 as priority
        from playlists
        left join recently_refreshed on playlists.playlist_id = recently_refreshed.playlist_id
        where recently_refreshed.playlist_id is null
    {% endif %}
),

ranked as (
    select
        playlist_id,
        track_list_fingerprint,
        refresh_reason,
        row_number() over (partition by playlist_id order by priority) as reason_rank
    from reasons
),

final as (
    select
        {{ day }} as run_date,
        playlist_id,
        refresh_reason,
        track_list_fingerprint
    from ranked
    where reason_rank = 1
)

select * from final
