{{ config(
    materialized='incremental',
    **incremental_history_config(['run_date', 'source_table'])
) }}

{#-
    audit_raw__row_counts of every run, one row per run_date and raw table: a creeping rejected
    share shows as a trend. Kept across runs and across --full-refresh (a rerun of a day replaces
    that day's rows).
-#}

with

counts as (
    select * from {{ ref('audit_raw__row_counts') }}
),

final as (
    select
        cast('{{ run_date() }}' as date) as run_date,
        source_table,
        raw_rows,
        accepted_rows,
        rejected_rows,
        duplicate_rows,
        too_late_rows,
        rejected_share,
        audited_at
    from counts
)

select * from final
