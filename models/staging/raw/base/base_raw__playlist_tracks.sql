with

source as (
    select * from {{ source('raw', 'playlist_tracks') }}
),

known_playlists as (
    select playlist_id from {{ ref('stg_raw__playlists') }}
),

known_tracks as (
    select track_id from {{ ref('stg_raw__tracks') }}
),

checked as (
    select
        source.*,
        case
            when source.playlist_id is null then 'missing_playlist_id'
            when source.track_id is null then 'missing_track_id'
            when source.position is null then 'missing_position'
            when known_playlists.playlist_id is null then 'unknown_playlist_id'
            when known_tracks.track_id is null then 'unknown_track_id'
            when source.position < 0 then 'negative_position'
        end as rejection_reason
    from source
    left join known_playlists on source.playlist_id = known_playlists.playlist_id
    left join known_tracks on source.track_id = known_tracks.track_id
),

final as (
    select
        cast(playlist_id as {{ dbt.type_string() }}) as playlist_id,
        cast(position as {{ dbt.type_bigint() }}) as playlist_position,
        cast(track_id as {{ dbt.type_string() }}) as track_id,
        cast(added_at as {{ dbt.type_timestamp() }}) as added_at,
        rejection_reason,
        {{ row_status(['playlist_id', 'position'], 'added_at, track_id') }} as row_status
    from checked
)

select * from final
