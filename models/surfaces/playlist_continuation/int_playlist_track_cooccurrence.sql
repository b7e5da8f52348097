{{ config(materialized=batched_table()) }}

{#-
    The item-item pairs of the playlist continuations: for each track i, the tracks j it shares
    playlists with, kept when j is among i's var continuation_cooccurring_tracks best by any of
    - strength: each shared playlist h counting 1 / sqrt(|h|) (a long playlist says less about
      any one pair), the co-occurrence generator's; or
    - cosine, the asymmetric cosine with shrinkage of the cosine generator:
      shared playlists / (n_i^α n_j^(1-α) + shrink), n = the tracks' playlist counts,
      α = var continuation_cosine_alpha, shrink = var continuation_cosine_shrink; or
    - rp3beta, the RP3beta generator's (Paudel et al. 2017, Dacrema et al. 2019): the probability
      of a random walk i → playlist h → j, Σ_h 1 / (n_i |h|), over n_j^β (β = var
      continuation_rp3_beta), which takes the popular tracks down.
    Over every playlist, recomputed each run (a full build's cost: the pairs of every playlist,
    1.34 billion at 1 M listeners). The generators sum these rows over a playlist's seeds; before,
    the continuations joined every seed to every playlist holding it and to all their tracks, 632
    billion rows at 1 M listeners.

    On the integer keys of int_playlist_track_keys, which the continuations join on. On DuckDB in
    batches of source tracks (macros/batched_table.sql), about var continuation_batch_pairs pairs
    a batch: Σ |p|² over the playlists p, which is the sum of the rows' playlist sizes.
-#}

{%- set playlist_tracks = ref('int_playlist_track_keys') %}
{%- set alpha = var('continuation_cosine_alpha') %}
{%- set beta = var('continuation_rp3_beta') %}
{%- set count_query -%}
    select coalesce(sum(playlist_track_count), 0) from {{ playlist_tracks }}
{%- endset %}

with

keyed as (
    select
        playlist_key,
        track_key,
        track_playlist_count,
        1.0 / sqrt(cast(playlist_track_count as {{ type_double() }})) as pair_weight,
        1.0 / cast(playlist_track_count as {{ type_double() }}) as walk_weight
    from {{ playlist_tracks }}
),

pairs as (
    select
        sources.track_key,
        cooccurring.track_key as cooccurring_track_key,
        sum(sources.pair_weight) as strength,
        count(*) as shared_playlists,
        cast(count(*) as {{ type_double() }}) / (
            power(cast(max(sources.track_playlist_count) as {{ type_double() }}), {{ alpha }})
            * power(cast(max(cooccurring.track_playlist_count) as {{ type_double() }}), 1 - {{ alpha }})
            + {{ var('continuation_cosine_shrink') }}
        ) as cosine,
        sum(sources.walk_weight) / (
            cast(max(sources.track_playlist_count) as {{ type_double() }})
            * power(cast(max(cooccurring.track_playlist_count) as {{ type_double() }}), {{ beta }})
        ) as rp3beta
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
        shared_playlists,
        cosine,
        rp3beta,
        row_number() over (
            partition by track_key
            order by {{ comparable_float('strength') }} desc, cooccurring_track_key asc
        ) as cooccurrence_rank,
        row_number() over (
            partition by track_key
            order by {{ comparable_float('cosine') }} desc, cooccurring_track_key asc
        ) as cosine_rank,
        row_number() over (
            partition by track_key
            order by {{ comparable_float('rp3beta') }} desc, cooccurring_track_key asc
        ) as rp3beta_rank
    from pairs
)

select
    track_key,
    cooccurrence_rank,
    cosine_rank,
    rp3beta_rank,
    cooccurring_track_key,
    strength,
    shared_playlists,
    cosine,
    rp3beta
from ranked
where
    cooccurrence_rank <= {{ var('continuation_cooccurring_tracks') }}
    or cosine_rank <= {{ var('continuation_cooccurring_tracks') }}
    or rp3beta_rank <= {{ var('continuation_cooccurring_tracks') }}
