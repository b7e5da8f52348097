{{ config(materialized=inlined_in_batches()) }}

{#-
    Candidate generator "neighbours" (playlist kNN): the var continuation_neighbours playlists
    most like the seeds, found among the seeds' holders (int_playlist_track_holders, at most var
    continuation_holders_per_track a seed), each adding its similarity to every track it holds.
    A holder's similarity is (shared seeds + w × title match)² / |h|^0.8: the title match is the
    idf of the title words both playlists have over the idf of all of this playlist's words (0 to
    1; int_playlist_title_tokens), w = var continuation_neighbour_title_weight, so a holder with
    the same title counts as if it shared w more seeds.
-#}

with

seeds as (
    select * from {{ ref('int_playlist_continuation_seeds') }}
),

title_tokens as (
    select * from {{ ref('int_playlist_title_tokens') }}
),

continued as (
    select distinct playlist_key from seeds
),

seed_overlaps as (
    select
        seeds.playlist_key,
        holders.playlist_key as holder_playlist_key,
        count(*) as shared_seeds,
        max(holders.playlist_track_count) as holder_track_count
    from seeds
    inner join {{ ref('int_playlist_track_holders') }} as holders
        on seeds.track_key = holders.track_key and seeds.playlist_key <> holders.playlist_key
    group by seeds.playlist_key, holders.playlist_key
),

title_idf as (
    select
        title_tokens.playlist_key,
        sum(title_tokens.token_idf) as title_idf
    from title_tokens
    inner join continued on title_tokens.playlist_key = continued.playlist_key
    group by title_tokens.playlist_key
),

title_overlaps as (
    select
        seed_overlaps.playlist_key,
        seed_overlaps.holder_playlist_key,
        sum(own_tokens.token_idf) as shared_idf
    from seed_overlaps
    inner join title_tokens as own_tokens on seed_overlaps.playlist_key = own_tokens.playlist_key
    inner join title_tokens as holder_tokens
        on seed_overlaps.holder_playlist_key = holder_tokens.playlist_key and own_tokens.token = holder_tokens.token
    group by seed_overlaps.playlist_key, seed_overlaps.holder_playlist_key
),

similarities as (
    select
        seed_overlaps.playlist_key,
        seed_overlaps.holder_playlist_key,
        power(
            cast(seed_overlaps.shared_seeds as {{ type_double() }})
            + {{ var('continuation_neighbour_title_weight') }}
            * coalesce(title_overlaps.shared_idf / nullif(title_idf.title_idf, 0), 0),
            2
        ) / power(cast(seed_overlaps.holder_track_count as {{ type_double() }}), 0.8) as similarity
    from seed_overlaps
    left join title_overlaps
        on
            seed_overlaps.playlist_key = title_overlaps.playlist_key
            and seed_overlaps.holder_playlist_key = title_overlaps.holder_playlist_key
    left join title_idf on seed_overlaps.playlist_key = title_idf.playlist_key
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
        from similarities
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
