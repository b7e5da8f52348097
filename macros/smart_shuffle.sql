{#-
    The playlists long enough for a pool (var smart_shuffle_min_playlist_tracks), with their track
    count, from a relation or CTE of distinct_playlist_tracks rows.
-#}
{% macro smart_shuffle_eligible_playlists(playlist_tracks) %}
    select
        playlist_id,
        count(*) as track_count
    from {{ playlist_tracks }}
    group by playlist_id
    having count(*) >= {{ var('smart_shuffle_min_playlist_tracks') }}
{%- endmacro %}

{#-
    The batch condition of int_smart_shuffle_neighbours (macros/batched_table.sql): about
    var smart_shuffle_batch_playlist_tracks tracks of the playlists the run recomputes per batch.
-#}
{% macro smart_shuffle_neighbour_batch(playlist_key) %}
    {%- set playlist_tracks = ref('stg_raw__playlist_tracks') -%}
    {%- set count_query -%}
        select count(*) from {{ playlist_tracks }} as playlist_tracks
        where {{ refreshed_playlist('playlist_tracks.playlist_id') }}
    {%- endset -%}
    {{- return(in_batch(playlist_key, [playlist_tracks, ref('int_playlist_refresh')], count_query,
                        var('smart_shuffle_batch_playlist_tracks'))) -}}
{%- endmacro %}

{#-
    The batch condition of int_smart_shuffle_pools (macros/batched_table.sql): about
    var smart_shuffle_batch_neighbours neighbours (int_smart_shuffle_neighbours) per batch.
-#}
{% macro smart_shuffle_pool_batch(playlist_key) %}
    {%- set neighbours = ref('int_smart_shuffle_neighbours') -%}
    {{- return(in_batch(playlist_key, [neighbours], 'select count(*) from ' ~ neighbours,
                        var('smart_shuffle_batch_neighbours'))) -}}
{%- endmacro %}
