{{ config(materialized='table') }}

{#-
    For each title word, the var continuation_title_token_tracks tracks most often on playlists
    whose titles have it (ties by track key): what "road trip" or "workout" playlists hold. The
    title generator sums these counts, weighted by the word's idf, over the words of a playlist's
    own title.
-#}

with

token_tracks as (
    select
        tokens.token,
        playlist_tracks.track_key,
        count(*) as playlist_count
    from {{ ref('int_playlist_title_tokens') }} as tokens
    inner join
        {{ ref('int_playlist_track_keys') }} as playlist_tracks
        on tokens.playlist_key = playlist_tracks.playlist_key
    group by tokens.token, playlist_tracks.track_key
),

ranked as (
    select
        token,
        track_key,
        playlist_count,
        row_number() over (partition by token order by playlist_count desc, track_key asc) as token_track_rank
    from token_tracks
)

select
    token,
    token_track_rank,
    track_key,
    playlist_count
from ranked
where token_track_rank <= {{ var('continuation_title_token_tracks') }}
