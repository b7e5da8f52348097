-- Every listener of the slice from $first_key to before $last_key (null: no bound; snapshot.py),
-- with their heard-tracks Bloom filter: its parameters and its non-zero words, ordered by
-- word_index (null when the listener heard nothing).

with

listeners as (
    select
        user_id,
        country_code,
        product_tier
    from serving_users
    where ($first_key is null or user_id >= $first_key) and ($last_key is null or user_id < $last_key)
),

words as (
    select
        user_id,
        list(word_index order by word_index) as word_indexes,
        list(word order by word_index) as words
    from serving_bloom_filter_words
    where ($first_key is null or user_id >= $first_key) and ($last_key is null or user_id < $last_key)
    group by user_id
)

select
    listeners.user_id,
    listeners.country_code,
    listeners.product_tier,
    filters.item_count,
    filters.bit_count,
    filters.hash_count,
    words.word_indexes,
    words.words
from listeners
left join serving_bloom_filters as filters on listeners.user_id = filters.user_id
left join words on listeners.user_id = words.user_id
order by listeners.user_id
