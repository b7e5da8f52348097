{{ config(materialized=inlined_in_batches()) }}

{#-
    Candidate generator "artists": the other tracks of the seeds' artists, by how many seeds share
    the artist, favouring the artist's better-known tracks: seeds by the artist × sqrt(the track's
    playlist count).
-#}

with

seeds as (
    select * from {{ ref('int_playlist_continuation_seeds') }}
),

scored as (
    select
        seed_artists.playlist_key,
        track_artists.track_key,
        seed_artists.artist_seed_count
        * sqrt(cast(track_artists.track_playlist_count as {{ type_double() }})) as score
    from {{ ref('int_continuation_seed_artists') }} as seed_artists
    inner join {{ ref('int_playlist_track_artists') }} as track_artists
        on seed_artists.artist_id = track_artists.artist_id
)

{{ top_continuation_candidates('scored') }}
