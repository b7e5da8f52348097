{{ config(materialized=inlined_in_batches()) }}

{#-
    Candidates: the most popular tracks of artists similar (fct_artist_similarity) to a
    listener's familiar and core artists (the candidate_seed_artists strongest by affinity).
    A track's score is the sum over the seeds of similarity x its popularity factor, which is
    its artist's summed similarity x that factor: the seeds are added up per similar artist
    first (a fifth of the rows per track), and the reason is the seed most similar to it.
    On DuckDB computed by int_user_candidates batch by batch, never stored (macro
    inlined_in_batches); the batch's listeners are chosen here, on the seed artists.
-#}

with

seed_artists as (
    select
        familiarity.user_id,
        familiarity.artist_id,
        row_number() over (
            partition by familiarity.user_id
            order by {{ comparable_float('affinity.affinity_score') }} desc, familiarity.artist_id asc
        ) as seed_rank
    from {{ ref('fct_user_artist_familiarity') }} as familiarity
    inner join {{ ref('fct_user_artist_affinity') }} as affinity
        on familiarity.user_id = affinity.user_id and familiarity.artist_id = affinity.artist_id
    where
        familiarity.familiarity_tier in ('familiar', 'core')
        and {{ refreshed_listener('familiarity.user_id') }}
        and {{ listener_batch('familiarity.user_id') }}
),

artist_top_tracks as (
    select
        artist_id,
        track_id,
        popularity
    from (
        select
            artist_id,
            track_id,
            popularity,
            row_number() over (
                partition by artist_id order by coalesce(popularity, 0) desc, track_id asc
            ) as track_rank
        from {{ ref('dim_tracks') }}
        -- Real catalogs (playlist and history exports) often know neither date nor popularity.
        where release_date is null or release_date <= cast('{{ run_date() }}' as date)
    ) as ranked_tracks
    where track_rank <= {{ var('candidate_tracks_per_artist') }}
),

similar_artists as (
    -- One row per listener and similar artist: the seeds' summed similarity, the closest seed.
    select
        seed_artists.user_id,
        similarity.similar_artist_id as artist_id,
        sum(similarity.similarity) as similarity_sum,
        {{ best_value_by('seed_artists.artist_id', 'similarity.similarity') }} as seed_artist_id
    from seed_artists
    inner join {{ ref('fct_artist_similarity') }} as similarity on seed_artists.artist_id = similarity.artist_id
    where seed_artists.seed_rank <= {{ var('candidate_seed_artists') }}
    group by seed_artists.user_id, similarity.similar_artist_id
),

final as (
    select
        similar_artists.user_id,
        artist_top_tracks.track_id,
        'similar_artists' as candidate_source,
        cast(
            similar_artists.similarity_sum
            * (1 + cast(coalesce(artist_top_tracks.popularity, 0) as {{ type_double() }})) / 101
            as {{ type_double() }}
        ) as source_score,
        'artist' as seed_type,
        similar_artists.seed_artist_id as seed_id
    from similar_artists
    inner join artist_top_tracks on similar_artists.artist_id = artist_top_tracks.artist_id
)

select * from final
