{{ config(materialized=inlined_in_batches()) }}

{#-
    The artists of each continued playlist's seeds and how many seeds each has: the artist
    generator's starting point and the candidates' artist_seed_count. On DuckDB inlined in the
    batch's query like the seeds.
-#}

select
    seeds.playlist_key,
    track_artists.artist_id,
    count(*) as artist_seed_count
from {{ ref('int_playlist_continuation_seeds') }} as seeds
inner join {{ ref('int_playlist_track_artists') }} as track_artists on seeds.track_key = track_artists.track_key
group by seeds.playlist_key, track_artists.artist_id
