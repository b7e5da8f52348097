"""Exposures: what the serving shim would log (serving/exposures.py) for the chunk's listeners in
the experiments of the seeds (tunesday.experiments) that run during the window.

A listener is exposed on each day they listen while an experiment runs (from its start_date to its
end_date), at their first play of the day, to the variant tunesday.experiments assigns them: the
same bucket the warehouse computes (macro experiment_bucket). Each exposure has its own id, and
names the snapshot of its day (`<day>_generated`).
"""

import datetime as dt

import numpy as np
import pyarrow as pa

from tunesday.contract import RECORDS
from tunesday.experiments import Experiment
from tunesday.generate.config import EPOCH, US_PER_DAY
from tunesday.generate.listening import Events


def exposure_table(experiments: list[Experiment], user_ids: pa.Array, events: Events) -> pa.Table:
    """One row per listener, running experiment and day they listened (at their first play)."""
    day = events.played_at_us // US_PER_DAY
    first_of_day = np.ones(len(events), dtype=bool)
    first_of_day[1:] = (events.user[1:] != events.user[:-1]) | (day[1:] != day[:-1])
    listeners = user_ids.to_pylist()
    columns: dict[str, list] = {name: [] for name in RECORDS["exposures"].names}
    for experiment in experiments:
        start = (experiment.start_date - EPOCH).days
        end = np.inf if experiment.end_date is None else (experiment.end_date - EPOCH).days
        on = np.flatnonzero(first_of_day & (day >= start) & (day <= end))
        if not len(on):
            continue
        variants = np.array([experiment.variant_of(user_id).name for user_id in listeners], dtype=object)
        users = events.user[on]
        days = [(EPOCH + dt.timedelta(days=int(d))).isoformat() for d in day[on]]
        columns["exposure_id"] += [f"gen-{experiment.experiment_id}-{listeners[u]}-{d}" for u, d in zip(users, days)]
        columns["user_id"] += [listeners[u] for u in users]
        columns["experiment_id"] += [experiment.experiment_id] * len(on)
        columns["variant"] += list(variants[users])
        columns["surface"] += [experiment.surface] * len(on)
        columns["exposed_at"] += events.played_at_us[on].tolist()
        columns["snapshot_id"] += [f"{d}_generated" for d in days]
    exposed_at = pa.array(columns.pop("exposed_at"), type=pa.int64()).cast(pa.timestamp("us"))
    return pa.Table.from_pydict({**columns, "exposed_at": exposed_at}, schema=RECORDS["exposures"]) \
        .select(RECORDS["exposures"].names)
