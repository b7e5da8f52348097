with

checked as (
    select * from {{ ref('base_raw__tracks') }}
),

final as (
    select
        track_id,
        track_name,
        artist_id,
        album_id,
        album_name,
        release_date,
        duration_ms,
        popularity,
        genre,
        tempo_bpm,
        pitch_class,
        musical_mode,
        time_signature,
        energy,
        valence,
        danceability,
        acousticness,
        instrumentalness,
        loudness_db
    from checked
    where row_status = 'accepted'
)

select * from final
