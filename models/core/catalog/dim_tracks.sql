with

tracks as (
    select * from {{ ref('stg_raw__tracks') }}
),

artists as (
    select
        artist_id,
        artist_name
    from {{ ref('stg_raw__artists') }}
),

genre_families as (
    select * from {{ ref('genre_families') }}
),

camelot_wheel as (
    select * from {{ ref('camelot_wheel') }}
),

final as (
    select
        tracks.track_id,
        tracks.track_name,
        tracks.artist_id,
        artists.artist_name,
        tracks.album_id,
        tracks.album_name,
        tracks.release_date,
        tracks.duration_ms,
        tracks.popularity,
        tracks.genre,
        genre_families.genre_family,
        tracks.tempo_bpm,
        tracks.pitch_class,
        tracks.musical_mode,
        camelot_wheel.key_name,
        {{ camelot_code('tracks.pitch_class', 'tracks.musical_mode') }} as camelot_code,
        tracks.time_signature,
        tracks.energy,
        tracks.valence,
        tracks.danceability,
        tracks.acousticness,
        tracks.instrumentalness,
        tracks.loudness_db
    from tracks
    inner join artists on tracks.artist_id = artists.artist_id
    left join genre_families on tracks.genre = genre_families.genre
    left join camelot_wheel
        on tracks.pitch_class = camelot_wheel.pitch_class and tracks.musical_mode = camelot_wheel.musical_mode
)

select * from final
