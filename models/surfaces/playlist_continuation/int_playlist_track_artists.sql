{{ config(materialized='table') }}

{#-
    The artist of each track in a playlist (dim_tracks), on the track keys of
    int_playlist_track_keys, with the track's playlist count: what the artist generator and the
    candidates' artist feature join on.
-#}

select distinct
    playlist_tracks.track_key,
    playlist_tracks.track_playlist_count,
    tracks.artist_id
from {{ ref('int_playlist_track_keys') }} as playlist_tracks
inner join {{ ref('dim_tracks') }} as tracks on playlist_tracks.track_id = tracks.track_id
