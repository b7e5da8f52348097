{#-
    Top-K similar artists per artist from co-occurrence in the same baskets as track similarity
    (sessions and playlists, capped), counted once per basket and artist.
-#}

with

artist_baskets as (
    select distinct
        baskets.basket_type,
        baskets.basket_id,
        tracks.artist_id
    from {{ ref('int_track_baskets') }} as baskets
    inner join {{ ref('stg_raw__tracks') }} as tracks on baskets.track_id = tracks.track_id
),

artist_counts as (
    select
        artist_id,
        count(*) as basket_count
    from artist_baskets
    group by artist_id
),

pairs as (
    select
        left_side.artist_id,
        right_side.artist_id as other_artist_id,
        count(*) as pair_count
    from artist_baskets as left_side
    inner join artist_baskets as right_side
        on
            left_side.basket_type = right_side.basket_type
            and left_side.basket_id = right_side.basket_id
            and left_side.artist_id <> right_side.artist_id
    group by left_side.artist_id, right_side.artist_id
    having count(*) >= {{ var('similarity_min_pair_count') }}
),

scored as (
    select
        pairs.artist_id,
        pairs.other_artist_id,
        pairs.pair_count,
        cast(pairs.pair_count as {{ type_double() }})
        / (artist_counts.basket_count + other_counts.basket_count - pairs.pair_count) as jaccard,
        cast(pairs.pair_count as {{ type_double() }})
        / (cast(artist_counts.basket_count as {{ type_double() }}) * other_counts.basket_count) as lift
    from pairs
    inner join artist_counts on pairs.artist_id = artist_counts.artist_id
    inner join artist_counts as other_counts on pairs.other_artist_id = other_counts.artist_id
),

ranked as (
    select
        *,
        {{ similarity_metric() }} as similarity,
        row_number() over (
            partition by artist_id
            order by {{ similarity_metric() }} desc, pair_count desc, other_artist_id asc
        ) as neighbour_rank
    from scored
),

final as (
    select
        artist_id,
        other_artist_id as similar_artist_id,
        neighbour_rank,
        cast(similarity as {{ type_double() }}) as similarity,
        cast(jaccard as {{ type_double() }}) as jaccard,
        cast(lift as {{ type_double() }}) as lift,
        cast(pair_count as {{ dbt.type_bigint() }}) as pair_count
    from ranked
    where neighbour_rank <= {{ var('similarity_neighbours') }}
)

select * from final
