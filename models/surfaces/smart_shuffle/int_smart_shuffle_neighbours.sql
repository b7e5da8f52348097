{{ config(materialized=batched_table()) }}
{#-
    The first step of the Smart Shuffle pools: for each playlist the run recomputes
    (int_playlist_refresh), the neighbours (fct_track_similarity) of its tracks that are in the catalog
    (dim_tracks) and not on the playlist, for the playlists long enough for a pool (the others' rows,
    8 % of them at 1 M listeners, were computed and never read),
    one row per playlist and neighbour: the summed similarity, and the playlist track most similar
    to it as the reason. A table of its own, not a CTE of fct_smart_shuffle_pools: the pools join
    these rows (tens of millions at 100k listeners) with small tables, and a stored table gives the
    planner their true size (through a CTE it guessed a thousand rows and hashed the big side).
    Like the listener intermediates it holds only the playlists of the run.
    The join and the GROUP BY work on integer keys, numbered here in id order, as the co-occurrence
    counts do; the ids are put back on the result, with the playlist's key, on which the pools
    (int_smart_shuffle_pools) batch in turn. On DuckDB, in batches of playlists
    (macros/batched_table.sql): 346 M rows at 1 M listeners.
-#}

with

playlist_tracks as (
    {{ distinct_playlist_tracks(refreshed_playlist('playlist_tracks.playlist_id')) }}
),

eligible_playlists as (
    {{ smart_shuffle_eligible_playlists('playlist_tracks') }}
),

catalog_similarity as (
    -- the neighbours in the catalog
    select
        similarity.track_id,
        similarity.similar_track_id,
        similarity.similarity
    from {{ ref('fct_track_similarity') }} as similarity
    inner join {{ ref('dim_tracks') }} as catalog_tracks on similarity.similar_track_id = catalog_tracks.track_id
),

track_keys as (
    -- every seed and neighbour; in id order, so that the smallest key is the smallest id (the
    -- tie rule of best_value_by)
    select
        track_id,
        row_number() over (order by track_id) as track_key
    from (
        select track_id from catalog_similarity
        union all
        select similar_track_id as track_id from catalog_similarity
    ) as tracks
    group by track_id
),

playlist_keys as (
    select
        playlist_id,
        row_number() over (order by playlist_id) as playlist_key
    from eligible_playlists
),

keyed_playlist_tracks as (
    -- a playlist track without a key has no neighbour and is no one's neighbour
    select
        playlist_keys.playlist_key,
        track_keys.track_key
    from playlist_tracks
    inner join playlist_keys on playlist_tracks.playlist_id = playlist_keys.playlist_id
    inner join track_keys on playlist_tracks.track_id = track_keys.track_id
    where {{ smart_shuffle_neighbour_batch('playlist_keys.playlist_key') }}
),

keyed_similarity as (
    select
        seeds.track_key as seed_track_key,
        neighbour_tracks.track_key,
        catalog_similarity.similarity
    from catalog_similarity
    inner join track_keys as seeds on catalog_similarity.track_id = seeds.track_id
    inner join track_keys as neighbour_tracks on catalog_similarity.similar_track_id = neighbour_tracks.track_id
),

neighbours as (
    select
        keyed_playlist_tracks.playlist_key,
        keyed_similarity.seed_track_key,
        keyed_similarity.track_key,
        keyed_similarity.similarity
    from keyed_playlist_tracks
    inner join keyed_similarity on keyed_playlist_tracks.track_key = keyed_similarity.seed_track_key
    left join keyed_playlist_tracks as already_there
        on
            keyed_playlist_tracks.playlist_key = already_there.playlist_key
            and keyed_similarity.track_key = already_there.track_key
    where already_there.track_key is null
),

scores as (
    -- a GROUP BY, not a window over every row
    select
        playlist_key,
        track_key,
        sum(similarity) as cooccurrence_score,
        {{ best_value_by('seed_track_key', 'similarity') }}
            as seed_track_key
    from neighbours
    group by playlist_key, track_key
),

final as (
    select
        playlist_keys.playlist_id,
        scores.playlist_key,
        neighbour_tracks.track_id,
        scores.cooccurrence_score,
        seeds.track_id as seed_track_id
    from scores
    inner join playlist_keys on scores.playlist_key = playlist_keys.playlist_key
    inner join track_keys as neighbour_tracks on scores.track_key = neighbour_tracks.track_key
    inner join track_keys as seeds on scores.seed_track_key = seeds.track_key
)

select * from final
