{{ config(materialized=inlined_in_batches()) }}

{#-
    Candidates for everyone, and all a listener without history gets: the tracks most streamed
    lately in the listener's country, within their top genre when they have one.
    On DuckDB computed by int_user_candidates batch by batch, never stored (macro
    inlined_in_batches); the batch's listeners are chosen here.
-#}

with

popularity as (
    select * from {{ ref('int_track_popularity') }}
),

tracks as (
    select
        track_id,
        genre
    from {{ ref('dim_tracks') }}
),

listeners as (
    select
        members.user_id,
        members.country_code,
        taste_profiles.top_genre
    from {{ ref('stg_raw__users') }} as members
    left join {{ ref('dim_user_taste_profiles') }} as taste_profiles on members.user_id = taste_profiles.user_id
    where {{ refreshed_listener('members.user_id') }} and {{ listener_batch('members.user_id') }}
),

segment_tracks as (
    select
        popularity.country_code,
        tracks.genre,
        popularity.track_id,
        popularity.country_stream_count,
        row_number() over (
            partition by popularity.country_code, tracks.genre
            order by popularity.country_stream_count desc, popularity.track_id asc
        ) as genre_rank,
        row_number() over (
            partition by popularity.country_code
            order by popularity.country_stream_count desc, popularity.track_id asc
        ) as country_rank,
        max(popularity.country_stream_count) over (partition by popularity.country_code) as country_best
    from popularity
    inner join tracks on popularity.track_id = tracks.track_id
),

matched as (
    -- In the listener's top genre (when known), then their country as a whole.
    select
        listeners.user_id,
        segment_tracks.track_id,
        segment_tracks.country_stream_count,
        segment_tracks.country_best,
        listeners.country_code || '/' || segment_tracks.genre as segment
    from listeners
    inner join segment_tracks
        on
            listeners.country_code = segment_tracks.country_code
            and listeners.top_genre = segment_tracks.genre
    where segment_tracks.genre_rank <= {{ var('candidate_popular_tracks') }}
    union all
    select
        listeners.user_id,
        segment_tracks.track_id,
        segment_tracks.country_stream_count,
        segment_tracks.country_best,
        listeners.country_code as segment
    from listeners
    inner join segment_tracks on listeners.country_code = segment_tracks.country_code
    where segment_tracks.country_rank <= {{ var('candidate_popular_tracks') }}
),

final as (
    -- One row per listener and track: a track in both segments keeps the genre's (the longer
    -- name); its counts are the same in both (one row per country and track).
    select
        user_id,
        track_id,
        'popular' as candidate_source,
        cast(max(country_stream_count) as {{ type_double() }}) / max(country_best) as source_score,
        'segment' as seed_type,
        max(segment) as seed_id
    from matched
    group by user_id, track_id
)

select * from final
