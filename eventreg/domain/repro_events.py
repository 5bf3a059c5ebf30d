"""
The reproducibility events: a dataset a run used, and the outcome of re-running a version.

Kept apart from :mod:`eventreg.domain.events` (which lists them in ``EVENT_CLASSES``) so
the reproducibility feature reads as one piece.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from eventreg.domain.equality import nan_safe

__all__ = ["REPRO_EVENT_CLASSES", "RunDatasetLogged", "VersionReproduced"]


@attrs.frozen(kw_only=True)
class RunDatasetLogged:
    """
    A dataset the run used, under ``name``: ``dataset`` holds its fingerprint (kind,
    ``digest``, size, file count or schema and row count, uri) and ``context``.
    """

    type: ClassVar[str] = "run.dataset_logged"
    schema_version: ClassVar[int] = 1
    run_id: str
    name: str
    dataset: dict[str, Any] = attrs.field(eq=nan_safe)


@attrs.frozen(kw_only=True)
class VersionReproduced:
    """
    A version was rebuilt from its record and its re-run compared with the original.

    ``outcome`` is ``reproduced``, ``not_reproduced`` (the re-run differs: see
    ``differences``, ``"<kind>:<key>" -> {"original", "reproduced", "detail"}``) or
    ``failed`` (it could not be rebuilt or run: see ``reason``). ``comparison`` holds how
    it was compared (``rtol``, what was checked).
    """

    type: ClassVar[str] = "version.reproduced"
    schema_version: ClassVar[int] = 1
    model: str
    version: int
    outcome: str
    differences: dict[str, Any] = attrs.field(factory=dict, eq=nan_safe)
    run_id: str | None = None
    environment: str | None = None
    comparison: dict[str, Any] = attrs.field(factory=dict, eq=nan_safe)
    reason: str | None = None


REPRO_EVENT_CLASSES: tuple[type, ...] = (RunDatasetLogged, VersionReproduced)
