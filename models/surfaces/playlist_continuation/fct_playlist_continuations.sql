{{ config(
    materialized='incremental',
    pre_hook="{{ delete_refreshed_playlists() }}",
    post_hook="{{ insert_other_batches() }}",
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
    the post-hook appends the batches after the first), split on a hash of the id.
-#}

{%- set weights = var('continuation_weights') %}

with

playlist_tracks as (
    {{ distinct_playlist_tracks() }}
),

playlist_sizes as (
    select
        playlist_id,
        count(*) as track_count
    from playlist_tracks
    group by playlist_id
),

track_reach as (
    select
        track_id,
        count(*) as playlist_count
    from playlist_tracks
    group by track_id
),

seeds as (
    -- the seeds of the batch's playlists the run recomputes
    select
        playlist_tracks.playlist_id,
        playlist_tracks.track_id
    from playlist_tracks
    inner join playlist_sizes on playlist_tracks.playlist_id = playlist_sizes.playlist_id
    where
        playlist_sizes.track_count <= {{ var('continuation_max_seed_tracks') }}
        and {{ refreshed_playlist('playlist_tracks.playlist_id') }}
        and {{ continuation_batch('playlist_tracks.playlist_id') }}
),

item_signal as (
    select
        seeds.playlist_id,
        cooccurrence.cooccurring_track_id as track_id,
        sum(cooccurrence.strength / sqrt(cast(seed_reach.playlist_count as {{ type_double() }}))) as strength
    from seeds
    inner join {{ ref('int_playlist_track_cooccurrence') }} as cooccurrence on seeds.track_id = cooccurrence.track_id
    inner join track_reach as seed_reach on seeds.track_id = seed_reach.track_id
    group by seeds.playlist_id, cooccurrence.cooccurring_track_id
),

neighbours as (
    select
        seed_overlaps.playlist_id,
        seed_overlaps.holder_playlist_id,
        seed_overlaps.similarity,
        row_number() over (
            partition by seed_overlaps.playlist_id
            order by {{ comparable_float('seed_overlaps.similarity') }} desc, seed_overlaps.holder_playlist_id asc
        ) as neighbour_rank
    from (
        select
            seeds.playlist_id,
            holders.playlist_id as holder_playlist_id,
            power(cast(count(*) as {{ type_double() }}), 2)
            / power(cast(max(holders.playlist_track_count) as {{ type_double() }}), 0.8) as similarity
        from seeds
        inner join {{ ref('int_playlist_track_holders') }} as holders
            on seeds.track_id = holders.track_id and seeds.playlist_id <> holders.playlist_id
        group by seeds.playlist_id, holders.playlist_id
    ) as seed_overlaps
),

neighbour_signal as (
    select
        neighbours.playlist_id,
        neighbour_tracks.track_id,
        sum(neighbours.similarity) as strength
    from neighbours
    inner join playlist_tracks as neighbour_tracks on neighbours.holder_playlist_id = neighbour_tracks.playlist_id
    where neighbours.neighbour_rank <= {{ var('continuation_neighbours') }}
    group by neighbours.playlist_id, neighbour_tracks.track_id
),

track_artists as (
    select
        tracks.track_id,
        tracks.artist_id,
        track_reach.playlist_count
    from {{ ref('dim_tracks') }} as tracks
    inner join track_reach on tracks.track_id = track_reach.track_id
),

artist_signal as (
    select
        seed_artists.playlist_id,
        artist_tracks.track_id,
        seed_artists.seed_count * sqrt(cast(artist_tracks.playlist_count as {{ type_double() }})) as strength
    from (
        select
            seeds.playlist_id,
            seed_tracks.artist_id,
            count(*) as seed_count
        from seeds
        inner join track_artists as seed_tracks on seeds.track_id = seed_tracks.track_id
        group by seeds.playlist_id, seed_tracks.artist_id
    ) as seed_artists
    inner join track_artists as artist_tracks on seed_artists.artist_id = artist_tracks.artist_id
),

signals as (
    select
        playlist_id,
        track_id,
        {{ weights['item'] }} * strength / max(strength) over (partition by playlist_id) as weighted
    from item_signal
    union all
    select
        playlist_id,
        track_id,
        {{ weights['playlist_neighbours'] }} * strength / max(strength) over (partition by playlist_id) as weighted
    from neighbour_signal
    union all
    select
        playlist_id,
        track_id,
        {{ weights['artist'] }} * strength / max(strength) over (partition by playlist_id) as weighted
    from artist_signal
),

scored as (
    select
        signals.playlist_id,
        signals.track_id,
        sum(signals.weighted)
        / power(
            cast(max(track_reach.playlist_count) as {{ type_double() }}),
            {{ var('continuation_popularity_damping') }}
        ) as score
    from signals
    inner join track_reach on signals.track_id = track_reach.track_id
    left join seeds
        on signals.playlist_id = seeds.playlist_id and signals.track_id = seeds.track_id
    where seeds.track_id is null
    group by signals.playlist_id, signals.track_id
),

ranked as (
    select
        playlist_id,
        track_id,
        score,
        row_number() over (
            partition by playlist_id order by {{ comparable_float('score') }} desc, track_id asc
        ) as continuation_rank
    from scored
)

select
    playlist_id,
    continuation_rank,
    track_id,
    score,
    cast('{{ run_date() }}' as date) as as_of_date
from ranked
where continuation_rank <= {{ var('continuation_size') }}

-- depends_on: {{ ref('int_playlist_refresh') }} (the pre-hook deletes the rows of the playlists it names)
