{{ config(materialized=batched_table()) }}

{#-
    The item signal of the playlist continuations: for each track, the var
    continuation_cooccurring_tracks tracks it shares playlists with most, each shared playlist h
    counting 1 / sqrt(|h|) (a long playlist says less about any one pair). Over every playlist,
    recomputed each run (a full build's cost: the pairs of every playlist, 1.34 billion at 1 M
    listeners). fct_playlist_continuations sums these rows over a playlist's seeds; before, it
    joined every seed to every playlist holding it and to all their tracks, 632 billion rows at
    1 M listeners.

    On the integer keys of int_playlist_track_keys, which the continuations join on. On DuckDB in
    batches of source tracks (macros/batched_table.sql), about var continuation_batch_pairs pairs
    a batch: Σ |p|² over the playlists p, which is the sum of the rows' playlist sizes.
-#}

{%- set playlist_tracks = ref('int_playlist_track_keys') %}
{%- set count_query -%}
    select coalesce(sum(playlist_track_count), 0) from {{ playlist_tracks }}
{%- endset %}

with

keyed as (
    select
        playlist_key,
        track_key,
        1.0 / sqrt(cast(playlist_track_count as {{ type_double() }})) as pair_weight
    from {{ playlist_tracks }}
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
)

select
    track_key,
    cooccurrence_rank,
    cooccurring_track_key,
    strength
from ranked
where cooccurrence_rank <= {{ var('continuation_cooccurring_tracks') }}
