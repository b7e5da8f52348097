{{ config(materialized=inlined_in_batches()) }}

{#-
    The seeds of the playlists this run continues: every track of each playlist of at most var
    continuation_max_seed_tracks tracks that int_playlist_refresh names (all of them in a full
    build). What every candidate generator starts from. On DuckDB computed within the batch's
    query of int_playlist_continuation_candidates and never stored (macro inlined_in_batches):
    the batch's playlists are chosen here.
-#}

select
    playlist_key,
    playlist_id,
    track_key,
    track_id,
    playlist_track_count as seed_count,
    track_playlist_count,
    row_number() over (partition by playlist_key order by first_position asc, track_key asc) as seed_position
from {{ ref('int_playlist_track_keys') }}
where
    playlist_track_count <= {{ var('continuation_max_seed_tracks') }}
    and {{ refreshed_playlist('playlist_id') }}
    and {{ continuation_batch('playlist_id') }}
