{{ config(materialized='table') }}

{#-
    Where the playlist continuations look for a playlist's neighbours: for each track, at most var
    continuation_holders_per_track of the playlists holding it, the shortest first (ties by id). A
    neighbour's similarity is shared seeds² / |h|^0.8, so among the holders of one seed the short
    playlists score highest. Without the cap, every seed met every playlist holding it: 17.8
    billion rows at 1 M listeners, whose popular tracks are in up to 21,409 playlists each.
    On the integer keys of int_playlist_track_keys (a playlist key orders as its id).
-#}

with

ranked as (
    select
        track_key,
        playlist_key,
        playlist_track_count,
        row_number() over (
            partition by track_key
            order by playlist_track_count asc, playlist_key asc
        ) as holder_rank
    from {{ ref('int_playlist_track_keys') }}
)

select
    track_key,
    holder_rank,
    playlist_key,
    playlist_track_count
from ranked
where holder_rank <= {{ var('continuation_holders_per_track') }}
