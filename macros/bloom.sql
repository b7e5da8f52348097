{#-
    Bloom filters in SQL, bit-identical on DuckDB, BigQuery and in Python (tunesday/bloom.py).

    Sizing for n items at a target false-positive rate p (var bloom_false_positive_rate):
        m = max(1, ceil(n · (-ln p) / (ln 2 · ln 2)))      bloom_bit_count
        k = min(16, max(1, floor(m / n · ln 2 + 0.5)))      bloom_hash_count
    m is not rounded up to whole words: the rate must stay near the target for small n.
    Bits, enhanced double hashing (Dillinger & Manolios 2004) with the portable hash64:
        h1 = hash64(item), h2 = hash64('bloom:' || item)
        bit_i = (pmod(h1, m) + i · (1 + pmod(h2, max(m - 1, 1))) + (i³ - i) / 6) mod m,  i = 0 .. k-1
    The cubic term breaks the arithmetic progression of plain double hashing, which overshoots
    the target rate on small filters (1.29 % instead of 1 % on the test data; 1.08 % with it).
    Every operand is reduced mod m before it is multiplied: i · step < 16 · m, (i³ - i) / 6 <= 560,
    far from int64 overflow.
    Bit b is bit (b & 63) of word (b >> 6); bit 63 is the sign bit of the signed int64 word.
-#}

{#- The hash indexes are a literal union 0 .. max-1, so k is capped (16 is optimal down to p ≈ 1.5e-5). -#}
{% macro bloom_max_hash_count() %}
    {{ return(16) }}
{% endmacro %}

{% macro bloom_false_positive_rate() %}
    {#- var bloom_false_positive_rate, checked: a rate outside (0, 1) stops compilation. -#}
    {%- set rate = var('bloom_false_positive_rate', 0.01) | float -%}
    {%- if not (0 < rate < 1) -%}
        {{ exceptions.raise_compiler_error("var bloom_false_positive_rate must be in (0, 1), got " ~ rate) }}
    {%- endif -%}
    {{ return(rate) }}
{% endmacro %}

{% macro bloom_bit_count(item_count, false_positive_rate) %}
    {#- Same operations in the same order as tunesday.bloom.bloom_parameters. -#}
    cast(greatest(
        1,
        ceil(
            {{ item_count }} * -ln(cast('{{ false_positive_rate }}' as {{ type_double() }}))
            / (ln(cast(2 as {{ type_double() }})) * ln(cast(2 as {{ type_double() }})))
        )
    ) as {{ dbt.type_bigint() }})
{%- endmacro %}

{% macro bloom_hash_count(bit_count, item_count) %}
    cast(least(
        {{ bloom_max_hash_count() }},
        greatest(
            1,
            floor(cast({{ bit_count }} as {{ type_double() }}) / {{ item_count }} * ln(cast(2 as {{ type_double() }})) + 0.5)
        )
    ) as {{ dbt.type_bigint() }})
{%- endmacro %}

{% macro bloom_word_count(bit_count) %}
    {#- ceil(m / 64) whole words. -#}
    ((({{ bit_count }}) - 1) >> 6) + 1
{%- endmacro %}

{% macro bloom_hash_indexes() %}
    {#- The hash indexes i = 0 .. bloom_max_hash_count()-1 (hash_index) and their (i³ - i) / 6 (cubic_offset). -#}
    {%- for i in range(bloom_max_hash_count()) %}
        select
            cast({{ i }} as {{ dbt.type_bigint() }}) as hash_index,
            cast({{ (i * i * i - i) // 6 }} as {{ dbt.type_bigint() }}) as cubic_offset
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
{% endmacro %}

{% macro nonnegative_mod(dividend, divisor) %}
    {#- dividend mod divisor in [0, divisor) for divisor > 0: both engines' mod keep the dividend's sign. -#}
    mod(mod({{ dividend }}, {{ divisor }}) + {{ divisor }}, {{ divisor }})
{%- endmacro %}

{% macro bloom_bit_position(first_hash, second_hash, bit_count, hash_index, cubic_offset) %}
    {#- Bit hash_index of an item in a filter of bit_count bits, from its two 64-bit hashes. -#}
    mod(
        {{ nonnegative_mod(first_hash, bit_count) }}
        + {{ hash_index }} * (1 + {{ nonnegative_mod(second_hash, 'greatest(' ~ bit_count ~ ' - 1, 1)') }})
        + mod({{ cubic_offset }}, {{ bit_count }}),
        {{ bit_count }}
    )
{%- endmacro %}

{% macro bloom_second_hash_input(item) %}
    {#- The second hash hashes the item with a prefix, so h2 is independent of h1. -#}
    {{ dbt.concat(["'bloom:'", item]) }}
{%- endmacro %}

{#-
    The int64 with only bit `bit_position` (0-63) set; bit 63 gives the sign bit, -2^63.
    DuckDB: `cast(1 as bigint) << 63` is an out-of-range error (and a bare `1` is a 32-bit
    integer, so `1 << 40` fails too). BigQuery: `1 << 63` is -2^63 on real BigQuery, but the
    emulator CI runs it on DuckDB and fails like DuckDB. The default therefore writes bit 63 as
    the literal -9223372036854775807 - 1 and shifts a 64-bit one for the others, which gives the
    same int64 on both engines; no engine needs its own version.
-#}
{% macro int64_bit(bit_position) %}
    {{ return(adapter.dispatch('int64_bit', 'tunesday')(bit_position)) }}
{% endmacro %}

{% macro default__int64_bit(bit_position) %}
    case
        when {{ bit_position }} = 63 then -9223372036854775807 - 1
        else cast(1 as {{ dbt.type_bigint() }}) << {{ bit_position }}
    end
{%- endmacro %}
