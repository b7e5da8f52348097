{#-
    The select of a playlist's tracks as the per-playlist models read them (the Smart Shuffle
    pools, the playlist continuations): the distinct (playlist_id, track_id) of trusted playlists,
    with first_position (the track's first position on the playlist) when asked for.
    int_playlist_refresh fingerprints the same (playlist_id, track_id), so a playlist is
    recomputed exactly when its tracks changed (not when they were only reordered).
-#}
{% macro distinct_playlist_tracks(condition=none, first_position=false) %}
    select
        {%- if not first_position %} distinct{% endif %}
        playlist_tracks.playlist_id,
        playlist_tracks.track_id
        {%- if first_position %},
        min(playlist_tracks.playlist_position) as first_position
        {%- endif %}
    from {{ ref('stg_raw__playlist_tracks') }} as playlist_tracks
    inner join {{ ref('stg_raw__playlists') }} as playlists on playlist_tracks.playlist_id = playlists.playlist_id
    {%- if condition %}
    where {{ condition }}
    {%- endif %}
    {%- if first_position %}
    group by playlist_tracks.playlist_id, playlist_tracks.track_id
    {%- endif %}
{%- endmacro %}

{#-
    The batches of fct_playlist_continuations (macros/batched_table.sql): about
    var continuation_playlists_per_batch of the playlists the run recomputes per batch.
-#}
{% macro continuation_batch(playlist_column) %}
    {{- return(refreshed_batch(playlist_column, 'int_playlist_refresh', var('continuation_playlists_per_batch'))) -}}
{%- endmacro %}
