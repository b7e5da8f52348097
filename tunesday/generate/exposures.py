"""Experiments in the generated world: what the serving shim would log (serving/exposures.py) for
the chunk's listeners in the experiments of the seeds (tunesday.experiments), and, when asked, a
treatment that truly changes how its listeners behave.

The simulated shim serves experiments from halfway through the window
(GeneratorConfig.exposures_start_day: the half before is the analysis' pre-period), within each
experiment's start_date and end_date. A listener is exposed on each day they listen then, at their
first play of the day, to the variant tunesday.experiments assigns them (the same bucket the
warehouse computes). Each exposure has its own id and names the snapshot of its day.

A known effect (`--experiment-effect E`): after their first exposure, the listeners of the
treatment (every variant but the control) play 1 + E times as much as they would otherwise, in
expectation. Plays are only taken away, so that everything else the simulation made stays as it
was: for E < 0 each later play of a treatment listener is dropped with probability -E; for E > 0
each later play of a control listener with probability 1 - 1 / (1 + E). Either way the treatment's
plays, streams and minutes per listener are 1 + E times the control's, which is the lift the
analysis should find. A broken assignment (`--lose-treatment-exposures S`): the exposures of a
share S of the treatment's listeners are lost, as if the shim had failed to serve them.
"""

import dataclasses
import datetime as dt

import numpy as np
import pyarrow as pa

from tunesday.contract import RECORDS
from tunesday.experiments import Experiment
from tunesday.generate.config import EPOCH, US_PER_DAY, GeneratorConfig
from tunesday.generate.listening import Events

#: The per-play arrays of Events (the others are per session).
PLAY_FIELDS = ("user", "track", "played_at_us", "ms_played", "session", "reason_start", "reason_end", "skipped")


def simulate_experiments(
    config: GeneratorConfig, experiments: list[Experiment], user_ids: pa.Array, events: Events, rng: np.random.Generator
) -> tuple[pa.Table, Events]:
    """The exposures of the chunk's listeners, and their plays with the treatment's effect applied."""
    listeners = user_ids.to_pylist()
    day = events.played_at_us // US_PER_DAY
    first_of_day = np.ones(len(events), dtype=bool)
    first_of_day[1:] = (events.user[1:] != events.user[:-1]) | (day[1:] != day[:-1])
    columns: dict[str, list] = {name: [] for name in RECORDS["exposures"].names}
    keep = np.ones(len(events), dtype=bool)
    for experiment in experiments:
        start = max((experiment.start_date - EPOCH).days, config.exposures_start_day)
        end = np.inf if experiment.end_date is None else (experiment.end_date - EPOCH).days
        on = first_of_day & (day >= start) & (day <= end)
        control = next(variant.name for variant in experiment.variants if variant.is_control)
        variants = np.array([experiment.variant_of(user_id).name for user_id in listeners], dtype=object)
        treated = variants != control
        if config.lost_treatment_exposures > 0:
            lost = treated & (rng.random(len(listeners)) < config.lost_treatment_exposures)
            on &= ~lost[events.user]
        exposed = np.flatnonzero(on)
        if config.experiment_effect != 0:
            keep &= ~_dropped(config.experiment_effect, treated, events, exposed, rng)
        if not len(exposed):
            continue
        users = events.user[exposed]
        days = [(EPOCH + dt.timedelta(days=int(d))).isoformat() for d in day[exposed]]
        columns["exposure_id"] += [f"gen-{experiment.experiment_id}-{listeners[u]}-{d}" for u, d in zip(users, days)]
        columns["user_id"] += [listeners[u] for u in users]
        columns["experiment_id"] += [experiment.experiment_id] * len(exposed)
        columns["variant"] += list(variants[users])
        columns["surface"] += [experiment.surface] * len(exposed)
        columns["exposed_at"] += events.played_at_us[exposed].tolist()
        columns["snapshot_id"] += [f"{d}_generated" for d in days]
    exposed_at = pa.array(columns.pop("exposed_at"), type=pa.int64()).cast(pa.timestamp("us"))
    table = pa.Table.from_pydict({**columns, "exposed_at": exposed_at}).select(RECORDS["exposures"].names)
    if not keep.all():
        events = dataclasses.replace(events, **{name: getattr(events, name)[keep] for name in PLAY_FIELDS})
    return table.cast(RECORDS["exposures"]), events


def _dropped(
    effect: float, treated: np.ndarray, events: Events, exposed: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The plays the effect takes away: after the listener's first exposure, of the treatment's
    listeners with probability -effect (effect < 0), of the control's with 1 - 1 / (1 + effect)."""
    first_exposure = np.full(len(treated), np.iinfo(np.int64).max)
    np.minimum.at(first_exposure, events.user[exposed], events.played_at_us[exposed])
    after = events.played_at_us >= first_exposure[events.user]
    if effect < 0:
        affected, probability = treated[events.user], -effect
    else:
        affected, probability = ~treated[events.user], 1 - 1 / (1 + effect)
    return after & affected & (rng.random(len(events)) < probability)
