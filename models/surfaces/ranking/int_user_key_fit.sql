{#-
    How well each of the 24 Camelot keys fits a listener's keys (macro camelot_key_fit), for the
    listeners the run recomputes (int_user_refresh).
-#}

with

key_shares as (
    select
        user_id,
        camelot_code,
        listening_share as key_share
    from {{ ref('fct_user_camelot_keys') }}
    where {{ refreshed_listener('user_id') }}
),

final as (
    {{ camelot_key_fit('key_shares', 'user_id') }}
)

select * from final
