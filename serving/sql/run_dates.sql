-- The days the serving tables were built for: the export wants exactly its run_date.

select distinct cast(run_date as varchar) as run_date
from serving_users
