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
        cast(pair_count as {{ dbt.type_bigint() }}) as pair_count,
        cast('{{ similarity_window_end() }}' as date) as window_end_date
    from ranked
    where neighbour_rank <= {{ var('similarity_neighbours') }}
)

select * from final
{%- endmacro %}

{#-
    When similarity is computed. With var similarity_refresh 'weekly' the six
    similarity models are rebuilt on the first run of a week only, from the sessions of the
    similarity_window_days days that end similarity_settle_days days before the week starts (days
    no late play can change any more: the settle days must cover incremental_lookback_days) and
    the playlist tracks added by then: any run of the week, whatever its lookback, or a full build
    on any of its days, computes the same similarity from the same plays; the other runs keep the
    tables as they are (incremental models that append nothing). With 'daily' (the default) the window
    ends on run_date and every run rebuilds them.
-#}

{% macro similarity_window_end() %}
    {#- The last day of sessions (and of playlist additions) the similarity counts, 'YYYY-MM-DD'. -#}
    {%- if var('similarity_refresh') == 'weekly' -%}
        {%- if (var('incremental_lookback_days') | int) > (var('similarity_settle_days') | int) -%}
            {{ exceptions.raise_compiler_error(
                "var incremental_lookback_days (" ~ var('incremental_lookback_days') ~ ") is longer than "
                ~ "similarity_settle_days (" ~ var('similarity_settle_days') ~ "): late plays would change "
                ~ "the weekly similarity's days; raise similarity_settle_days") }}
        {%- endif -%}
        {{ return(days_after(run_week_start(), -(var('similarity_settle_days') | int) - 1)) }}
    {%- elif var('similarity_refresh') == 'daily' -%}
        {{ return(run_date()) }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error("var similarity_refresh must be 'weekly' or 'daily', not '" ~ var('similarity_refresh') ~ "'") }}
{% endmacro %}

{% macro similarity_window_filter(date_expression) %}
    {#- The similarity_window_days days up to similarity_window_end(), as constants (BigQuery prunes on them). -#}
    {{ date_expression }} > cast('{{ days_after(similarity_window_end(), -(var("similarity_window_days") | int)) }}' as date)
    and {{ date_expression }} <= cast('{{ similarity_window_end() }}' as date)
{%- endmacro %}

{% macro similarity_rebuilt(marker) %}
    {#-
        Whether this run rebuilds a similarity model: a full build, a unit test, or a window end
        other than the one `marker` (the chain's last model: fct_track_similarity or
        fct_artist_similarity, looked up when the model is compiled) was built for. The marker
        being rebuilt last, a run that fails midway leaves it stale and the next run rebuilds
        the whole chain.
    -#}
    {%- if not execute or in_unit_test() or not is_incremental() -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set node = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
        | selectattr('name', 'equalto', marker) | first -%}
    {%- set relation = adapter.get_relation(node.database, node.schema, node.alias) -%}
    {%- if relation is none
        or 'window_end_date' not in (adapter.get_columns_in_relation(relation) | map(attribute='name') | list) -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set built = run_query('select max(window_end_date) from ' ~ relation).columns[0].values()[0] -%}
    {{ return(built is none or built | string != similarity_window_end()) }}
{% endmacro %}

{% macro similarity_config(marker) %}
    {#-
        The config of a similarity model (see similarity_rebuilt): incremental; a run that rebuilds
        it first empties it (pre-hook), a run that does not appends nothing.
    -#}
    {%- set config = {
        'materialized': 'incremental',
        'on_schema_change': 'fail',
        'pre_hook': "{{ clear_rebuilt_similarity('" ~ marker ~ "') }}",
    } -%}
    {%- do config.update(append_strategy()) -%}
    {{ return(config) }}
{% endmacro %}

{% macro append_strategy() %}
    {{ return(adapter.dispatch('append_strategy', 'tunesday')()) }}
{% endmacro %}

{% macro default__append_strategy() %}
    {{ return({'incremental_strategy': 'append'}) }}
{% endmacro %}

{% macro bigquery__append_strategy() %}
    {#- merge without a unique key only inserts: BigQuery's append. -#}
    {{ return({'incremental_strategy': 'merge'}) }}
{% endmacro %}

{% macro clear_rebuilt_similarity(marker) %}
    {#- Pre-hook of a similarity model: empty it when this run rebuilds it. -#}
    {%- if is_incremental() and similarity_rebuilt(marker) %}
        delete from {{ this }} where true
    {%- endif %}
{% endmacro %}

{% macro rebuilt_similarity(marker) %}
    {#-
        The body of a similarity model, called as a block: the block's query when this run
        rebuilds the model (similarity_rebuilt(marker)), else a query that appends no row.
    -#}
    {%- if similarity_rebuilt(marker) -%}
        {{ caller() }}
    {%- else -%}
        select * from {{ this }} where false
    {%- endif -%}
{% endmacro %}
