"""
How the tracking events of :mod:`eventreg.domain.tracking_events` fold into the projection.
"""

from __future__ import annotations

from typing import Any

from eventreg.domain.entities import RegistryState
from eventreg.domain.tracking_events import ExperimentRenamed, RunRenamed, RunStatusSet
from eventreg.log import RecordedEvent


def _experiment_renamed(state: RegistryState, e: ExperimentRenamed, r: RecordedEvent) -> None:
    experiment = state.experiments[e.experiment]  # a missing experiment is a corrupt log
    if e.name in state.experiments:
        # two writers renamed (or created) to one name at once: the first to reach the log
        # keeps it; this rename stays in the log and changes nothing, on every replay alike
        return
    experiment.name = e.name
    experiment.updated_at = r.recorded_at
    # keep the experiments' order (their creation order) with the one key changed
    renamed = {(e.name if key == e.experiment else key): value for key, value in state.experiments.items()}
    state.experiments.clear()
    state.experiments.update(renamed)
    for run_id in experiment.runs:
        state.runs[run_id].experiment = e.name


def _run_renamed(state: RegistryState, e: RunRenamed, r: RecordedEvent) -> None:
    state.runs[e.run_id].name = e.name


def _run_status_set(state: RegistryState, e: RunStatusSet, r: RecordedEvent) -> None:
    run = state.runs[e.run_id]
    run.status = e.status
    if e.ended_at is not None:
        run.ended_at = e.ended_at


TRACKING_HANDLERS: dict[type, Any] = {
    ExperimentRenamed: _experiment_renamed,
    RunRenamed: _run_renamed,
    RunStatusSet: _run_status_set,
}
