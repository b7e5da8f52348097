{#-
    Raw plays that came too late to count: filed under a day the warehouse no longer recomputes
    (before the lookback window of the run that would have read them, var
    incremental_lookback_days) and so not in base_raw__listening_events. The raw contract only
    grows, so per day of play, the raw rows beyond those base_raw__listening_events filed under
    that day arrived after the day was last recomputed. They count in the next --full-refresh.
    Rows without a usable played_at are filed under the run that sees them, never too late.
    Both counts are kept per day (int_audit_raw_event_days, int_audit_event_days), recounted only
    where they can have changed: this reads a row a day.
-#}

with

raw_days as (
    select
        listened_date,
        raw_rows,
        last_loaded_at
    from {{ ref('int_audit_raw_event_days') }}
    where listened_date <= cast('{{ run_date() }}' as date)
),

loaded_days as (
    select
        partition_date as listened_date,
        sum(on_day_of_play_rows) as loaded_rows
    from {{ ref('int_audit_event_days') }}
    group by partition_date
),

final as (
    select
        raw_days.listened_date,
        cast(raw_days.raw_rows as {{ dbt.type_bigint() }}) as raw_rows,
        cast(coalesce(loaded_days.loaded_rows, 0) as {{ dbt.type_bigint() }}) as loaded_rows,
        cast(raw_days.raw_rows - coalesce(loaded_days.loaded_rows, 0) as {{ dbt.type_bigint() }}) as too_late_rows,
        raw_days.last_loaded_at
    from raw_days
    left join loaded_days on raw_days.listened_date = loaded_days.listened_date
    where raw_days.raw_rows > coalesce(loaded_days.loaded_rows, 0)
)

select * from final
