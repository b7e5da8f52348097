{{ config(
    materialized='incremental',
    **incremental_history_config(['run_date', 'user_id', 'surface_position'])
) }}

{#-
    What For You listed for the listeners of a running experiment, per run: serving_recommendations'
    For You rows that a variant ordered, kept across runs (and across --full-refresh), so that a
    stream can be known as one of a recommended track (int_experiment_listener_days). A rerun of a
    day replaces that day's rows.
-#}

with

served as (
    select * from {{ ref('serving_recommendations') }}
),

final as (
    select
        run_date,
        user_id,
        surface_position,
        experiment_id,
        variant,
        track_id
    from served
    where surface = 'for_you' and experiment_id is not null
)

select * from final
