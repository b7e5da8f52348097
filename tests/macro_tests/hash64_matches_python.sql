-- hash64 gives, on this engine, the value Python computed for every seed row.
with

hashed as (
    select
        input_string,
        expected_hash64,
        {{ hash64('input_string') }} as actual_hash64
    from {{ ref('hash64_expected') }}
)

select *
from hashed
where
    actual_hash64 <> expected_hash64
    or (actual_hash64 is null) <> (expected_hash64 is null)
