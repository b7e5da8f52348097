{#-
    How many baskets (sessions and playlists) hold both tracks of a pair, and each track alone.
    Cost: one row per pair per basket, at most sum over baskets of N·(N-1)/2 with N capped;
    pairs seen fewer than var similarity_min_pair_count times are dropped.
-#}

with

baskets as (
    select * from {{ ref('int_track_baskets') }}
),

distinct_baskets as (
    select distinct
        basket_type,
        basket_id
    from baskets
),

basket_totals as (
    select count(*) as total_basket_count from distinct_baskets
),

track_counts as (
    select
        track_id,
        count(*) as basket_count
    from baskets
    group by track_id
),

pairs as (
    select
        left_side.track_id,
        right_side.track_id as other_track_id,
        count(*) as pair_count
    from baskets as left_side
    inner join baskets as right_side
        on
            left_side.basket_type = right_side.basket_type
            and left_side.basket_id = right_side.basket_id
            and left_side.track_id <> right_side.track_id
    group by left_side.track_id, right_side.track_id
    having count(*) >= {{ var('similarity_min_pair_count') }}
),

final as (
    select
        pairs.track_id,
        pairs.other_track_id,
        cast(pairs.pair_count as {{ dbt.type_bigint() }}) as pair_count,
        cast(track_counts.basket_count as {{ dbt.type_bigint() }}) as track_basket_count,
        cast(other_counts.basket_count as {{ dbt.type_bigint() }}) as other_track_basket_count,
        cast(basket_totals.total_basket_count as {{ dbt.type_bigint() }}) as total_basket_count
    from pairs
    cross join basket_totals
    inner join track_counts on pairs.track_id = track_counts.track_id
    inner join track_counts as other_counts on pairs.other_track_id = other_counts.track_id
)

select * from final
