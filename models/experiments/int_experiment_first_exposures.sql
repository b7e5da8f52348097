{#-
    Each listener's first exposure to each experiment, up to the analysis end: run_date, or the
    experiment's end_date when it ended before. Exposures before the experiment's start_date do not
    count. `variant` is what the listener was first served; `assigned_variant` what the assignment
    says (int_experiment_assignments): they differ only when serving broke the assignment.
-#}

with

experiments as (
    select
        experiment_id,
        start_date,
        case
            when end_date is not null and end_date < cast('{{ run_date() }}' as date) then end_date
            else cast('{{ run_date() }}' as date)
        end as analysis_end_date
    from {{ ref('experiments') }}
    where start_date <= cast('{{ run_date() }}' as date)
),

exposures as (
    select
        exposures.experiment_id,
        exposures.user_id,
        exposures.variant,
        exposures.exposed_at,
        exposures.exposure_id,
        experiments.analysis_end_date
    from {{ ref('stg_raw__exposures') }} as exposures
    inner join experiments on exposures.experiment_id = experiments.experiment_id
    where
        exposures.exposed_at >= cast(experiments.start_date as {{ dbt.type_timestamp() }})
        and exposures.exposed_at
        < cast({{ dbt.dateadd('day', 1, 'experiments.analysis_end_date') }} as {{ dbt.type_timestamp() }})
),

numbered as (
    select
        *,
        row_number() over (
            partition by experiment_id, user_id order by exposed_at asc, exposure_id asc
        ) as exposure_number,
        count(*) over (partition by experiment_id, user_id) as exposure_count
    from exposures
),

variant_counts as (
    select
        experiment_id,
        user_id,
        count(distinct variant) as exposed_variant_count
    from exposures
    group by experiment_id, user_id
),

final as (
    select
        numbered.experiment_id,
        numbered.user_id,
        numbered.variant,
        assignments.variant as assigned_variant,
        numbered.exposed_at as first_exposed_at,
        cast(numbered.exposed_at as date) as first_exposure_date,
        numbered.analysis_end_date,
        numbered.exposure_count,
        variant_counts.exposed_variant_count
    from numbered
    inner join variant_counts
        on
            numbered.experiment_id = variant_counts.experiment_id
            and numbered.user_id = variant_counts.user_id
    left join {{ ref('int_experiment_assignments') }} as assignments
        on
            numbered.experiment_id = assignments.experiment_id
            and numbered.user_id = assignments.user_id
    where numbered.exposure_number = 1
)

select * from final
