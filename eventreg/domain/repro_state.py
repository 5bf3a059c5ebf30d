"""
How the reproducibility events fold into the projection.
"""

from __future__ import annotations

from typing import Any

from eventreg.domain.entities import RegistryState
from eventreg.domain.repro_events import RunDatasetLogged, VersionReproduced
from eventreg.log import RecordedEvent


def _run_dataset_logged(state: RegistryState, e: RunDatasetLogged, r: RecordedEvent) -> None:
    state.runs[e.run_id].datasets[e.name] = dict(e.dataset)


def _version_reproduced(state: RegistryState, e: VersionReproduced, r: RecordedEvent) -> None:
    model = state.models[e.model]  # a missing model is a corrupt log (KeyError)
    model.versions[e.version]  # noqa: B018 - so is a missing version


REPRO_HANDLERS: dict[type, Any] = {
    RunDatasetLogged: _run_dataset_logged,
    VersionReproduced: _version_reproduced,
}
