{{ config(
    materialized='incremental',
    pre_hook="{{ delete_refreshed_playlists() }}",
    post_hook="{{ release_consumed(['int_smart_shuffle_pools']) }}",
    **per_playlist_config()
) }}

{#-
    Smart Shuffle pools, every playlist's (the pool itself is computed in int_smart_shuffle_pools).
    A daily run computes the pools of the playlists it recomputes (int_playlist_refresh, macros/
    refresh.sql: a changed track list, the playlist's day of the week, a new playlist): its pre-hook
    deletes their rows and those of playlists gone from staging, then their new rows are appended.
    Every other playlist keeps the pool of its last refresh, at most a week old, with that run's
    as_of_date. A full build computes every playlist.
-#}

select * from {{ ref('int_smart_shuffle_pools') }}

-- depends_on: {{ ref('int_playlist_refresh') }} (the pre-hook deletes the rows of the playlists it names)
