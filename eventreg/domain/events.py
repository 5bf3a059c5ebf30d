"""
The registry's events: plain, frozen data, one class per thing that can happen.

Each class names its wire ``type`` and ``schema_version`` once; :mod:`eventreg.domain.codec`
turns them into ``(type, payload)`` and back. Names are in the past tense. Every event
carries the model or run it concerns, so a payload read on its own (an audit export, a
subscriber) is self-explanatory; who and when live in the log's envelope.

Streams: ``model:<name>`` holds a model, its versions, tags and aliases (so version numbers
come from one stream and two writers cannot both create version 7); ``run:<id>`` holds a
run; ``experiment:<name>`` holds the creation of an experiment; ``webhook:<id>`` a webhook.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import attrs

from eventreg.domain.equality import nan_safe
from eventreg.domain.governance_events import GOVERNANCE_EVENT_CLASSES


@attrs.frozen(kw_only=True)
class MetricPoint:
    """
    One measurement of a metric: value (NaN allowed), optional step, and when it was taken.
    """

    key: str
    value: float = attrs.field(eq=nan_safe)
    step: int | None = None
    timestamp: datetime


@attrs.frozen(kw_only=True)
class ArtifactEntry:
    """
    A stored artifact: the sha256 of its bytes and its size.
    """

    sha256: str
    size: int


def model_stream(name: str) -> str:
    """
    The stream id of a model.
    """
    return f"model:{name}"


def run_stream(run_id: str) -> str:
    """
    The stream id of a run.
    """
    return f"run:{run_id}"


def experiment_stream(name: str) -> str:
    """
    The stream id of an experiment.
    """
    return f"experiment:{name}"


# -- models ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ModelCreated:
    type: ClassVar[str] = "model.created"
    schema_version: ClassVar[int] = 1
    model: str
    description: str | None = None
    tags: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ModelUpdated:
    type: ClassVar[str] = "model.updated"
    schema_version: ClassVar[int] = 1
    model: str
    description: str | None = None


@attrs.frozen(kw_only=True)
class ModelTagSet:
    type: ClassVar[str] = "model.tag_set"
    schema_version: ClassVar[int] = 1
    model: str
    key: str
    value: str


@attrs.frozen(kw_only=True)
class ModelTagDeleted:
    type: ClassVar[str] = "model.tag_deleted"
    schema_version: ClassVar[int] = 1
    model: str
    key: str


@attrs.frozen(kw_only=True)
class ModelArchived:
    type: ClassVar[str] = "model.archived"
    schema_version: ClassVar[int] = 1
    model: str
    reason: str | None = None


@attrs.frozen(kw_only=True)
class ModelDeleted:
    """
    A model was deleted (MLflow's delete): it disappears from every read and its name
    can be registered again, starting at version 1; its events stay in the log, so
    history and ``as_of`` before the deletion still show it. Unlike ``model.archived``.
    """

    type: ClassVar[str] = "model.deleted"
    schema_version: ClassVar[int] = 1
    model: str
    reason: str | None = None


# -- versions ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class VersionRegistered:
    """
    A new version of a model, with everything needed to reproduce and audit it.

    ``model_info`` is ``{"path": <artifact folder>, "flavor": {...}}`` when the artifacts
    hold a model saved by :mod:`eventreg.flavors`; ``artifacts`` maps relative paths to
    their digests.
    """

    type: ClassVar[str] = "version.registered"
    schema_version: ClassVar[int] = 1
    model: str
    version: int
    label: str | None = None
    description: str | None = None
    params: dict[str, Any] = attrs.field(factory=dict, eq=nan_safe)
    metrics: tuple[MetricPoint, ...] = ()
    tags: dict[str, str] = attrs.field(factory=dict)
    artifacts: dict[str, ArtifactEntry] = attrs.field(factory=dict)
    model_info: dict[str, Any] | None = attrs.field(default=None, eq=nan_safe)
    data: dict[str, Any] | None = attrs.field(default=None, eq=nan_safe)
    code: dict[str, Any] | None = attrs.field(default=None, eq=nan_safe)
    environment: dict[str, Any] = attrs.field(factory=dict, eq=nan_safe)
    architecture: dict[str, Any] | None = attrs.field(default=None, eq=nan_safe)
    run_id: str | None = None
    parents: tuple[int, ...] = ()


@attrs.frozen(kw_only=True)
class VersionUpdated:
    type: ClassVar[str] = "version.updated"
    schema_version: ClassVar[int] = 1
    model: str
    version: int
    description: str | None = None


@attrs.frozen(kw_only=True)
class VersionMetricsLogged:
    type: ClassVar[str] = "version.metrics_logged"
    schema_version: ClassVar[int] = 2  # 2: points stored as columns (eventreg.domain.codec.point_columns)
    model: str
    version: int
    points: tuple[MetricPoint, ...]


@attrs.frozen(kw_only=True)
class VersionTagSet:
    type: ClassVar[str] = "version.tag_set"
    schema_version: ClassVar[int] = 1
    model: str
    version: int
    key: str
    value: str


@attrs.frozen(kw_only=True)
class VersionTagDeleted:
    type: ClassVar[str] = "version.tag_deleted"
    schema_version: ClassVar[int] = 1
    model: str
    version: int
    key: str


@attrs.frozen(kw_only=True)
class VersionDeprecated:
    type: ClassVar[str] = "version.deprecated"
    schema_version: ClassVar[int] = 1
    model: str
    version: int
    reason: str | None = None


@attrs.frozen(kw_only=True)
class VersionArchived:
    type: ClassVar[str] = "version.archived"
    schema_version: ClassVar[int] = 1
    model: str
    version: int
    reason: str | None = None


@attrs.frozen(kw_only=True)
class VersionStageSet:
    """
    A version moved to a stage (MLflow's ``transition_model_version_stage``): ``stage`` is
    its new status, ``READY`` (MLflow's "None"), ``STAGING``, ``PRODUCTION`` or ``ARCHIVED``.
    """

    type: ClassVar[str] = "version.stage_set"
    schema_version: ClassVar[int] = 1
    model: str
    version: int
    stage: str
    reason: str | None = None


@attrs.frozen(kw_only=True)
class VersionDeleted:
    """
    A version was deleted: hidden from every read, its aliases removed, its number never
    given again. Unlike ``version.archived``, which keeps it readable.
    """

    type: ClassVar[str] = "version.deleted"
    schema_version: ClassVar[int] = 1
    model: str
    version: int
    reason: str | None = None


# -- aliases -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AliasPromoted:
    """
    An alias moved to ``version``; ``previous`` is the version that held it (or None).
    """

    type: ClassVar[str] = "alias.promoted"
    schema_version: ClassVar[int] = 1
    model: str
    alias: str
    version: int
    previous: int | None
    reason: str | None = None
    forced: bool = False


@attrs.frozen(kw_only=True)
class AliasRolledBack:
    """
    An alias moved back from ``previous`` to ``version``, an earlier holder of it.
    """

    type: ClassVar[str] = "alias.rolled_back"
    schema_version: ClassVar[int] = 1
    model: str
    alias: str
    version: int
    previous: int
    reason: str | None = None
    forced: bool = False


@attrs.frozen(kw_only=True)
class AliasRemoved:
    """
    An alias was removed from ``previous``, the version that held it (not a rollback:
    nothing holds it afterwards).
    """

    type: ClassVar[str] = "alias.removed"
    schema_version: ClassVar[int] = 1
    model: str
    alias: str
    previous: int
    reason: str | None = None


# -- experiments and runs ----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ExperimentCreated:
    type: ClassVar[str] = "experiment.created"
    schema_version: ClassVar[int] = 1
    experiment: str


@attrs.frozen(kw_only=True)
class ExperimentTagSet:
    type: ClassVar[str] = "experiment.tag_set"
    schema_version: ClassVar[int] = 1
    experiment: str
    key: str
    value: str


@attrs.frozen(kw_only=True)
class ExperimentTagDeleted:
    type: ClassVar[str] = "experiment.tag_deleted"
    schema_version: ClassVar[int] = 1
    experiment: str
    key: str


@attrs.frozen(kw_only=True)
class ExperimentDeleted:
    """
    An experiment was deleted: hidden from lists, takes no new runs, its name stays taken;
    it can be restored (nothing is erased from the log).
    """

    type: ClassVar[str] = "experiment.deleted"
    schema_version: ClassVar[int] = 1
    experiment: str
    reason: str | None = None


@attrs.frozen(kw_only=True)
class ExperimentRestored:
    type: ClassVar[str] = "experiment.restored"
    schema_version: ClassVar[int] = 1
    experiment: str


@attrs.frozen(kw_only=True)
class RunStarted:
    type: ClassVar[str] = "run.started"
    schema_version: ClassVar[int] = 1
    run_id: str
    experiment: str
    name: str | None = None
    tags: dict[str, str] = attrs.field(factory=dict)
    environment: dict[str, Any] = attrs.field(factory=dict, eq=nan_safe)
    code: dict[str, Any] | None = attrs.field(default=None, eq=nan_safe)
    #: when the run really started, if not at the append (an import, a client's clock)
    started_at: datetime | None = None


@attrs.frozen(kw_only=True)
class RunParamsLogged:
    type: ClassVar[str] = "run.params_logged"
    schema_version: ClassVar[int] = 1
    run_id: str
    params: dict[str, Any] = attrs.field(eq=nan_safe)


@attrs.frozen(kw_only=True)
class RunMetricsLogged:
    type: ClassVar[str] = "run.metrics_logged"
    schema_version: ClassVar[int] = 2  # 2: points stored as columns (eventreg.domain.codec.point_columns)
    run_id: str
    points: tuple[MetricPoint, ...]


@attrs.frozen(kw_only=True)
class RunTagsSet:
    type: ClassVar[str] = "run.tags_set"
    schema_version: ClassVar[int] = 1
    run_id: str
    tags: dict[str, str]


@attrs.frozen(kw_only=True)
class RunArtifactsLogged:
    type: ClassVar[str] = "run.artifacts_logged"
    schema_version: ClassVar[int] = 1
    run_id: str
    artifacts: dict[str, ArtifactEntry]


@attrs.frozen(kw_only=True)
class RunModelLogged:
    """
    A model object saved into the run's artifacts under ``path`` (its files are in
    ``artifacts``, keyed ``<path>/<file>``).
    """

    type: ClassVar[str] = "run.model_logged"
    schema_version: ClassVar[int] = 1
    run_id: str
    path: str
    flavor: dict[str, Any] = attrs.field(eq=nan_safe)
    artifacts: dict[str, ArtifactEntry]


@attrs.frozen(kw_only=True)
class RunFinished:
    type: ClassVar[str] = "run.finished"
    schema_version: ClassVar[int] = 1
    run_id: str
    status: str
    error: str | None = None
    #: when the run really ended, if not at the append
    ended_at: datetime | None = None


@attrs.frozen(kw_only=True)
class RunDeleted:
    """
    A run was deleted: hidden from searches, takes no more events; it can be restored.
    """

    type: ClassVar[str] = "run.deleted"
    schema_version: ClassVar[int] = 1
    run_id: str
    reason: str | None = None


@attrs.frozen(kw_only=True)
class RunRestored:
    type: ClassVar[str] = "run.restored"
    schema_version: ClassVar[int] = 1
    run_id: str


@attrs.frozen(kw_only=True)
class RunTagDeleted:
    type: ClassVar[str] = "run.tag_deleted"
    schema_version: ClassVar[int] = 1
    run_id: str
    key: str


# -- webhooks ----------------------------------------------------------------------------


def webhook_stream(webhook_id: str) -> str:
    """
    The stream id of a webhook.
    """
    return f"webhook:{webhook_id}"


@attrs.frozen(kw_only=True)
class WebhookCreated:
    """
    A webhook: ``url`` is to be called when one of ``events`` happens. ``secret`` is
    stored as given (the log keeps it forever): callers store a ciphertext.
    """

    type: ClassVar[str] = "webhook.created"
    schema_version: ClassVar[int] = 1
    webhook_id: str
    name: str
    url: str
    events: tuple[str, ...]
    description: str | None = None
    status: str = "ACTIVE"
    secret: str | None = None


@attrs.frozen(kw_only=True)
class WebhookUpdated:
    """
    Fields of a webhook changed; a field that is None is unchanged.
    """

    type: ClassVar[str] = "webhook.updated"
    schema_version: ClassVar[int] = 1
    webhook_id: str
    name: str | None = None
    url: str | None = None
    events: tuple[str, ...] | None = None
    description: str | None = None
    status: str | None = None
    secret: str | None = None


@attrs.frozen(kw_only=True)
class WebhookDeleted:
    type: ClassVar[str] = "webhook.deleted"
    schema_version: ClassVar[int] = 1
    webhook_id: str


# -- the projection ----------------------------------------------------------------------

#: The stream that vouches for projection snapshots.
SNAPSHOT_STREAM = "projection:snapshots"


@attrs.frozen(kw_only=True)
class SnapshotSaved:
    """
    A projection snapshot valid at ``position`` was stored with this sha256 ``digest``.

    Snapshots live outside the hash chain; this event puts their digest inside it, so a
    registry trusts a snapshot only when the log vouches for its exact bytes.
    """

    type: ClassVar[str] = "projection.snapshot_saved"
    schema_version: ClassVar[int] = 1
    position: int
    digest: str
    format: int
    code_version: str


#: Every event class, in a stable order.
EVENT_CLASSES: tuple[type, ...] = (
    ModelCreated,
    ModelUpdated,
    ModelTagSet,
    ModelTagDeleted,
    ModelArchived,
    ModelDeleted,
    VersionRegistered,
    VersionUpdated,
    VersionMetricsLogged,
    VersionTagSet,
    VersionTagDeleted,
    VersionDeprecated,
    VersionArchived,
    VersionStageSet,
    VersionDeleted,
    AliasPromoted,
    AliasRolledBack,
    AliasRemoved,
    ExperimentCreated,
    ExperimentTagSet,
    ExperimentTagDeleted,
    ExperimentDeleted,
    ExperimentRestored,
    RunStarted,
    RunParamsLogged,
    RunMetricsLogged,
    RunTagsSet,
    RunArtifactsLogged,
    RunModelLogged,
    RunFinished,
    RunDeleted,
    RunRestored,
    RunTagDeleted,
    SnapshotSaved,
    WebhookCreated,
    WebhookUpdated,
    WebhookDeleted,
    *GOVERNANCE_EVENT_CLASSES,
)
from eventreg.domain.repro_events import REPRO_EVENT_CLASSES  # noqa: E402 - they use nan_safe above

from eventreg.domain.tracking_events import TRACKING_EVENT_CLASSES  # noqa: E402 - beside the others

EVENT_CLASSES += REPRO_EVENT_CLASSES + TRACKING_EVENT_CLASSES

#: Event class by wire type name.
EVENT_TYPES: dict[str, type] = {cls.type: cls for cls in EVENT_CLASSES}
