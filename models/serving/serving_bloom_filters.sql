{{ config(
    materialized='incremental',
    pre_hook="{{ delete_refreshed_listeners(on_a_new_week=true) }}",
    **per_listener_config()
) }}

{#-
    One Bloom filter per listener of the tracks they have heard (int_user_heard_tracks),
    sized for var bloom_false_positive_rate: its parameters. The set bits are in
    serving_bloom_filter_words; tunesday.bloom.BloomFilter reads both.
-#}

{%- set false_positive_rate = bloom_false_positive_rate() -%}

with

heard_tracks as (
    select
        user_id,
        track_id
    from {{ ref('int_user_heard_tracks') }}
),

counted as (
    select
        user_id,
        count(*) as item_count
    from heard_tracks
    group by user_id
),

sized as (
    select
        user_id,
        item_count,
        {{ bloom_bit_count('item_count', false_positive_rate) }} as bit_count
    from counted
),

with_hash_count as (
    select
        user_id,
        item_count,
        bit_count,
        {{ bloom_hash_count('bit_count', 'item_count') }} as hash_count
    from sized
),

final as (
    select
        user_id,
        cast(item_count as {{ dbt.type_bigint() }}) as item_count,
        bit_count,
        hash_count,
        cast({{ bloom_word_count('bit_count') }} as {{ dbt.type_bigint() }}) as word_count,
        cast('{{ false_positive_rate }}' as {{ type_double() }}) as target_false_positive_rate,
        cast(
            power(1 - exp(-1.0 * hash_count * item_count / bit_count), hash_count) as {{ type_double() }}
        ) as expected_false_positive_rate,
        cast('{{ run_date() }}' as date) as as_of_date
    from with_hash_count
)

select * from final

-- depends_on: {{ ref('int_user_refresh') }} (the pre-hook deletes the rows of the listeners it names)
