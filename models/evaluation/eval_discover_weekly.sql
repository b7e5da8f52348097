{#-
    Offline evaluation of Discover Weekly over a time split: the lists made at run_date (from
    data up to run_date) against what each listener went on to stream over the next
    eval_test_days days, read from the raw events (the warehouse has not loaded them yet), and
    the same metrics, in the same run, for the lists each ranking of the listeners' candidates
    would make (fct_user_recommendations' ranker_score and blend_score: Discover Weekly's rules
    applied to each, macro discover_weekly_picks, and For You's top discover_weekly_size by each)
    and for a popularity baseline (the most streamed tracks lately that the listener never played). Relevant = a track the listener never played before
    and streamed in the test window. Run it with run_date at least eval_test_days before the
    last day of data (bench/offline_eval.py does); otherwise the test window is empty and the
    relevance metrics are null.
-#}

{%- set size = var('discover_weekly_size') %}

with

ever_played as (
    select
        user_id,
        track_id
    from {{ ref('int_user_track_affinity_state') }}
),

test_streams as (
    select distinct
        events.user_id,
        events.track_id
    from {{ source('raw', 'listening_events') }} as events
    left join ever_played
        on events.user_id = ever_played.user_id and events.track_id = ever_played.track_id
    where
        ever_played.track_id is null
        and events.ms_played >= {{ var('stream_min_ms') }}
        and cast(events.played_at as date) > cast('{{ run_date() }}' as date)
        and {{ days_between("cast('" ~ run_date() ~ "' as date)", 'cast(events.played_at as date)') }}
        <= {{ var('eval_test_days') }}
),

relevant_counts as (
    select
        user_id,
        count(*) as relevant_count
    from test_streams
    group by user_id
),

discover_weekly as (
    select
        'discover_weekly' as list_name,
        user_id,
        track_id,
        artist_id,
        is_new_artist,
        row_number() over (
            partition by user_id order by {{ comparable_float('score') }} desc, track_id asc
        ) as list_rank
    from {{ ref('fct_discover_weekly') }}
    where week_start = cast('{{ run_week_start() }}' as date)
),

-- The same listeners' candidates, ranked each way (the published lists are one of the two).
listener_recommendations as (
    select *
    from {{ ref('fct_user_recommendations') }}
    where user_id in (select discover_weekly.user_id from discover_weekly)
),

never_played_recommendations as (
    select
        recommendations.user_id,
        recommendations.track_id,
        recommendations.artist_id,
        recommendations.is_new_artist,
        recommendations.ranker_score,
        recommendations.blend_score
    from {{ ref('fct_user_recommendations') }} as recommendations
    left join ever_played
        on recommendations.user_id = ever_played.user_id and recommendations.track_id = ever_played.track_id
    where
        ever_played.track_id is null
        and recommendations.user_id in (select discover_weekly.user_id from discover_weekly)
),

{{ discover_weekly_picks('never_played_recommendations', 'ranker_score', 'ranker_') }},

{{ discover_weekly_picks('never_played_recommendations', 'blend_score', 'blend_') }},

{%- set rankings = [('ranker', 'ranker_score'), ('blend', 'blend_score')] %}

ranked_lists as (
    {%- for name, score in rankings %}
        select
            'discover_weekly_by_{{ name }}' as list_name,
            user_id,
            track_id,
            artist_id,
            is_new_artist,
            row_number() over (
                partition by user_id order by {{ comparable_float(score) }} desc, track_id asc
            ) as list_rank
        from {{ name }}_picked
        union all
        select
            'for_you_by_{{ name }}' as list_name,
            user_id,
            track_id,
            artist_id,
            is_new_artist,
            list_rank
        from (
            {{ for_you_ranked('listener_recommendations', score) }}
        ) as for_you
        where list_rank <= {{ size }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

popular_tracks as (
    -- The 1,000 most popular tracks: enough for 30 unplayed ones per listener, and the baseline's
    -- cross join with the listeners stays 1,000 rows per listener.
    select *
    from (
        select
            popularity.track_id,
            tracks.artist_id,
            popularity.popularity_prior,
            row_number() over (
                order by {{ comparable_float('popularity.popularity_prior') }} desc, popularity.track_id asc
            ) as popularity_rank
        from (
            select distinct
                track_id,
                popularity_prior
            from {{ ref('int_track_popularity') }}
        ) as popularity
        inner join {{ ref('dim_tracks') }} as tracks on popularity.track_id = tracks.track_id
    ) as ranked_tracks
    where popularity_rank <= 1000
),

popularity_baseline as (
    select
        'popularity_baseline' as list_name,
        user_id,
        track_id,
        artist_id,
        is_new_artist,
        list_rank
    from (
        select
            listeners.user_id,
            popular_tracks.track_id,
            popular_tracks.artist_id,
            familiarity.artist_id is null as is_new_artist,
            row_number() over (
                partition by listeners.user_id
                order by {{ comparable_float('popular_tracks.popularity_prior') }} desc, popular_tracks.track_id asc
            ) as list_rank
        from (select distinct user_id from discover_weekly) as listeners
        cross join popular_tracks
        left join ever_played
            on listeners.user_id = ever_played.user_id and popular_tracks.track_id = ever_played.track_id
        left join {{ ref('fct_user_artist_familiarity') }} as familiarity
            on listeners.user_id = familiarity.user_id and popular_tracks.artist_id = familiarity.artist_id
        where ever_played.track_id is null
    ) as ranked
    where list_rank <= {{ size }}
),

lists as (
    select * from discover_weekly
    union all
    select * from ranked_lists
    union all
    select * from popularity_baseline
),

track_listeners as (
    select
        track_id,
        max(listener_count) as listener_count
    from {{ ref('int_track_popularity') }}
    group by track_id
),

list_positions as (
    select distinct list_rank from discover_weekly
),

list_items as (
    select
        lists.*,
        tracks.genre,
        coalesce(popularity.listener_count, 0) as listener_count,
        test_streams.track_id is not null as is_hit
    from lists
    inner join {{ ref('dim_tracks') }} as tracks on lists.track_id = tracks.track_id
    left join track_listeners as popularity on lists.track_id = popularity.track_id
    left join test_streams on lists.user_id = test_streams.user_id and lists.track_id = test_streams.track_id
),

listener_total as (
    select count(*) as listener_count from {{ ref('stg_raw__users') }}
),

genre_counts as (
    select
        list_name,
        user_id,
        genre,
        count(*) as genre_tracks
    from list_items
    group by list_name, user_id, genre
),

per_list as (
    select
        list_items.list_name,
        list_items.user_id,
        count(*) as list_size,
        sum(case when list_items.is_hit then 1 else 0 end) as hits,
        sum(case when list_items.is_hit then 1 / (ln(list_items.list_rank + 1) / ln(2)) else 0 end) as dcg,
        avg(case when list_items.is_new_artist then 1.0 else 0.0 end) as new_artist_share,
        avg(
            -ln((1.0 + list_items.listener_count) / (1.0 + listener_total.listener_count)) / ln(2)
        ) as novelty_bits
    from list_items
    cross join listener_total
    group by list_items.list_name, list_items.user_id
),

diversity as (
    -- Intra-list diversity: the chance that two tracks of the list differ in genre.
    select
        list_name,
        user_id,
        1 - sum(genre_tracks * (genre_tracks - 1))
        / nullif(sum(genre_tracks) * (sum(genre_tracks) - 1), 0) as genre_diversity
    from genre_counts
    group by list_name, user_id
),

ideal as (
    -- IDCG: every one of the first min(relevant, list size) positions a hit.
    select
        relevant_counts.user_id,
        relevant_counts.relevant_count,
        sum(1 / (ln(list_positions.list_rank + 1) / ln(2))) as idcg
    from relevant_counts
    inner join list_positions on relevant_counts.relevant_count >= list_positions.list_rank
    group by relevant_counts.user_id, relevant_counts.relevant_count
),

catalog as (
    select count(*) as track_count from {{ ref('dim_tracks') }}
),

coverage as (
    select
        list_name,
        count(distinct track_id) as distinct_tracks
    from list_items
    group by list_name
),

final as (
    select
        per_list.list_name,
        cast('{{ run_date() }}' as date) as train_end_date,
        cast(count(distinct per_list.user_id) as {{ dbt.type_bigint() }}) as listener_count,
        cast(count(distinct ideal.user_id) as {{ dbt.type_bigint() }}) as evaluated_listener_count,
        cast(
            avg(case when ideal.user_id is not null then case when per_list.hits > 0 then 1.0 else 0.0 end end)
            as {{ type_double() }}
        ) as hit_rate,
        cast(
            avg(case when ideal.user_id is not null then per_list.hits * 1.0 / ideal.relevant_count end)
            as {{ type_double() }}
        ) as recall_at_list,
        cast(
            avg(case when ideal.user_id is not null then per_list.dcg / ideal.idcg end) as {{ type_double() }}
        ) as ndcg_at_list,
        cast(max(coverage.distinct_tracks) * 1.0 / max(catalog.track_count) as {{ type_double() }}) as catalog_coverage,
        cast(avg(per_list.novelty_bits) as {{ type_double() }}) as novelty_bits,
        cast(avg(diversity.genre_diversity) as {{ type_double() }}) as intra_list_diversity,
        cast(avg(per_list.new_artist_share) as {{ type_double() }}) as new_artist_share,
        cast(avg(per_list.list_size) as {{ type_double() }}) as mean_list_size
    from per_list
    inner join diversity on per_list.list_name = diversity.list_name and per_list.user_id = diversity.user_id
    inner join coverage on per_list.list_name = coverage.list_name
    cross join catalog
    left join ideal on per_list.user_id = ideal.user_id
    group by per_list.list_name
)

select * from final
