{#-
    The display fields of every track a serving table lists (serving_recommendations,
    serving_playlist_tracks, serving_smart_shuffle_pools), once per track: the serving shim
    renders every column but run_date into each item of the track, in this order.
-#}

with

listed_tracks as (
    select track_id from {{ ref('serving_recommendations') }}
    union all
    select track_id from {{ ref('serving_playlist_tracks') }}
    union all
    select track_id from {{ ref('serving_smart_shuffle_pools') }}
),

distinct_tracks as (
    select distinct track_id
    from listed_tracks
),

final as (
    select
        tracks.track_id,
        tracks.track_name,
        tracks.artist_id,
        tracks.artist_name,
        tracks.album_name,
        tracks.duration_ms,
        tracks.tempo_bpm,
        tracks.camelot_code,
        cast('{{ run_date() }}' as date) as run_date
    from distinct_tracks
    inner join {{ ref('dim_tracks') }} as tracks on distinct_tracks.track_id = tracks.track_id
)

select * from final
