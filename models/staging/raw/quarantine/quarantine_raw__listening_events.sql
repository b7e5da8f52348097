with

checked as (
    select * from {{ ref('base_raw__listening_events') }}
),

final as (
    select
        rejection_reason,
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
        platform,
        country_code,
        loaded_at
    from checked
    where row_status = 'rejected'
)

select * from final
