-- type_double is a 64-bit float: 2^24 + 1 survives a cast that a 32-bit float rounds to 2^24.
with

probes as (
    select cast(16777217 as {{ type_double() }}) - 16777216 as remainder_above_float32_mantissa
)

select *
from probes
where remainder_above_float32_mantissa <> 1
