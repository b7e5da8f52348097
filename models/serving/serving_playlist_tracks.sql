{#-
    Every playlist's tracks in playlist order (each track once, at its first position), for
    the serving shim to shuffle and weave Smart Shuffle recommendations into.
-#}

with

first_positions as (
    select
        playlist_id,
        track_id,
        min(playlist_position) as playlist_position
    from {{ ref('stg_raw__playlist_tracks') }}
    group by playlist_id, track_id
),

final as (
    select
        first_positions.playlist_id,
        playlists.owner_user_id,
        playlists.playlist_name,
        cast(row_number() over (
            partition by first_positions.playlist_id
            order by first_positions.playlist_position, first_positions.track_id
        ) as {{ dbt.type_bigint() }}) as playlist_position,
        first_positions.track_id,
        cast('{{ run_date() }}' as date) as run_date
    from first_positions
    inner join {{ ref('stg_raw__playlists') }} as playlists on first_positions.playlist_id = playlists.playlist_id
    -- dim_tracks: only tracks with display fields (serving_tracks)
    inner join {{ ref('dim_tracks') }} as tracks on first_positions.track_id = tracks.track_id
)

select * from final
