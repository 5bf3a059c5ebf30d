"""
The tracking events MLflow's tracking API needs beyond a run's own record: renaming an
experiment or a run, and setting a run's status after it ended (MLflow restarts,
schedules and re-ends runs; eventreg's ``run.finished`` ends a running run once).

Kept apart from :mod:`eventreg.domain.events` (which lists them in ``EVENT_CLASSES``);
:mod:`eventreg.domain.tracking_state` folds them.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import attrs

__all__ = ["RUN_STATUSES", "TRACKING_EVENT_CLASSES", "ExperimentRenamed", "RunRenamed", "RunStatusSet"]

#: The statuses a run can be set to (MLflow's ``RunStatus``).
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")


@attrs.frozen(kw_only=True)
class ExperimentRenamed:
    """
    The experiment ``experiment`` is called ``name`` from now on (its number, tags, runs
    and history stay; the old name is free again). Appended to the old name's stream.
    """

    type: ClassVar[str] = "experiment.renamed"
    schema_version: ClassVar[int] = 1
    experiment: str
    name: str


@attrs.frozen(kw_only=True)
class RunRenamed:
    type: ClassVar[str] = "run.renamed"
    schema_version: ClassVar[int] = 1
    run_id: str
    name: str


@attrs.frozen(kw_only=True)
class RunStatusSet:
    """
    A run's status set directly (MLflow's ``update_run_info``): back to ``RUNNING`` or
    ``SCHEDULED``, or to another end status after it ended. ``ended_at``, when given, is
    its new end time; None keeps the one it had.
    """

    type: ClassVar[str] = "run.status_set"
    schema_version: ClassVar[int] = 1
    run_id: str
    status: str
    ended_at: datetime | None = None


TRACKING_EVENT_CLASSES: tuple[type, ...] = (ExperimentRenamed, RunRenamed, RunStatusSet)
