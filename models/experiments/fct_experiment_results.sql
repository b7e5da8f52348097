{#-
    Each experiment's result on each metric, per variant, as of each day from its first exposure to
    the analysis end (the last day is the current result; the days before draw the lift over time).
    Per variant: listeners with a value, mean and variance; CUPED-adjusted mean and variance (the
    metric less theta times its pre-period covariate's deviation from the mean, theta =
    cov(metric, covariate) / var(covariate) over all variants; a missing covariate counts as the
    mean); and, against the control, the relative lift (treatment mean / control mean - 1) with a
    95 % Welch interval (macros relative_lift_variance, welch_degrees_of_freedom, t_quantile_975),
    unadjusted and with CUPED.
-#}

with

metrics as (
    select * from {{ ref('int_experiment_listener_metrics') }}
    where metric_value is not null
),

variants as (
    select * from {{ ref('experiment_variants') }}
),

covariate_means as (
    select
        experiment_id,
        as_of_date,
        metric,
        avg(covariate) as covariate_mean
    from metrics
    group by experiment_id, as_of_date, metric
),

imputed as (
    select
        metrics.experiment_id,
        metrics.as_of_date,
        metrics.metric,
        metrics.variant,
        metrics.metric_value,
        coalesce(metrics.covariate, covariate_means.covariate_mean, 0) as covariate,
        coalesce(covariate_means.covariate_mean, 0) as covariate_mean
    from metrics
    left join covariate_means
        on
            metrics.experiment_id = covariate_means.experiment_id
            and metrics.as_of_date = covariate_means.as_of_date
            and metrics.metric = covariate_means.metric
),

thetas as (
    select
        experiment_id,
        as_of_date,
        metric,
        coalesce(covar_samp(metric_value, covariate) / nullif(var_samp(covariate), 0), 0) as theta
    from imputed
    group by experiment_id, as_of_date, metric
),

adjusted as (
    select
        imputed.experiment_id,
        imputed.as_of_date,
        imputed.metric,
        imputed.variant,
        imputed.metric_value,
        thetas.theta,
        imputed.metric_value - thetas.theta * (imputed.covariate - imputed.covariate_mean) as adjusted_value
    from imputed
    inner join thetas
        on
            imputed.experiment_id = thetas.experiment_id
            and imputed.as_of_date = thetas.as_of_date
            and imputed.metric = thetas.metric
),

per_variant as (
    select
        adjusted.experiment_id,
        adjusted.as_of_date,
        adjusted.metric,
        adjusted.variant,
        variants.is_control,
        count(*) as listener_count,
        avg(adjusted.metric_value) as mean_value,
        coalesce(var_samp(adjusted.metric_value), 0) as variance,
        avg(adjusted.adjusted_value) as cuped_mean_value,
        coalesce(var_samp(adjusted.adjusted_value), 0) as cuped_variance,
        max(adjusted.theta) as cuped_theta
    from adjusted
    inner join variants
        on adjusted.experiment_id = variants.experiment_id and adjusted.variant = variants.variant
    group by adjusted.experiment_id, adjusted.as_of_date, adjusted.metric, adjusted.variant, variants.is_control
),

-- Each variant beside its experiment's control, with the squared standard errors of both means.
against_control as (
    select
        treatment.experiment_id,
        treatment.as_of_date,
        treatment.metric,
        treatment.variant,
        treatment.is_control,
        treatment.listener_count,
        treatment.mean_value,
        treatment.variance,
        treatment.cuped_mean_value,
        treatment.cuped_variance,
        treatment.cuped_theta,
        control.listener_count as control_listener_count,
        control.mean_value as control_mean_value,
        control.cuped_mean_value as control_cuped_mean_value,
        treatment.variance / treatment.listener_count as treatment_se2,
        control.variance / control.listener_count as control_se2,
        treatment.cuped_variance / treatment.listener_count as cuped_treatment_se2,
        control.cuped_variance / control.listener_count as cuped_control_se2
    from per_variant as treatment
    inner join per_variant as control
        on
            treatment.experiment_id = control.experiment_id
            and treatment.as_of_date = control.as_of_date
            and treatment.metric = control.metric
            and control.is_control
),

lifts as (
    select
        *,
        case when not is_control then mean_value / nullif(control_mean_value, 0) - 1 end as lift,
        {{ relative_lift_variance('mean_value', 'control_mean_value', 'treatment_se2', 'control_se2') }}
            as lift_variance,
        {{ welch_degrees_of_freedom('treatment_se2', 'listener_count', 'control_se2', 'control_listener_count') }}
            as degrees_of_freedom,
        case when not is_control then cuped_mean_value / nullif(control_cuped_mean_value, 0) - 1 end as cuped_lift,
        {{ relative_lift_variance('cuped_mean_value', 'control_cuped_mean_value', 'cuped_treatment_se2',
                                  'cuped_control_se2') }} as cuped_lift_variance,
        {{ welch_degrees_of_freedom('cuped_treatment_se2', 'listener_count', 'cuped_control_se2',
                                    'control_listener_count') }} as cuped_degrees_of_freedom
    from against_control
),

intervals as (
    select
        *,
        {{ t_quantile_975('degrees_of_freedom') }} * sqrt(lift_variance) as lift_margin,
        {{ t_quantile_975('cuped_degrees_of_freedom') }} * sqrt(cuped_lift_variance) as cuped_lift_margin
    from lifts
),

final as (
    select
        experiment_id,
        as_of_date,
        metric,
        variant,
        is_control,
        listener_count,
        mean_value,
        variance,
        cuped_mean_value,
        cuped_variance,
        cuped_theta,
        control_mean_value,
        lift,
        cuped_lift,
        lift - lift_margin as lift_ci_low,
        lift + lift_margin as lift_ci_high,
        case when not is_control then degrees_of_freedom end as degrees_of_freedom,
        cuped_lift - cuped_lift_margin as cuped_lift_ci_low,
        cuped_lift + cuped_lift_margin as cuped_lift_ci_high,
        case when not is_control then cuped_degrees_of_freedom end as cuped_degrees_of_freedom,
        coalesce(cuped_lift - cuped_lift_margin > 0 or cuped_lift + cuped_lift_margin < 0, false) as is_significant
    from intervals
)

select * from final
