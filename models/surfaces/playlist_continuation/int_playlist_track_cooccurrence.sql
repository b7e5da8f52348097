{{ config(materialized=batched_table()) }}

{#-
    The item signal of the playlist continuations: for each track, the var
    continuation_cooccurring_tracks tracks it shares playlists with most, each shared playlist h
    counting 1 / sqrt(|h|) (a long playlist says less about any one pair). Over every playlist,
    recomputed each run (a full build's cost: the pairs of every playlist, 1.34 billion at 1 M
    listeners). fct_playlist_continuations sums these rows over a playlist's seeds; before, it
    joined every seed to every playlist holding it and to all their tracks, 632 billion rows at
    1 M listeners.

    Integer keys, numbered here in id order, for the pair join and its GROUP BY; the ids are put
    back on the result. On DuckDB in batches of source tracks (macros/batched_table.sql), about
    var continuation_batch_pairs pairs a batch.
-#}

{%- set playlist_tracks = ref('stg_raw__playlist_tracks') %}
{%- set count_query -%}
    select coalesce(sum(track_count * track_count), 0)
    from (select count(*) as track_count from {{ playlist_tracks }} group by playlist_id) as sizes
{%- endset %}

with

playlist_tracks as (
    {{ distinct_playlist_tracks() }}
),

track_keys as (
    select
        track_id,
        row_number() over (order by track_id) as track_key
    from playlist_tracks
    group by track_id
),

playlist_keys as (
    select
        playlist_id,
        row_number() over (order by playlist_id) as playlist_key,
        1.0 / sqrt(cast(count(*) as {{ type_double() }})) as pair_weight
    from playlist_tracks
    group by playlist_id
),

keyed as (
    select
        playlist_keys.playlist_key,
        playlist_keys.pair_weight,
        track_keys.track_key
    from playlist_tracks
    inner join playlist_keys on playlist_tracks.playlist_id = playlist_keys.playlist_id
    inner join track_keys on playlist_tracks.track_id = track_keys.track_id
),

pairs as (
    select
        sources.track_key,
        cooccurring.track_key as cooccurring_track_key,
        sum(sources.pair_weight) as strength
    from keyed as sources
    inner join keyed as cooccurring
        on sources.playlist_key = cooccurring.playlist_key and sources.track_key <> cooccurring.track_key
    where {{ in_batch('sources.track_key', [playlist_tracks], count_query, var('continuation_batch_pairs')) }}
    group by sources.track_key, cooccurring.track_key
),

ranked as (
    select
        track_key,
        cooccurring_track_key,
        strength,
        row_number() over (
            partition by track_key
            order by {{ comparable_float('strength') }} desc, cooccurring_track_key asc
        ) as cooccurrence_rank
    from pairs
),

final as (
    select
        tracks.track_id,
        ranked.cooccurrence_rank,
        cooccurring.track_id as cooccurring_track_id,
        ranked.strength
    from ranked
    inner join track_keys as tracks on ranked.track_key = tracks.track_key
    inner join track_keys as cooccurring on ranked.cooccurring_track_key = cooccurring.track_key
    where ranked.cooccurrence_rank <= {{ var('continuation_cooccurring_tracks') }}
)

select * from final
