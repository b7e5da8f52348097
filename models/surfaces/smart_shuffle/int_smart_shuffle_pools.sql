{{ config(
    materialized=batched_table(),
    post_hook="{{ release_consumed(['int_smart_shuffle_neighbours']) }}"
) }}

{#-
    The Smart Shuffle pools of the playlists the run recomputes (int_playlist_refresh; every
    playlist in a full build), which fct_smart_shuffle_pools stores with the pools it keeps: for
    each playlist of at least smart_shuffle_min_playlist_tracks tracks, the tracks that fit it best,
    not on it already: the neighbours (int_smart_shuffle_neighbours) of its tracks, scored by how
    many of its tracks point at them (co-occurrence), audio fit to the playlist (tempo closeness
    with half/double time folded, Camelot compatibility with its keys, energy closeness) and a
    popularity prior, with the weights of var ranking_weights (taste = co-occurrence; novelty does
    not apply). A pool holds smart_shuffle_pool_factor times the one recommendation per
    smart_shuffle_tracks_per_recommendation tracks the playlist needs: the serving shim drops the
    ones the owner has heard (Bloom filter) at request time.

    On DuckDB in batches of playlists (macros/batched_table.sql): the ranking window sorts every
    neighbour of a playlist, 346.7 M rows at 1 M listeners; a batch holds whole playlists, so
    each is ranked as in one query.
-#}

{%- set weights = var('ranking_weights') %}
{#- The batch's playlists; each CTE below reads the neighbours itself: DuckDB stores a CTE read
    more than once as a temporary table (about 50 M rows a batch at 1 M listeners). -#}
{%- set in_this_batch = smart_shuffle_pool_batch('playlist_key') %}

with

batch_playlists as (
    select distinct playlist_id
    from {{ ref('int_smart_shuffle_neighbours') }}
    where {{ in_this_batch }}
),

playlist_tracks as (
    {{ distinct_playlist_tracks(
        refreshed_playlist('playlist_tracks.playlist_id')
        ~ ' and playlist_tracks.playlist_id in (select batch_playlists.playlist_id from batch_playlists)'
    ) }}
),

eligible_playlists as (
    {{ smart_shuffle_eligible_playlists('playlist_tracks') }}
),

tracks as (
    select
        track_id,
        artist_id,
        tempo_bpm,
        {{ fold_tempo('tempo_bpm') }} as folded_tempo_bpm,
        camelot_code,
        energy
    from {{ ref('dim_tracks') }}
),

playlist_audio as (
    select
        playlist_tracks.playlist_id,
        avg(tracks.folded_tempo_bpm) as tempo_centre_bpm,
        stddev_samp(tracks.folded_tempo_bpm) as tempo_spread_bpm,
        avg(tracks.energy) as energy_centre
    from playlist_tracks
    inner join eligible_playlists on playlist_tracks.playlist_id = eligible_playlists.playlist_id
    inner join tracks on playlist_tracks.track_id = tracks.track_id
    group by playlist_tracks.playlist_id
),

key_shares as (
    select
        playlist_tracks.playlist_id,
        tracks.camelot_code,
        cast(count(*) as {{ type_double() }})
        / sum(count(*)) over (partition by playlist_tracks.playlist_id) as key_share
    from playlist_tracks
    inner join eligible_playlists on playlist_tracks.playlist_id = eligible_playlists.playlist_id
    inner join tracks on playlist_tracks.track_id = tracks.track_id
    where tracks.camelot_code is not null
    group by playlist_tracks.playlist_id, tracks.camelot_code
),

key_fit as (
    {{ camelot_key_fit('key_shares', 'playlist_id') }}
),

cooccurrence as (
    select
        playlist_id,
        playlist_key,
        track_id,
        cooccurrence_score,
        seed_track_id
    from {{ ref('int_smart_shuffle_neighbours') }}
    where {{ in_this_batch }}
),

playlist_best as (
    select
        playlist_id,
        max(cooccurrence_score) as best_cooccurrence_score
    from {{ ref('int_smart_shuffle_neighbours') }}
    where {{ in_this_batch }}
    group by playlist_id
),

popularity as (
    select distinct
        track_id,
        popularity_prior
    from {{ ref('int_track_popularity') }}
),

track_features as (
    -- one row per track: joined to the neighbours as one small table
    select
        tracks.*,
        coalesce(popularity.popularity_prior, 0) as popularity_prior
    from tracks
    left join popularity on tracks.track_id = popularity.track_id
),

scored as (
    select
        cooccurrence.playlist_id,
        cooccurrence.playlist_key,
        cooccurrence.track_id,
        cooccurrence.seed_track_id,
        tracks.popularity_prior,
        cooccurrence.cooccurrence_score / playlist_best.best_cooccurrence_score as taste_score,
        coalesce(
            exp(-0.5 * power(
                least(
                    abs(tracks.folded_tempo_bpm - playlist_audio.tempo_centre_bpm),
                    abs(2 * tracks.folded_tempo_bpm - playlist_audio.tempo_centre_bpm),
                    abs(tracks.folded_tempo_bpm / 2 - playlist_audio.tempo_centre_bpm)
                ) / greatest(coalesce(playlist_audio.tempo_spread_bpm, 0), 8), 2
            )),
            0.5
        ) as tempo_fit,
        coalesce(key_fit.key_fit, 0.5) as key_fit,
        coalesce(1 - abs(tracks.energy - playlist_audio.energy_centre), 0.5) as energy_fit
    from cooccurrence
    inner join track_features as tracks on cooccurrence.track_id = tracks.track_id
    inner join playlist_audio on cooccurrence.playlist_id = playlist_audio.playlist_id
    inner join playlist_best on cooccurrence.playlist_id = playlist_best.playlist_id
    left join key_fit on cooccurrence.playlist_id = key_fit.playlist_id and tracks.camelot_code = key_fit.camelot_code
),

ranked as (
    -- as narrow as it can be: the window below sorts every neighbour of every playlist with it
    select
        playlist_id,
        playlist_key,
        track_id,
        seed_track_id,
        taste_score,
        popularity_prior,
        (tempo_fit + key_fit + energy_fit) / 3 as audio_fit,
        {{ comparable_float('tempo_fit') }} >= 0.8 as is_tempo_match,
        {{ comparable_float('key_fit') }} >= 0.8 as is_key_match,
        {{ comparable_float('energy_fit') }} >= 0.9 as is_energy_match,
        (
            {{ weights['taste'] }} * taste_score
            + {{ weights['audio'] }} * (tempo_fit + key_fit + energy_fit) / 3
            + {{ weights['popularity'] }} * popularity_prior
        ) / {{ weights['taste'] + weights['audio'] + weights['popularity'] }} as score
    from scored
),

final as (
    select
        ranked.playlist_id,
        cast(ranked.pool_rank as {{ dbt.type_bigint() }}) as pool_rank,
        ranked.track_id,
        tracks.artist_id,
        cast(ranked.score as {{ type_double() }}) as score,
        cast(ranked.taste_score as {{ type_double() }}) as taste_score,
        cast(ranked.audio_fit as {{ type_double() }}) as audio_fit,
        cast(ranked.popularity_prior as {{ type_double() }}) as popularity_prior,
        ranked.seed_track_id,
        'playlist_neighbours:' || ranked.seed_track_id
        || case when ranked.is_tempo_match then ',tempo_match' else '' end
        || case when ranked.is_key_match then ',key_match' else '' end
        || case when ranked.is_energy_match then ',energy_match' else '' end as reason_codes,
        cast(eligible_playlists.track_count as {{ dbt.type_bigint() }}) as playlist_track_count,
        cast('{{ run_date() }}' as date) as as_of_date
    from (
        select
            *,
            -- partitioned on the playlist's integer key (one per playlist_id), cheaper to hash
            -- and compare than the id (2,000 listeners' playlists: 1.30 s against 1.57 s)
            row_number() over (
                partition by playlist_key order by {{ comparable_float('score') }} desc, track_id asc
            ) as pool_rank
        from ranked
    ) as ranked
    inner join eligible_playlists on ranked.playlist_id = eligible_playlists.playlist_id
    inner join tracks on ranked.track_id = tracks.track_id
    where
        ranked.pool_rank
        <= {{ var('smart_shuffle_pool_factor') }}
        * ceil(
            cast(eligible_playlists.track_count as {{ type_double() }})
            / {{ var('smart_shuffle_tracks_per_recommendation') }}
        )
)

select * from final
