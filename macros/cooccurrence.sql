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

pairs as (
    select
        left_side.{{ item_id }},
        right_side.{{ item_id }} as other_{{ item_id }},
        count(*) as pair_count
    from baskets as left_side
    inner join baskets as right_side
        on
            left_side.basket_type = right_side.basket_type
            and left_side.basket_id = right_side.basket_id
            and left_side.{{ item_id }} <> right_side.{{ item_id }}
    group by left_side.{{ item_id }}, right_side.{{ item_id }}
    having count(*) >= {{ var('similarity_min_pair_count') }}
),

final as (
    select
        pairs.{{ item_id }},
        pairs.other_{{ item_id }},
        cast(pairs.pair_count as {{ dbt.type_bigint() }}) as pair_count,
        cast(item_counts.basket_count as {{ dbt.type_bigint() }}) as {{ item }}_basket_count,
        cast(other_counts.basket_count as {{ dbt.type_bigint() }}) as other_{{ item }}_basket_count,
        cast(basket_totals.total_basket_count as {{ dbt.type_bigint() }}) as total_basket_count
    from pairs
    cross join basket_totals
    inner join item_counts on pairs.{{ item_id }} = item_counts.{{ item_id }}
    inner join item_counts as other_counts on pairs.other_{{ item_id }} = other_counts.{{ item_id }}
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
