-- Every experiment has two or more variants, exactly one of them its control.
with

variant_counts as (
    select
        experiments.experiment_id,
        count(variants.variant) as variant_count,
        sum(case when variants.is_control then 1 else 0 end) as control_count
    from {{ ref('experiments') }} as experiments
    left join {{ ref('experiment_variants') }} as variants on experiments.experiment_id = variants.experiment_id
    group by experiments.experiment_id
)

select *
from variant_counts
where variant_count < 2 or control_count <> 1
