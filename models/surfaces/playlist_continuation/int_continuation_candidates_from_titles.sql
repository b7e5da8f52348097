{{ config(materialized=inlined_in_batches()) }}

{#-
    Candidate generator "titles": what playlists titled like this one hold. For each word of the
    playlist's title (int_playlist_title_tokens), its tracks of int_title_token_tracks, each
    counting the word's idf × how many playlists with the word hold the track. A playlist with
    no title, or none of whose words another title shares, gets nothing from it.
-#}

with

seeds as (
    select * from {{ ref('int_playlist_continuation_seeds') }}
),

continued as (
    select distinct playlist_key from seeds
),

scored as (
    select
        tokens.playlist_key,
        token_tracks.track_key,
        sum(tokens.token_idf * token_tracks.playlist_count) as score
    from continued
    inner join {{ ref('int_playlist_title_tokens') }} as tokens on continued.playlist_key = tokens.playlist_key
    inner join {{ ref('int_title_token_tracks') }} as token_tracks on tokens.token = token_tracks.token
    group by tokens.playlist_key, token_tracks.track_key
)

{{ top_continuation_candidates('scored') }}
