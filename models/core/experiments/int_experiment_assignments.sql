{{ config(materialized='table') }}

{#-
    Every listener's variant in every experiment (seeds experiments and experiment_variants),
    whether or not the experiment runs today: a listener's bucket is a function of the salt and
    their id (macro experiment_bucket, Python's tunesday.experiments.bucket), and the variants,
    in name order, own consecutive ranges of the 10,000 buckets in proportion to their weights,
    variant k the buckets [floor(10000 W_<k / W), floor(10000 W_≤k / W)).
-#}

{%- set bigint = dbt.type_bigint() %}

with

experiments as (
    select * from {{ ref('experiments') }}
),

variants as (
    select * from {{ ref('experiment_variants') }}
),

listeners as (
    select user_id from {{ ref('stg_raw__users') }}
),

cumulative_weights as (
    select
        experiment_id,
        variant,
        is_control,
        ranking,
        weight,
        sum(weight) over (
            partition by experiment_id order by variant asc rows between unbounded preceding and current row
        ) as weight_through,
        sum(weight) over (partition by experiment_id) as total_weight
    from variants
),

variant_buckets as (
    select
        experiment_id,
        variant,
        is_control,
        ranking,
        cast(floor(10000 * cast(weight_through - weight as {{ type_double() }}) / total_weight) as {{ bigint }})
            as first_bucket,
        cast(floor(10000 * cast(weight_through as {{ type_double() }}) / total_weight) as {{ bigint }})
            as end_bucket
    from cumulative_weights
),

bucketed as (
    select
        experiments.experiment_id,
        listeners.user_id,
        {{ experiment_bucket('experiments.salt', 'listeners.user_id') }} as bucket
    from experiments
    cross join listeners
)

select
    bucketed.experiment_id,
    bucketed.user_id,
    bucketed.bucket,
    variant_buckets.variant,
    variant_buckets.is_control,
    variant_buckets.ranking
from bucketed
inner join variant_buckets
    on
        bucketed.experiment_id = variant_buckets.experiment_id
        and bucketed.bucket >= variant_buckets.first_bucket
        and bucketed.bucket < variant_buckets.end_bucket
