{#-
    The "baskets" item-item similarity counts co-occurrence in: listening sessions (the tracks
    streamed in one session) and playlists. Each basket keeps at most its first N distinct
    tracks (first played; first placed, by position: real playlists rarely say when a track was
    added) (vars similarity_max_session_tracks, similarity_max_playlist_tracks), which bounds
    the pairs a basket can make to N·(N-1)/2. Sessions count over the last
    similarity_window_days days only: co-listening follows current taste, and the daily cost
    depends on that window, not on the length of the history.
-#}

with

session_tracks as (
    select
        'session' as basket_type,
        cast(session_id as {{ dbt.type_string() }}) as basket_id,
        track_id,
        min({{ epoch_micros('played_at') }}) as basket_order
    from {{ ref('int_plays_sessionized') }}
    where
        is_stream
        and {{ recent_days_filter('listened_date', var('similarity_window_days')) }}
    group by session_id, track_id
),

playlist_tracks as (
    select
        'playlist' as basket_type,
        playlist_id as basket_id,
        track_id,
        min(playlist_position) as basket_order
    from {{ ref('stg_raw__playlist_tracks') }}
    group by playlist_id, track_id
),

ordered as (
    select
        *,
        row_number() over (
            partition by basket_type, basket_id order by basket_order asc, track_id asc
        ) as position_in_basket
    from (
        select * from session_tracks
        union all
        select * from playlist_tracks
    ) as baskets
),

final as (
    select
        basket_type,
        basket_id,
        track_id,
        position_in_basket
    from ordered
    where
        (basket_type = 'session' and position_in_basket <= {{ var('similarity_max_session_tracks') }})
        or (basket_type = 'playlist' and position_in_basket <= {{ var('similarity_max_playlist_tracks') }})
)

select * from final
