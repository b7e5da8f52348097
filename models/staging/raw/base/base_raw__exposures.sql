with

source as (
    select * from {{ source('raw', 'exposures') }}
),

known_users as (
    select user_id from {{ ref('stg_raw__users') }}
),

known_experiments as (
    select experiment_id from {{ ref('experiments') }}
),

known_variants as (
    select
        experiment_id,
        variant
    from {{ ref('experiment_variants') }}
),

checked as (
    select
        source.*,
        case
            when source.exposure_id is null then 'missing_exposure_id'
            when source.user_id is null then 'missing_user_id'
            when source.experiment_id is null then 'missing_experiment_id'
            when source.variant is null then 'missing_variant'
            when source.exposed_at is null then 'missing_exposed_at'
            when known_users.user_id is null then 'unknown_user_id'
            when known_experiments.experiment_id is null then 'unknown_experiment_id'
            when known_variants.variant is null then 'unknown_variant'
            when source.exposed_at > {{ dbt.current_timestamp() }} then 'exposed_at_in_future'
        end as rejection_reason
    from source
    left join known_users on source.user_id = known_users.user_id
    left join known_experiments on source.experiment_id = known_experiments.experiment_id
    left join known_variants
        on
            source.experiment_id = known_variants.experiment_id
            and source.variant = known_variants.variant
),

final as (
    select
        cast(exposure_id as {{ dbt.type_string() }}) as exposure_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(variant as {{ dbt.type_string() }}) as variant,
        cast(surface as {{ dbt.type_string() }}) as surface,
        cast(exposed_at as {{ dbt.type_timestamp() }}) as exposed_at,
        cast(snapshot_id as {{ dbt.type_string() }}) as snapshot_id,
        rejection_reason,
        -- An exposure shipped twice (a log file loaded again under another name) is one exposure.
        {{ row_status(['exposure_id'], 'exposed_at') }} as row_status
    from checked
)

select * from final
