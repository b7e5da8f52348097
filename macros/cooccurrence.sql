{#-
    Item-item co-occurrence, shared by track and artist similarity. `item` is 'track' or
    'artist'; the baskets relation has basket_type, basket_id and <item>_id, one row per basket
    and distinct item.
-#}

{% macro cooccurrence_pair_counts(baskets_relation, item) %}
    {%- set item_id = item ~ '_id' -%}
with

baskets as (
    select * from {{ baskets_relation }}
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

item_counts as (
    select
        {{ item_id }},
        count(*) as basket_count
    from baskets
    group by {{ item_id }}
),

item_keys as (
    -- Integer keys for the self-join and its GROUP BY (hundreds of millions of pairs at scale).
    select
        {{ item_id }},
        basket_count,
        row_number() over (order by {{ item_id }}) as item_key
    from item_counts
),

basket_keys as (
    select
        basket_type,
        basket_id,
        row_number() over (order by basket_type, basket_id) as basket_key
    from distinct_baskets
),

keyed_baskets as (
    select
        basket_keys.basket_key,
        item_keys.item_key
    from baskets
    inner join basket_keys on baskets.basket_type = basket_keys.basket_type and baskets.basket_id = basket_keys.basket_id
    inner join item_keys on baskets.{{ item_id }} = item_keys.{{ item_id }}
),

half_pairs as (
    -- Each unordered pair once (the lower key first): half the rows of the join; both
    -- directions are put back below.
    select
        left_side.item_key,
        right_side.item_key as other_item_key,
        count(*) as pair_count
    from keyed_baskets as left_side
    inner join keyed_baskets as right_side
        on
            left_side.basket_key = right_side.basket_key
            and left_side.item_key < right_side.item_key
    group by left_side.item_key, right_side.item_key
    having count(*) >= {{ var('similarity_min_pair_count') }}
),

pairs as (
    select
        item_key,
        other_item_key,
        pair_count
    from half_pairs
    union all
    select
        other_item_key as item_key,
        item_key as other_item_key,
        pair_count
    from half_pairs
),

final as (
    select
        item_keys.{{ item_id }},
        other_keys.{{ item_id }} as other_{{ item_id }},
        cast(pairs.pair_count as {{ dbt.type_bigint() }}) as pair_count,
        cast(item_keys.basket_count as {{ dbt.type_bigint() }}) as {{ item }}_basket_count,
        cast(other_keys.basket_count as {{ dbt.type_bigint() }}) as other_{{ item }}_basket_count,
        cast(basket_totals.total_basket_count as {{ dbt.type_bigint() }}) as total_basket_count
    from pairs
    cross join basket_totals
    inner join item_keys on pairs.item_key = item_keys.item_key
    inner join item_keys as other_keys on pairs.other_item_key = other_keys.item_key
)

select * from final
{%- endmacro %}

{% macro top_similar_items(pair_counts_relation, item) %}
    {%- set item_id = item ~ '_id' -%}
with

pair_counts as (
    select * from {{ pair_counts_relation }}
),

scored as (
    select
        {{ item_id }},
        other_{{ item_id }},
        pair_count,
        cast(pair_count as {{ type_double() }})
        / ({{ item }}_basket_count + other_{{ item }}_basket_count - pair_count) as jaccard,
        cast(pair_count as {{ type_double() }})
        / (cast({{ item }}_basket_count as {{ type_double() }}) * other_{{ item }}_basket_count) as lift
    from pair_counts
),

ranked as (
    select
        *,
        {{ similarity_metric() }} as similarity,
        row_number() over (
            partition by {{ item_id }}
            order by {{ similarity_metric() }} desc, pair_count desc, other_{{ item_id }} asc
        ) as neighbour_rank
    from scored
),

final as (
    select
        {{ item_id }},
        other_{{ item_id }} as similar_{{ item_id }},
        neighbour_rank,
        cast(similarity as {{ type_double() }}) as similarity,
        cast(jaccard as {{ type_double() }}) as jaccard,
        cast(lift as {{ type_double() }}) as lift,
        cast(pair_count as {{ dbt.type_bigint() }}) as pair_count
    from ranked
    where neighbour_rank <= {{ var('similarity_neighbours') }}
)

select * from final
{%- endmacro %}
