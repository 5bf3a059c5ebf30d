"""
What queries return: frozen snapshots of the projection, shaped as an MLflow user expects.

A view is a copy: it does not change when the registry does. Metric histories are not
copied into views (they can be long, and they stay in the log); ask
``registry.get_metric_history(...)`` or, for a chart, ``registry.get_metric_buckets(...)``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

from eventreg.domain.events import ArtifactEntry, MetricPoint, nan_safe
from eventreg.domain.packed import stored, unpack
from eventreg.domain.references import PREFIX
from eventreg.domain.entities import NO_STEP, Alias, ExperimentState, MetricHistory, MetricStats, ModelState, RunState, VersionState, latest_number

__all__ = [
    "Alias",
    "ArtifactEntry",
    "Comparison",
    "ComparisonRow",
    "Experiment",
    "MetricBucket",
    "MetricHistory",
    "MetricPoint",
    "MetricSummary",
    "Model",
    "ModelVersion",
    "Run",
]


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@attrs.frozen(kw_only=True)
class MetricSummary:
    """
    What the registry keeps in memory of one metric of a run or version: the latest value
    logged (``value``, at ``step`` and ``timestamp``), the lowest and highest value (NaN
    values left out; NaN when every value is NaN), how many points were logged, the
    latest timestamp, and the first and last version of the log stream holding them.
    """

    key: str
    value: float = attrs.field(eq=nan_safe)
    step: int | None
    timestamp: datetime
    min: float = attrs.field(eq=nan_safe)
    max: float = attrs.field(eq=nan_safe)
    count: int
    last_timestamp: datetime
    first_stream_version: int
    last_stream_version: int

    @classmethod
    def of(cls, key: str, stats: MetricStats) -> MetricSummary:
        return cls(key=key, value=stats.value, step=None if stats.step == NO_STEP else stats.step,
                   timestamp=_EPOCH + timedelta(microseconds=stats.stamp), min=stats.min, max=stats.max,
                   count=stats.count, last_timestamp=_EPOCH + timedelta(microseconds=stats.last_stamp),
                   first_stream_version=stats.first, last_stream_version=stats.last)


@attrs.frozen(kw_only=True)
class MetricBucket:
    """
    Consecutive points of a metric history (in the order logged) summarised for a chart:
    the lowest and highest step among them (None when none has a step), how many points
    (exact), their lowest and highest value (NaN values left out; NaN when all are NaN)
    and the value of the last one.
    """

    min_step: int | None
    max_step: int | None
    count: int
    min: float = attrs.field(eq=nan_safe)
    max: float = attrs.field(eq=nan_safe)
    last: float = attrs.field(eq=nan_safe)


@attrs.frozen(kw_only=True)
class Model:
    """
    A registered model: its description, tags, status and where its aliases point.
    """

    name: str
    description: str | None
    tags: dict[str, str]
    status: str
    status_reason: str | None
    created_at: datetime
    updated_at: datetime
    actor: str | None
    latest_version: int | None
    aliases: dict[str, int]
    labels: dict[str, int]

    @classmethod
    def of(cls, model: ModelState) -> Model:
        return cls(
            name=model.name, description=model.description, tags=dict(model.tags),
            status=model.status, status_reason=model.status_reason, created_at=model.created_at,
            updated_at=model.updated_at, actor=model.actor,
            latest_version=latest_number(model), aliases=dict(model.aliases),
            labels=dict(model.labels),
        )


@attrs.frozen(kw_only=True, slots=False)  # a __dict__, so nested JSON can be copied lazily
class ModelVersion:
    """
    One version of a model with its full lineage.

    ``metrics`` holds the latest value of each metric; ``aliases`` the aliases pointing
    at this version now; ``status`` is ``READY``, ``DEPRECATED`` or ``ARCHIVED``.
    """

    name: str
    version: int
    label: str | None
    aliases: tuple[str, ...]
    status: str
    status_reason: str | None
    description: str | None
    params: dict[str, Any] = attrs.field(eq=nan_safe)
    metrics: dict[str, float] = attrs.field(eq=nan_safe)
    tags: dict[str, str]
    artifacts: dict[str, ArtifactEntry]
    model_info: dict[str, Any] | None = attrs.field(eq=nan_safe)
    data: dict[str, Any] | None = attrs.field(eq=nan_safe)
    code: dict[str, Any] | None = attrs.field(eq=nan_safe)
    environment: dict[str, Any] = attrs.field(eq=nan_safe)
    architecture: dict[str, Any] | None = attrs.field(eq=nan_safe)
    run_id: str | None
    parents: tuple[int, ...]
    created_at: datetime
    updated_at: datetime
    actor: str | None
    position: int

    @property
    def uri(self) -> str:
        """
        ``models:/<name>/<version>``.
        """
        return f"{PREFIX}{self.name}/{self.version}"

    @classmethod
    def of(cls, model: ModelState, version: VersionState, aliases: tuple[str, ...] | None = None) -> ModelVersion:
        """
        The view of ``version``; ``aliases`` (sorted) when the caller already knows them.

        Its mappings are copied from ``version`` when the view's field is first read, not
        here: a search returning hundreds of views copies only what its caller looks at.
        That is a copy of the version as it was when the view was made because the fold
        never changes a version's mappings in place: params, artifacts, model_info, data,
        code, environment and architecture never change, and metrics and tags are
        replaced by new dicts (see eventreg/domain/state.py).
        """
        if aliases is None:
            aliases = tuple(sorted(a for a, v in model.aliases.items() if v == version.version))
        view, put = _new(cls), _put
        # set one by one, always in this order, so the view keeps them inline (no __dict__ of
        # its own until a lazy field is read): half the memory of a search of every version
        put(view, "name", version.model)
        put(view, "version", version.version)
        put(view, "label", version.label)
        put(view, "aliases", aliases)
        put(view, "status", version.status)
        put(view, "status_reason", version.status_reason)
        put(view, "description", version.description)
        put(view, "run_id", version.run_id)
        put(view, "parents", version.parents)
        put(view, "created_at", version.created_at)
        put(view, "updated_at", version.updated_at)
        put(view, "actor", version.actor)
        put(view, "position", version.position)
        put(view, "_source", version)
        put(view, "_metrics", stored(version, "metrics"))
        put(view, "_tags", stored(version, "tags"))
        return view

    def __getstate__(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in attrs.fields(type(self))}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)


_new = object.__new__
_put = object.__setattr__


#: a field not copied yet (absent from the view's __dict__)
_LAZY = object()


class _LazyField:
    """
    A view field copied (by ``copy``) when first read from the version it shows, or from the
    mapping the view kept under ``key``.
    """

    __slots__ = ("copy", "key", "name")

    def __init__(self, name: str, copy: Any, key: str = "") -> None:
        self.name = name
        self.copy = copy
        self.key = key  # where the view keeps the mapping when the version may replace it

    def __get__(self, view: Any, owner: Any = None) -> Any:
        if view is None:
            return self
        stored = view.__dict__
        value = stored.get(self.name, _LAZY)  # absent until first read
        if value is _LAZY:
            value = stored[self.key] if self.key else getattr(stored["_source"], self.name)
            if value is not None:
                value = self.copy(value)
            stored[self.name] = value
        return value

    def __set__(self, view: Any, value: Any) -> None:
        view.__dict__[self.name] = value


@attrs.frozen(kw_only=True)
class Run:
    """
    A training run: params, latest metrics, tags, artifacts and the logged model.

    ``status`` is ``RUNNING``, ``FINISHED``, ``FAILED`` or ``KILLED``; ``error`` names the
    exception type of a failed run.
    """

    id: str
    experiment: str
    name: str | None
    status: str
    error: str | None
    params: dict[str, Any] = attrs.field(eq=nan_safe)
    metrics: dict[str, float] = attrs.field(eq=nan_safe)
    tags: dict[str, str]
    artifacts: dict[str, ArtifactEntry]
    model_info: dict[str, Any] | None = attrs.field(eq=nan_safe)
    environment: dict[str, Any] = attrs.field(eq=nan_safe)
    code: dict[str, Any] | None = attrs.field(eq=nan_safe)
    started_at: datetime
    ended_at: datetime | None
    actor: str | None
    #: name -> fingerprint of each dataset the run logged (``run.log_dataset``)
    datasets: dict[str, dict[str, Any]] = attrs.field(factory=dict, eq=nan_safe)

    # -- MLflow's names, for code written against ``run.info`` and ``run.data`` -------

    @property
    def run_id(self) -> str:
        """
        The run's id (``id``), as MLflow's ``run.info.run_id``.
        """
        return self.id

    @property
    def run_name(self) -> str | None:
        """
        The run's name (``name``), as MLflow's ``run.info.run_name``.
        """
        return self.name

    @property
    def experiment_id(self) -> str:
        """
        The experiment's name (``experiment``): eventreg names experiments, it does not number them.
        """
        return self.experiment

    @property
    def start_time(self) -> int:
        """
        When the run started, in milliseconds since the epoch, as MLflow gives it
        (``started_at`` is the ``datetime``).
        """
        return _millis(self.started_at)

    @property
    def end_time(self) -> int | None:
        """
        When the run ended, in milliseconds since the epoch (None while it runs).
        """
        return None if self.ended_at is None else _millis(self.ended_at)

    @property
    def info(self) -> Run:
        """
        The run itself, so MLflow's ``run.info.run_id`` reads the same here.
        """
        return self

    @property
    def data(self) -> Run:
        """
        The run itself, so MLflow's ``run.data.params`` / ``run.data.metrics`` read the same here.
        """
        return self

    @classmethod
    def of(cls, run: RunState) -> Run:
        return cls(
            id=run.run_id, experiment=run.experiment, name=run.name, status=run.status,
            error=run.error, params=_copy(run.params), metrics=dict(run.metrics),
            tags=dict(run.tags), artifacts=dict(run.artifacts), model_info=_copy(run.model_info),
            environment=_copy(run.environment), code=_copy(run.code), started_at=run.started_at,
            ended_at=run.ended_at, actor=run.actor, datasets=_copy(run.datasets),
        )


@attrs.frozen(kw_only=True)
class Experiment:
    """
    An experiment: a named group of runs.
    """

    name: str
    created_at: datetime
    actor: str | None
    run_ids: tuple[str, ...]
    #: its number: the log position that created it (unique, never reused)
    id: int = 0
    tags: dict[str, str] = attrs.field(factory=dict)
    deleted: bool = False
    #: its runs that are deleted (and not restored)
    deleted_run_ids: tuple[str, ...] = ()
    #: when it was last renamed, deleted or restored (its creation time if never)
    updated_at: datetime | None = None

    @classmethod
    def of(cls, experiment: ExperimentState) -> Experiment:
        return cls(name=experiment.name, created_at=experiment.created_at,
                   actor=experiment.actor, run_ids=tuple(experiment.runs), id=experiment.position,
                   tags=dict(experiment.tags), deleted=experiment.deleted,
                   deleted_run_ids=tuple(experiment.deleted_runs),
                   updated_at=experiment.updated_at or experiment.created_at)


@attrs.frozen(kw_only=True)
class ComparisonRow:
    """
    One param or metric across the compared versions (None where a version lacks it);
    ``differs`` marks a difference.
    """

    section: str
    key: str
    values: tuple[Any, ...] = attrs.field(eq=nan_safe)
    differs: bool


@attrs.frozen(kw_only=True)
class Comparison:
    """
    Params and (latest) metrics of several versions side by side.
    """

    model: str
    versions: tuple[int, ...]
    rows: tuple[ComparisonRow, ...]

    @property
    def differences(self) -> tuple[ComparisonRow, ...]:
        """
        Only the rows whose values differ.
        """
        return tuple(row for row in self.rows if row.differs)

    def __str__(self) -> str:
        header = ["", *(f"version {number}" for number in self.versions)]
        lines = [header]
        for row in self.rows:
            mark = "* " if row.differs else "  "
            lines.append([mark + f"{row.section}.{row.key}", *("-" if v is None else str(v) for v in row.values)])
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines)

    @classmethod
    def of(cls, model: str, versions: list[VersionState]) -> Comparison:
        rows = []
        for section in ("params", "metrics"):
            keys = sorted({key for v in versions for key in getattr(v, section)})
            for key in keys:
                present = [getattr(v, section) for v in versions]
                values = tuple(p.get(key) for p in present)
                keys_seen = {_same_key(p[key]) if key in p else ("<missing>",) for p in present}
                rows.append(ComparisonRow(section=section, key=key, values=values,
                                          differs=len(keys_seen) > 1))
        return cls(model=model, versions=tuple(v.version for v in versions), rows=tuple(rows))


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _fresh(value: Any) -> dict[str, Any]:
    """
    A copy of a version's metrics or tags as stored (encoded or not: eventreg/domain/packed.py).
    """
    return dict(unpack(value))


def _copy(value: Any) -> Any:
    """
    A deep copy of a JSON value, so that changing a view never changes the registry.
    """
    if isinstance(value, dict):  # leaves are copied inline: most values are strings or numbers
        return {key: _copy(item) if isinstance(item, (dict, list)) else item for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) if isinstance(item, (dict, list)) else item for item in value]
    return value


def _same_key(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return "<nan>"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return ("num", float(value))
    return (type(value).__name__, repr(value))


setattr(ModelVersion, "params", _LazyField("params", _copy))  # a list or dict param is copied too
setattr(ModelVersion, "artifacts", _LazyField("artifacts", dict))
for _name in ("metrics", "tags"):  # replaced by later events: the view keeps the one it saw
    setattr(ModelVersion, _name, _LazyField(_name, _fresh, "_" + _name))
for _name in ("model_info", "data", "code", "environment", "architecture"):
    setattr(ModelVersion, _name, _LazyField(_name, _copy))
