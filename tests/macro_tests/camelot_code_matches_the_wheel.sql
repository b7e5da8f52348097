-- camelot_code gives, for each of the 24 keys, the code written on the Camelot wheel.
with

computed as (
    select
        pitch_class,
        musical_mode,
        key_name,
        camelot_code as expected_code,
        {{ camelot_code('pitch_class', 'musical_mode') }} as actual_code
    from {{ ref('camelot_wheel') }}
)

select *
from computed
where actual_code is null or actual_code <> expected_code
