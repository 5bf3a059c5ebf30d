"""
The entities of the projection: models, versions, aliases, runs, experiments, metric summaries.

Plain mutable records that :mod:`eventreg.domain.state` folds events into; queries read
them through the frozen views of :mod:`eventreg.domain.views`.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, overload

import attrs

from eventreg.domain.events import ArtifactEntry, MetricPoint, nan_safe
from eventreg.domain.packed import pack_fields
from eventreg.log import GENESIS_HASH
from eventreg.domain.governance_state import GovernanceState

READY = "READY"
DEPRECATED = "DEPRECATED"
ARCHIVED = "ARCHIVED"
#: MLflow's deployment stages, kept as a version's status (``set_version_stage``)
STAGING = "STAGING"
PRODUCTION = "PRODUCTION"
#: a deleted version: hidden from every read, its number never reused (the log keeps it)
DELETED = "DELETED"

RUNNING = "RUNNING"
FINISHED = "FINISHED"
FAILED = "FAILED"
KILLED = "KILLED"
RUN_END_STATUSES = (FINISHED, FAILED, KILLED)



_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
#: the stored step of a point without one (steps fit in 64 bits with this value excluded)
NO_STEP = -(2**63)


class MetricHistory(Sequence[MetricPoint]):
    """
    Points of one metric key, oldest first, as ``get_metric_history`` returns them: a
    read-only sequence of :class:`~eventreg.domain.events.MetricPoint` stored column by
    column in arrays (``values``; ``steps``, :data:`NO_STEP` for none; ``stamps``,
    microseconds since the epoch), so a million points cost 24 MB rather than an object
    each; a point object is made when read. It compares equal to a list of the same points.
    """

    __slots__ = ("key", "values", "steps", "stamps")

    def __init__(self, key: str, values: Iterable[float] = (), steps: Iterable[int] = (),
                 stamps: Iterable[int] = ()) -> None:
        self.key = key
        self.values = values if isinstance(values, array) else array("d", values)
        self.steps = steps if isinstance(steps, array) else array("q", steps)
        self.stamps = stamps if isinstance(stamps, array) else array("q", stamps)

    @classmethod
    def of(cls, key: str, points: Iterable[MetricPoint]) -> MetricHistory:
        """
        A history holding ``points`` (all of ``key``).
        """
        history = cls(key)
        for _, value, step, micros in _point_rows(points):
            history.values.append(value)
            history.steps.append(step)
            history.stamps.append(micros)
        return history

    def __len__(self) -> int:
        return len(self.values)

    def _point(self, i: int) -> MetricPoint:
        step = self.steps[i]
        return MetricPoint(key=self.key, value=self.values[i], step=None if step == NO_STEP else step,
                           timestamp=_EPOCH + timedelta(microseconds=self.stamps[i]))

    @overload
    def __getitem__(self, index: int) -> MetricPoint: ...

    @overload
    def __getitem__(self, index: slice) -> list[MetricPoint]: ...

    def __getitem__(self, index: int | slice) -> MetricPoint | list[MetricPoint]:
        if isinstance(index, slice):
            return [self._point(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("metric history index out of range")
        return self._point(index)

    def __iter__(self) -> Iterator[MetricPoint]:
        return map(self._point, range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MetricHistory):
            if (self.key, self.steps, self.stamps) != (other.key, other.steps, other.stamps):
                return False
            return all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(self.values, other.values))
        if isinstance(other, (list, tuple)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: Any) -> list[MetricPoint]:
        return [*self, *other]

    def __radd__(self, other: Any) -> list[MetricPoint]:
        return [*other, *self]

    def __repr__(self) -> str:
        return f"MetricHistory({self.key!r}, {len(self)} points)"


class MetricStats:
    """
    What the projection keeps of one metric key of a run or version instead of its points:
    the latest value logged with its step and time (microseconds since the epoch; step
    :data:`NO_STEP` for none), the lowest and highest value (NaN values left out; NaN
    while there is none), how many points, the latest timestamp, and the first and last
    version of the stream (``run:<id>`` or the model's) holding points of the key, so a
    history is one ranged read of the stream (:mod:`eventreg.metric_reads`).
    """

    __slots__ = ("value", "step", "stamp", "min", "max", "count", "last_stamp", "first", "last")

    def __init__(self, value: float, step: int, stamp: int, low: float, high: float, count: int,
                 last_stamp: int, first: int, last: int) -> None:
        self.value, self.step, self.stamp = value, step, stamp
        self.min, self.max, self.count, self.last_stamp = low, high, count, last_stamp
        self.first, self.last = first, last

    def _row(self) -> list[Any]:
        return [self.value, self.step, self.stamp, self.min, self.max, self.count, self.last_stamp,
                self.first, self.last]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MetricStats):
            return NotImplemented
        return all(a == b or (a != a and b != b) for a, b in zip(self._row(), other._row()))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MetricStats({self._row()})"


@attrs.frozen(kw_only=True)
class Alias:
    """
    One move of an alias: which version it pointed at afterwards and before, who moved
    it, when (``at`` and the log ``position``), how (``"promote"`` or ``"rollback"``) and why.
    """

    model: str
    name: str
    version: int
    previous: int | None
    action: str
    reason: str | None
    forced: bool
    actor: str | None
    at: datetime
    position: int


@attrs.define(kw_only=True)
class VersionState:
    model: str
    version: int
    label: str | None
    description: str | None
    params: dict[str, Any] = attrs.field(eq=nan_safe)
    metrics: dict[str, float] = attrs.field(eq=nan_safe)  # latest value per key
    metric_summaries: dict[str, MetricStats]
    tags: dict[str, str]
    artifacts: dict[str, ArtifactEntry]
    model_info: dict[str, Any] | None = attrs.field(eq=nan_safe)
    data: dict[str, Any] | None = attrs.field(eq=nan_safe)
    code: dict[str, Any] | None = attrs.field(eq=nan_safe)
    environment: dict[str, Any] = attrs.field(eq=nan_safe)
    architecture: dict[str, Any] | None = attrs.field(eq=nan_safe)
    run_id: str | None
    parents: tuple[int, ...]
    status: str = READY
    status_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    actor: str | None
    position: int


# the mappings of a version nobody reads often, kept encoded (eventreg/domain/packed.py)
pack_fields(VersionState, ("params", "metrics", "tags", "artifacts", "model_info", "data", "code", "environment",
                           "architecture"), "metric_summaries", MetricStats)


@attrs.define(kw_only=True)
class ModelState:
    name: str
    description: str | None
    tags: dict[str, str]
    status: str = READY
    status_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    actor: str | None
    versions: dict[int, VersionState] = attrs.field(factory=dict)
    labels: dict[str, int] = attrs.field(factory=dict)
    aliases: dict[str, int] = attrs.field(factory=dict)
    #: the holders an alias can roll back through, oldest first, current last
    alias_stacks: dict[str, list[int]] = attrs.field(factory=dict)
    alias_history: dict[str, list[Alias]] = attrs.field(factory=dict)


@attrs.define(kw_only=True)
class RunState:
    run_id: str
    experiment: str
    name: str | None
    status: str = RUNNING
    error: str | None = None
    params: dict[str, Any] = attrs.field(factory=dict, eq=nan_safe)
    metrics: dict[str, float] = attrs.field(factory=dict, eq=nan_safe)
    metric_summaries: dict[str, MetricStats] = attrs.field(factory=dict)
    tags: dict[str, str] = attrs.field(factory=dict)
    artifacts: dict[str, ArtifactEntry] = attrs.field(factory=dict)
    #: ``{"path": ..., "flavor": {...}}`` of the last model logged
    model_info: dict[str, Any] | None = attrs.field(default=None, eq=nan_safe)
    environment: dict[str, Any] = attrs.field(factory=dict, eq=nan_safe)
    code: dict[str, Any] | None = attrs.field(default=None, eq=nan_safe)
    #: name -> fingerprint of each dataset logged (``run.log_dataset``)
    datasets: dict[str, dict[str, Any]] = attrs.field(factory=dict, eq=nan_safe)
    started_at: datetime
    ended_at: datetime | None = None
    actor: str | None


@attrs.define(kw_only=True)
class ExperimentState:
    name: str
    created_at: datetime
    actor: str | None
    runs: list[str] = attrs.field(factory=list)
    #: the log position that created it: its number (MLflow's experiment id)
    position: int = 0
    tags: dict[str, str] = attrs.field(factory=dict)
    deleted: bool = False
    #: its runs that were deleted (and not restored)
    deleted_runs: list[str] = attrs.field(factory=list)
    #: when it was last renamed, deleted or restored (None: never since its creation)
    updated_at: datetime | None = None


@attrs.define(kw_only=True)
class RegistryState:
    """
    The whole projection at ``position`` (the last event folded in, 0 for none).
    """

    position: int = 0
    last_hash: str = GENESIS_HASH
    models: dict[str, ModelState] = attrs.field(factory=dict)
    runs: dict[str, RunState] = attrs.field(factory=dict)
    experiments: dict[str, ExperimentState] = attrs.field(factory=dict)
    #: current version of every stream, for ``append(expected_version=...)``
    streams: dict[str, int] = attrs.field(factory=dict)
    #: admins, roles, keys, protected aliases and requests (eventreg.domain.governance_state)
    governance: GovernanceState = attrs.field(factory=GovernanceState)


def _point_rows(points: Iterable[MetricPoint]) -> list[tuple[str, float, int, int]]:
    """
    ``(key, value, step, microseconds)`` rows of point objects, as :func:`eventreg.domain.state._plain_points` gives them from payloads.
    """
    return [(p.key, p.value, NO_STEP if p.step is None else p.step, (p.timestamp - _EPOCH) // _MICROSECOND)
            for p in points]


def _add_points(latest: dict[str, float], summaries: dict[str, MetricStats],
                rows: list[tuple[str, float, int, int]], stream_version: int) -> None:
    """
    Fold point rows (of one event, at ``stream_version`` of its stream) into the latest
    values and the summaries.
    """
    for key, value, step, micros in rows:
        if not NO_STEP <= step < 2**63:  # a step is stored in 64 bits
            raise OverflowError(f"step {step} of metric {key!r}")
        found = summaries.get(key)
        if found is None:
            summaries[key] = MetricStats(value, step, micros, value, value, 1, micros, stream_version,
                                         stream_version)
        else:
            found.value, found.step, found.stamp, found.last = value, step, micros, stream_version
            found.count += 1
            if micros > found.last_stamp:
                found.last_stamp = micros
            if value == value:  # NaN changes neither bound
                if not value >= found.min:  # also when min is NaN: no value yet
                    found.min = value
                if not value <= found.max:
                    found.max = value
        latest[key] = value


def latest_number(model: ModelState) -> int | None:
    """
    The highest version number of ``model`` that is not deleted, or None.
    """
    number = len(model.versions)
    while number and model.versions[number].status == DELETED:
        number -= 1
    return number or None
