{#-
    Every stored word of serving_bloom_filter_words is non-zero (zero words are not stored), lies
    inside its filter (word_index < word_count), and sets no bit at or beyond bit_count in the
    last word. Returns the offending words.
-#}

with

words as (
    select
        user_id,
        word_index,
        word
    from {{ ref('serving_bloom_filter_words') }}
),

filters as (
    select
        user_id,
        bit_count,
        word_count
    from {{ ref('serving_bloom_filters') }}
),

checked as (
    select
        words.user_id,
        words.word_index,
        words.word,
        filters.word_count,
        filters.bit_count
    from words
    left join filters on words.user_id = filters.user_id
)

select *
from checked
where
    word = 0
    or word_count is null
    or word_index >= word_count
    -- The last word holds only bits 0 .. r-1, r = bit_count - 64·word_index: then 0 <= word < 2^r.
    -- (greatest(0, least(..., 62)) keeps the shift in range on rows where the condition does not apply.)
    or (bit_count - 64 * word_index < 64 and word < 0)
    or (
        bit_count - 64 * word_index < 63
        and word >= {{ int64_bit('greatest(0, least(bit_count - 64 * word_index, 62))') }}
    )
