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
-#}

with

playlist_tracks as (
    {{ smart_shuffle_playlist_tracks(refreshed_playlist('playlist_tracks.playlist_id')) }}
),

eligible_playlists as (
    {{ smart_shuffle_eligible_playlists('playlist_tracks') }}
),

neighbours as (
    select
        playlist_tracks.playlist_id,
        playlist_tracks.track_id as seed_track_id,
        similarity.similar_track_id as track_id,
        similarity.similarity
    from playlist_tracks
    inner join eligible_playlists on playlist_tracks.playlist_id = eligible_playlists.playlist_id
    inner join {{ ref('fct_track_similarity') }} as similarity on playlist_tracks.track_id = similarity.track_id
    inner join {{ ref('dim_tracks') }} as catalog_tracks on similarity.similar_track_id = catalog_tracks.track_id
    left join playlist_tracks as already_there
        on
            playlist_tracks.playlist_id = already_there.playlist_id
            and similarity.similar_track_id = already_there.track_id
    where already_there.track_id is null
),

final as (
    -- a GROUP BY, not a window over every row
    select
        playlist_id,
        track_id,
        sum(similarity) as cooccurrence_score,
        {{ best_value_by('seed_track_id', 'similarity') }}
            as seed_track_id
    from neighbours
    group by playlist_id, track_id
)

select * from final
