{#-
    The sample ratio check of each experiment that has exposures: per variant, the listeners first
    exposed to it against what its weight expects of all exposed listeners, and the experiment's
    chi-square statistic over its variants. A statistic above the critical value of p = 0.001
    (seed chi_square_critical_values, for the variants less one degrees of freedom) is a sample
    ratio mismatch: the assignment or the exposure logging is broken, and no result of the
    experiment can be trusted (the data test no_sample_ratio_mismatch fails the build while the
    experiment runs).
-#}

{%- set double = type_double() %}

with

observed as (
    select
        experiment_id,
        variant,
        count(*) as listener_count
    from {{ ref('int_experiment_first_exposures') }}
    group by experiment_id, variant
),

totals as (
    select
        experiment_id,
        sum(listener_count) as exposed_listener_count
    from observed
    group by experiment_id
),

weights as (
    select
        experiment_id,
        sum(weight) as total_weight,
        count(*) as variant_count
    from {{ ref('experiment_variants') }}
    group by experiment_id
),

cells as (
    select
        variants.experiment_id,
        variants.variant,
        coalesce(observed.listener_count, 0) as listener_count,
        cast(totals.exposed_listener_count * variants.weight as {{ double }}) / weights.total_weight
            as expected_listener_count,
        totals.exposed_listener_count,
        weights.variant_count
    from {{ ref('experiment_variants') }} as variants
    inner join totals on variants.experiment_id = totals.experiment_id
    inner join weights on variants.experiment_id = weights.experiment_id
    left join observed
        on variants.experiment_id = observed.experiment_id and variants.variant = observed.variant
),

statistics as (
    select
        experiment_id,
        sum(
            (listener_count - expected_listener_count) * (listener_count - expected_listener_count)
            / expected_listener_count
        ) as chi_square
    from cells
    group by experiment_id
),

final as (
    select
        cells.experiment_id,
        cells.variant,
        cells.listener_count,
        cells.expected_listener_count,
        cells.exposed_listener_count,
        statistics.chi_square,
        critical.critical_value,
        cells.variant_count - 1 as degrees_of_freedom,
        statistics.chi_square > critical.critical_value as has_sample_ratio_mismatch
    from cells
    inner join statistics on cells.experiment_id = statistics.experiment_id
    left join {{ ref('chi_square_critical_values') }} as critical
        on cells.variant_count - 1 = critical.degrees_of_freedom
)

select * from final
