{{ config(
    materialized='incremental',
    pre_hook="{{ delete_refreshed_playlists() }}",
    post_hook=["{{ insert_other_batches() }}", "{{ release_consumed(['int_playlist_track_cooccurrence']) }}"],
    **per_playlist_config()
) }}

{#-
    Playlist continuation (the RecSys Challenge 2018 task): for each playlist of at most
    var continuation_max_seed_tracks tracks (its "seeds"), the continuation_size tracks most
    likely to come next, not on it already. Three signals over all playlists, each scaled to its
    best value per playlist (seeds' own rows included), weighted by var continuation_weights, then
    damped by popularity:
    - item: co-occurrence with the seeds (int_playlist_track_cooccurrence: each shared playlist h
      counting 1 / sqrt(|h|), the var continuation_cooccurring_tracks strongest per seed), each
      seed weighted 1 / sqrt(its playlist count), so that long playlists and ubiquitous seeds say
      less;
    - playlist_neighbours: the continuation_neighbours playlists most like the seeds
      (shared seeds² / |p|^0.8), found among the seeds' holders (int_playlist_track_holders, at
      most continuation_holders_per_track a track), each adding its similarity to every track it
      holds;
    - artist: tracks by the seeds' artists, by how many seeds share the artist, favouring the
      artist's better-known tracks (sqrt of their playlist count);
    score = Σ weight × strength / playlist_count^continuation_popularity_damping.
    Measured with tunesday-recsys on the shared MPD playlists (see README).

    Incremental per playlist, like the Smart Shuffle pools: a daily run recomputes the playlists
    int_playlist_refresh names (a changed track list, the playlist's day of the week, a new one);
    the pre-hook deletes their rows and those of playlists gone from staging. On DuckDB in batches
    of about var continuation_playlists_per_batch of those playlists (macros/batched_table.sql,
    the post-hook appends the batches after the first), split on a hash of the id. Joined on the
    integer keys of int_playlist_track_keys; the ids are put back on the rows kept.
-#}

{%- set weights = var('continuation_weights') %}

with

playlist_tracks as (
    select * from {{ ref('int_playlist_track_keys') }}
),

tracks as (
    select distinct
        track_key,
        track_id,
        track_playlist_count
    from playlist_tracks
),

seeds as (
    -- the seeds of the batch's playlists the run recomputes
    select
        playlist_key,
        playlist_id,
        track_key,
        track_playlist_count
    from playlist_tracks
    where
        playlist_track_count <= {{ var('continuation_max_seed_tracks') }}
        and {{ refreshed_playlist('playlist_id') }}
        and {{ continuation_batch('playlist_id') }}
),

item_signal as (
    select
        seeds.playlist_key,
        cooccurrence.cooccurring_track_key as track_key,
        sum(cooccurrence.strength / sqrt(cast(seeds.track_playlist_count as {{ type_double() }}))) as strength
    from seeds
    inner join {{ ref('int_playlist_track_cooccurrence') }} as cooccurrence on seeds.track_key = cooccurrence.track_key
    group by seeds.playlist_key, cooccurrence.cooccurring_track_key
),

neighbours as (
    select
        seed_overlaps.playlist_key,
        seed_overlaps.holder_playlist_key,
        seed_overlaps.similarity,
        row_number() over (
            partition by seed_overlaps.playlist_key
            order by {{ comparable_float('seed_overlaps.similarity') }} desc, seed_overlaps.holder_playlist_key asc
        ) as neighbour_rank
    from (
        select
            seeds.playlist_key,
            holders.playlist_key as holder_playlist_key,
            power(cast(count(*) as {{ type_double() }}), 2)
            / power(cast(max(holders.playlist_track_count) as {{ type_double() }}), 0.8) as similarity
        from seeds
        inner join {{ ref('int_playlist_track_holders') }} as holders
            on seeds.track_key = holders.track_key and seeds.playlist_key <> holders.playlist_key
        group by seeds.playlist_key, holders.playlist_key
    ) as seed_overlaps
),

neighbour_signal as (
    select
        neighbours.playlist_key,
        neighbour_tracks.track_key,
        sum(neighbours.similarity) as strength
    from neighbours
    inner join playlist_tracks as neighbour_tracks on neighbours.holder_playlist_key = neighbour_tracks.playlist_key
    where neighbours.neighbour_rank <= {{ var('continuation_neighbours') }}
    group by neighbours.playlist_key, neighbour_tracks.track_key
),

track_artists as (
    select
        tracks.track_key,
        dim_tracks.artist_id,
        tracks.track_playlist_count
    from tracks
    inner join {{ ref('dim_tracks') }} as dim_tracks on tracks.track_id = dim_tracks.track_id
),

artist_signal as (
    select
        seed_artists.playlist_key,
        artist_tracks.track_key,
        seed_artists.seed_count * sqrt(cast(artist_tracks.track_playlist_count as {{ type_double() }})) as strength
    from (
        select
            seeds.playlist_key,
            seed_tracks.artist_id,
            count(*) as seed_count
        from seeds
        inner join track_artists as seed_tracks on seeds.track_key = seed_tracks.track_key
        group by seeds.playlist_key, seed_tracks.artist_id
    ) as seed_artists
    inner join track_artists as artist_tracks on seed_artists.artist_id = artist_tracks.artist_id
),

signals as (
    select
        playlist_key,
        track_key,
        {{ weights['item'] }} * strength / max(strength) over (partition by playlist_key) as weighted
    from item_signal
    union all
    select
        playlist_key,
        track_key,
        {{ weights['playlist_neighbours'] }} * strength / max(strength) over (partition by playlist_key) as weighted
    from neighbour_signal
    union all
    select
        playlist_key,
        track_key,
        {{ weights['artist'] }} * strength / max(strength) over (partition by playlist_key) as weighted
    from artist_signal
),

scored as (
    select
        signals.playlist_key,
        signals.track_key,
        sum(signals.weighted)
        / power(
            cast(max(tracks.track_playlist_count) as {{ type_double() }}),
            {{ var('continuation_popularity_damping') }}
        ) as score
    from signals
    inner join tracks on signals.track_key = tracks.track_key
    left join seeds
        on signals.playlist_key = seeds.playlist_key and signals.track_key = seeds.track_key
    where seeds.track_key is null
    group by signals.playlist_key, signals.track_key
),

ranked as (
    select
        playlist_key,
        track_key,
        score,
        row_number() over (
            partition by playlist_key order by {{ comparable_float('score') }} desc, track_key asc
        ) as continuation_rank
    from scored
),

batch_playlists as (
    select distinct
        playlist_key,
        playlist_id
    from seeds
)

select
    batch_playlists.playlist_id,
    ranked.continuation_rank,
    tracks.track_id,
    ranked.score,
    cast('{{ run_date() }}' as date) as as_of_date
from ranked
inner join batch_playlists on ranked.playlist_key = batch_playlists.playlist_key
inner join tracks on ranked.track_key = tracks.track_key
where ranked.continuation_rank <= {{ var('continuation_size') }}

-- depends_on: {{ ref('int_playlist_refresh') }} (the pre-hook deletes the rows of the playlists it names)
