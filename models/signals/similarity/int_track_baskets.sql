{#-
    The "baskets" item-item similarity counts co-occurrence in: listening sessions (the tracks
    streamed in one session) and playlists. Each basket keeps at most its first N distinct
    tracks (first played; first placed, by position: real playlists rarely say when a track was
    added) (vars similarity_max_session_tracks, similarity_max_playlist_tracks), which bounds
    the pairs a basket can make to N·(N-1)/2. Sessions count over similarity_window_days days
    only (ending on similarity_window_end(): the days before the week's first run, with var
    similarity_refresh 'weekly'), playlist tracks added by then: co-listening follows current
    taste, and the cost depends on that window, not on the length of the history. Rebuilt with
    the similarity (macro similarity_rebuilt), kept as it is by the other runs.
-#}
{{ config(**similarity_config('fct_track_similarity')) }}
{% call rebuilt_similarity('fct_track_similarity') %}

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
            and {{ similarity_window_filter('listened_date') }}
        group by session_id, track_id
    ),

    playlist_tracks as (
        select
            'playlist' as basket_type,
            playlist_id as basket_id,
            track_id,
            min(playlist_position) as basket_order
        from {{ ref('stg_raw__playlist_tracks') }}
        where
            added_at is null
            or cast(added_at as date) <= cast('{{ similarity_window_end() }}' as date)
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
{% endcall %}
