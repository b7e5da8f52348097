-- The settings the shim applies to the day's data (serving_settings, one row): the snapshot's
-- manifest carries every column but run_date.

select
    * exclude (run_date),
    cast(run_date as varchar) as run_date
from serving_settings
