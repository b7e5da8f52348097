{{ config(materialized='table') }}

{#-
    The words of every continued-from playlist's title (macro title_tokens: lower case, split on
    anything but a-z and 0-9), on the playlist keys of int_playlist_track_keys, with each word's
    inverse document frequency ln(titled playlists / playlists with the word). Read by the title
    generator twice: the words of the playlist being continued, and what other playlists with
    the same words hold (int_title_token_tracks); and by the neighbours generator, whose
    similarity counts the words a holder's title shares with the continued playlist's.
-#}

with

playlist_keys as (
    select distinct
        playlist_key,
        playlist_id
    from {{ ref('int_playlist_track_keys') }}
),

titled as (
    select
        playlist_keys.playlist_key,
        playlists.playlist_name
    from playlist_keys
    inner join {{ ref('stg_raw__playlists') }} as playlists on playlist_keys.playlist_id = playlists.playlist_id
    where playlists.playlist_name is not null
),

tokens as (
    {{ title_tokens('titled', 'playlist_key', 'playlist_name') }}
),

document_frequency as (
    select
        token,
        count(*) as token_playlist_count
    from tokens
    group by token
)

select
    tokens.playlist_key,
    tokens.token,
    document_frequency.token_playlist_count,
    ln(
        cast((select count(*) from titled) as {{ type_double() }})
        / cast(document_frequency.token_playlist_count as {{ type_double() }})
    ) as token_idf
from tokens
inner join document_frequency on tokens.token = document_frequency.token
