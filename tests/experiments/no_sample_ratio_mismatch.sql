{{ config(severity='error') }}

{#-
    Fails the build when an experiment's exposed listeners split between its variants unlike its
    weights (chi-square, p < 0.001: fct_experiment_sample_ratios), or has more variants than the
    critical values cover: its results cannot be trusted until the cause is found.
-#}

select
    experiment_id,
    variant,
    listener_count,
    expected_listener_count,
    chi_square,
    critical_value
from {{ ref('fct_experiment_sample_ratios') }}
where has_sample_ratio_mismatch or critical_value is null
