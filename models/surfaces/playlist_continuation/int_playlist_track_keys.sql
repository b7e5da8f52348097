{{ config(materialized='table') }}

{#-
    What the playlist continuations are computed from, read once: the distinct (playlist, track)
    of trusted playlists, with integer keys numbered in id order (so ordering by a key orders by
    its id) for the joins and GROUP BYs of the co-occurrence, the holders and the continuations,
    and each track's first position on the playlist, each playlist's size and each track's reach.
    The ids are put back on the results.
-#}

with

playlist_tracks as (
    {{ distinct_playlist_tracks(first_position=true) }}
),

playlist_sizes as (
    select
        playlist_id,
        row_number() over (order by playlist_id) as playlist_key,
        count(*) as playlist_track_count
    from playlist_tracks
    group by playlist_id
),

track_reach as (
    select
        track_id,
        row_number() over (order by track_id) as track_key,
        count(*) as track_playlist_count
    from playlist_tracks
    group by track_id
)

select
    playlist_sizes.playlist_key,
    track_reach.track_key,
    playlist_tracks.playlist_id,
    playlist_tracks.track_id,
    playlist_tracks.first_position,
    playlist_sizes.playlist_track_count,
    track_reach.track_playlist_count
from playlist_tracks
inner join playlist_sizes on playlist_tracks.playlist_id = playlist_sizes.playlist_id
inner join track_reach on playlist_tracks.track_id = track_reach.track_id
