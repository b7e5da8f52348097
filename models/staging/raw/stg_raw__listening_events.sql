with

checked as (
    select * from {{ ref('base_raw__listening_events') }}
),

final as (
    select
        event_id,
        user_id,
        track_id,
        played_at,
        ms_played,
        context_type,
        context_id,
        start_reason,
        end_reason,
        is_shuffled,
        is_skipped,
        skip_flag_rule,
        platform,
        country_code,
        loaded_at,
        partition_date
    from checked
    where row_status = 'accepted'
)

select * from final
