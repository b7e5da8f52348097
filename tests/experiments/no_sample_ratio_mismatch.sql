{{ config(severity='error') }}

{#-
    Fails the build when an experiment running on run_date has its exposed listeners split between
    its variants unlike its weights (chi-square, p < 0.001: fct_experiment_sample_ratios), or more
    variants than the critical values cover: its results cannot be trusted until the cause is
    found. An ended experiment's check stays in the table and its report, and no longer fails.
-#}

select
    ratios.experiment_id,
    ratios.variant,
    ratios.listener_count,
    ratios.expected_listener_count,
    ratios.chi_square,
    ratios.critical_value
from {{ ref('fct_experiment_sample_ratios') }} as ratios
inner join {{ ref('experiments') }} as experiments on ratios.experiment_id = experiments.experiment_id
where
    (ratios.has_sample_ratio_mismatch or ratios.critical_value is null)
    and {{ experiment_is_running('experiments') }}
