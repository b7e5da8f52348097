{#- The Smart Shuffle pools (fct_smart_shuffle_pools) as the serving shim reads them, with display fields. -#}

with

final as (
    select
        pools.playlist_id,
        playlists.owner_user_id,
        pools.pool_rank,
        pools.track_id,
        pools.score,
        pools.reason_codes,
        pools.seed_track_id,
        tracks.track_name,
        tracks.artist_id,
        tracks.artist_name,
        tracks.album_name,
        tracks.duration_ms,
        tracks.tempo_bpm,
        tracks.camelot_code,
        cast('{{ run_date() }}' as date) as run_date
    from {{ ref('fct_smart_shuffle_pools') }} as pools
    inner join {{ ref('stg_raw__playlists') }} as playlists on pools.playlist_id = playlists.playlist_id
    inner join {{ ref('dim_tracks') }} as tracks on pools.track_id = tracks.track_id
)

select * from final
