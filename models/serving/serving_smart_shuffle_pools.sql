{#-
    The Smart Shuffle pools (fct_smart_shuffle_pools) as the serving shim reads them (display
    fields: serving_tracks).
-#}

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
        cast('{{ run_date() }}' as date) as run_date
    from {{ ref('fct_smart_shuffle_pools') }} as pools
    inner join {{ ref('stg_raw__playlists') }} as playlists on pools.playlist_id = playlists.playlist_id
    -- dim_tracks: only tracks with display fields (serving_tracks)
    inner join {{ ref('dim_tracks') }} as tracks on pools.track_id = tracks.track_id
)

select * from final
