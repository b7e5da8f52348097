{{ config(
    materialized='incremental',
    pre_hook="{{ delete_refreshed_listeners(on_a_new_week=true) }}",
    **per_listener_config()
) }}

{#-
    The set bits of each listener's Bloom filter (parameters in serving_bloom_filters), as signed
    64-bit words: bit b of the filter is bit (b mod 64) of word (b div 64). Only non-zero words
    are stored; a missing word is all zeros.
-#}

with

heard_tracks as (
    select
        user_id,
        track_id
    from {{ ref('int_user_heard_tracks') }}
),

filters as (
    select
        user_id,
        bit_count,
        hash_count
    from {{ ref('serving_bloom_filters') }}
),

hash_indexes as (
    {{ bloom_hash_indexes() }}
),

hashed as (
    select
        heard_tracks.user_id,
        filters.bit_count,
        filters.hash_count,
        {{ hash64('heard_tracks.track_id') }} as first_hash,
        {{ hash64(bloom_second_hash_input('heard_tracks.track_id')) }} as second_hash
    from heard_tracks
    inner join filters on heard_tracks.user_id = filters.user_id
),

set_bits as (
    select
        hashed.user_id,
        {{ bloom_bit_position(
            'hashed.first_hash',
            'hashed.second_hash',
            'hashed.bit_count',
            'hash_indexes.hash_index',
            'hash_indexes.cubic_offset'
        ) }} as bit_position
    from hashed
    inner join hash_indexes on hashed.hash_count > hash_indexes.hash_index
),

placed as (
    select
        user_id,
        bit_position >> 6 as word_index,
        bit_position & 63 as bit_in_word
    from set_bits
),

final as (
    -- bit_or sets a bit set twice once: no DISTINCT of the (listener, bit) rows before it, which
    -- grouped ~7 rows per heard track a second time (2,000 listeners: 0.96 s against 0.54 s).
    select
        user_id,
        cast(word_index as {{ dbt.type_bigint() }}) as word_index,
        cast(bit_or({{ int64_bit('bit_in_word') }}) as {{ dbt.type_bigint() }}) as word
    from placed
    group by user_id, word_index
)

select * from final

-- depends_on: {{ ref('int_user_refresh') }} (the pre-hook deletes the rows of the listeners it names)
