{{ config(materialized='table') }}

{#-
    Where the playlist continuations look for a playlist's neighbours: for each track, at most var
    continuation_holders_per_track of the playlists holding it, the shortest first (ties by id). A
    neighbour's similarity is shared seeds² / |h|^0.8, so among the holders of one seed the short
    playlists score highest. Without the cap, every seed met every playlist holding it: 17.8
    billion rows at 1 M listeners, whose popular tracks are in up to 21,409 playlists each.
-#}

with

playlist_tracks as (
    {{ distinct_playlist_tracks() }}
),

playlist_sizes as (
    select
        playlist_id,
        count(*) as playlist_track_count
    from playlist_tracks
    group by playlist_id
),

ranked as (
    select
        playlist_tracks.track_id,
        playlist_tracks.playlist_id,
        playlist_sizes.playlist_track_count,
        row_number() over (
            partition by playlist_tracks.track_id
            order by playlist_sizes.playlist_track_count asc, playlist_tracks.playlist_id asc
        ) as holder_rank
    from playlist_tracks
    inner join playlist_sizes on playlist_tracks.playlist_id = playlist_sizes.playlist_id
)

select
    track_id,
    holder_rank,
    playlist_id,
    playlist_track_count
from ranked
where holder_rank <= {{ var('continuation_holders_per_track') }}
