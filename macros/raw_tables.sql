{#- The tables of the raw contract (tunesday/contract.py), in dependency order. -#}
{% macro raw_tables() %}
    {{ return([
        'artists', 'users', 'tracks', 'listening_events',
        'playlists', 'playlist_tracks', 'follows', 'saved_tracks', 'exposures',
    ]) }}
{% endmacro %}
