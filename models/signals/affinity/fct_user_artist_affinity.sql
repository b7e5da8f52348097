{{ config(
    materialized='incremental',
    pre_hook="{{ delete_refreshed_listeners() }}",
    **per_listener_config()
) }}

{#-
    How much each listener likes each artist, as of run_date: the sum of their decayed listening
    evidence over the artist's tracks (exact, because decay is linear), plus a standing bonus when
    they follow the artist. Saved tracks count through their own listening only.

    Per listener (macros/refresh.sql): a daily run recomputes the listeners of int_user_refresh;
    the others keep the rows of their last refresh (as_of_date), at most a week old.
-#}
{%- set weights = var('affinity_weights') -%}

with

track_affinity as (
    select * from {{ ref('fct_user_track_affinity') }}
    where {{ refreshed_listener('user_id') }}
),

follows as (
    select
        user_id,
        artist_id
    from {{ ref('stg_raw__follows') }}
    where
        cast(followed_at as date) <= cast('{{ run_date() }}' as date)
        and {{ refreshed_listener('user_id') }}
),

per_artist as (
    select
        user_id,
        artist_id,
        sum(listening_score) as listening_score,
        sum(stream_count) as stream_count,
        sum(skip_count) as skip_count,
        sum(case when stream_count > 0 then 1 else 0 end) as streamed_track_count,
        sum(case when is_saved then 1 else 0 end) as saved_track_count,
        min(first_evidence_date) as first_evidence_date,
        max(last_evidence_date) as last_evidence_date
    from track_affinity
    group by user_id, artist_id
),

combined as (
    select
        per_artist.first_evidence_date,
        per_artist.last_evidence_date,
        coalesce(per_artist.user_id, follows.user_id) as user_id,
        coalesce(per_artist.artist_id, follows.artist_id) as artist_id,
        coalesce(per_artist.listening_score, 0) as listening_score,
        follows.user_id is not null as is_following,
        coalesce(per_artist.stream_count, 0) as stream_count,
        coalesce(per_artist.skip_count, 0) as skip_count,
        coalesce(per_artist.streamed_track_count, 0) as streamed_track_count,
        coalesce(per_artist.saved_track_count, 0) as saved_track_count
    from per_artist
    full outer join follows
        on per_artist.user_id = follows.user_id and per_artist.artist_id = follows.artist_id
),

scored as (
    {{ affinity_scored('combined', 'artist_id', 'is_following', weights['follow']) }}
),

final as (
    select
        user_id,
        artist_id,
        cast(affinity_score as {{ type_double() }}) as affinity_score,
        cast(listening_score as {{ type_double() }}) as listening_score,
        is_following,
        cast(stream_count as {{ dbt.type_bigint() }}) as stream_count,
        cast(skip_count as {{ dbt.type_bigint() }}) as skip_count,
        cast(streamed_track_count as {{ dbt.type_bigint() }}) as streamed_track_count,
        cast(saved_track_count as {{ dbt.type_bigint() }}) as saved_track_count,
        first_evidence_date,
        last_evidence_date,
        affinity_rank,
        as_of_date
    from scored
)

select * from final
