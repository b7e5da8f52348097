-- No two experiments on one surface overlap in time: a listener gets one ranking per surface.
select
    earlier.experiment_id,
    later.experiment_id as overlapping_experiment_id,
    earlier.surface
from {{ ref('experiments') }} as earlier
inner join {{ ref('experiments') }} as later
    on
        earlier.surface = later.surface
        and earlier.experiment_id < later.experiment_id
        and earlier.start_date <= coalesce(later.end_date, cast('9999-12-31' as date))
        and later.start_date <= coalesce(earlier.end_date, cast('9999-12-31' as date))
