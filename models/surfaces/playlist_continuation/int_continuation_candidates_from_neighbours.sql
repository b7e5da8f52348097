{{ config(materialized=inlined_in_batches()) }}

{#-
    Candidate generator "neighbours" (playlist kNN): the var continuation_neighbours playlists
    most like the seeds (shared seeds² / |h|^0.8), found among the seeds' holders
    (int_playlist_track_holders, at most var continuation_holders_per_track a seed), each adding
    its similarity to every track it holds.
-#}

with

seeds as (
    select * from {{ ref('int_playlist_continuation_seeds') }}
),

seed_overlaps as (
    select
        seeds.playlist_key,
        holders.playlist_key as holder_playlist_key,
        power(cast(count(*) as {{ type_double() }}), 2)
        / power(cast(max(holders.playlist_track_count) as {{ type_double() }}), 0.8) as similarity
    from seeds
    inner join {{ ref('int_playlist_track_holders') }} as holders
        on seeds.track_key = holders.track_key and seeds.playlist_key <> holders.playlist_key
    group by seeds.playlist_key, holders.playlist_key
),

neighbours as (
    select
        playlist_key,
        holder_playlist_key,
        similarity
    from (
        select
            playlist_key,
            holder_playlist_key,
            similarity,
            row_number() over (
                partition by playlist_key
                order by {{ comparable_float('similarity') }} desc, holder_playlist_key asc
            ) as neighbour_rank
        from seed_overlaps
    ) as ranked
    where neighbour_rank <= {{ var('continuation_neighbours') }}
),

scored as (
    select
        neighbours.playlist_key,
        neighbour_tracks.track_key,
        sum(neighbours.similarity) as score
    from neighbours
    inner join {{ ref('int_playlist_track_keys') }} as neighbour_tracks
        on neighbours.holder_playlist_key = neighbour_tracks.playlist_key
    group by neighbours.playlist_key, neighbour_tracks.track_key
)

{{ top_continuation_candidates('scored') }}
