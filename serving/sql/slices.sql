-- Where the export's slices start (snapshot.py): per kind of key (listeners: user_id, playlists:
-- playlist_id), every $slice_size-th key in order but the first, whose slice has no lower bound.

with

keys as (
    select
        'listeners' as key_kind,
        user_id as key_value
    from serving_users
    union
    select
        'playlists' as key_kind,
        playlist_id as key_value
    from serving_playlist_tracks
),

numbered as (
    select
        key_kind,
        key_value,
        row_number() over (partition by key_kind order by key_value) as key_number
    from keys
    where key_value is not null
)

select
    key_kind,
    key_value
from numbered
where key_number % $slice_size = 1 and key_number > 1
order by key_kind, key_value
