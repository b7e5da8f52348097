{#-
    The select of a playlist's tracks as the per-playlist models read them (the Smart Shuffle
    pools, the playlist continuations): the distinct (playlist_id, track_id) of trusted playlists.
    int_playlist_refresh fingerprints the same rows, so a playlist is recomputed exactly when what
    it is computed from changed.
-#}
{% macro distinct_playlist_tracks(condition=none) %}
    select distinct
        playlist_tracks.playlist_id,
        playlist_tracks.track_id
    from {{ ref('stg_raw__playlist_tracks') }} as playlist_tracks
    inner join {{ ref('stg_raw__playlists') }} as playlists on playlist_tracks.playlist_id = playlists.playlist_id
    {%- if condition %}
    where {{ condition }}
    {%- endif %}
{%- endmacro %}

{#-
    The batches of fct_playlist_continuations (macros/batched_table.sql): about
    var continuation_playlists_per_batch of the playlists the run recomputes per batch.
-#}
{% macro continuation_batch(playlist_column) %}
    {{- return(refreshed_batch(playlist_column, 'int_playlist_refresh', var('continuation_playlists_per_batch'))) -}}
{%- endmacro %}
