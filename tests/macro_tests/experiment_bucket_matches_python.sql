-- experiment_bucket gives, on this engine, the bucket Python computed for every seed row.
with

bucketed as (
    select
        salt,
        user_id,
        expected_bucket,
        {{ experiment_bucket('salt', 'user_id') }} as actual_bucket
    from {{ ref('experiment_bucket_expected') }}
)

select *
from bucketed
where actual_bucket <> expected_bucket or actual_bucket is null
