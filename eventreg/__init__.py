"""
eventreg: a model registry whose history is an append-only, tamper-evident event log.
"""

from eventreg._version import __version__
from eventreg.audit import AliasTenure, ArtifactFinding, Change, HistoryEvent, RegistryDiff, VerifyReport, event_types
from eventreg.config import open_log, redact_url
from eventreg.domain.references import ModelReference, parse_reference
from eventreg.domain.views import (
    Alias,
    ArtifactEntry,
    Comparison,
    ComparisonRow,
    Experiment,
    MetricPoint,
    Model,
    ModelVersion,
    Run,
)
from eventreg.errors import (
    AlreadyExists,
    AppendRefused,
    ArtifactError,
    ArtifactIntegrityError,
    BackendUnavailable,
    ConcurrencyConflict,
    ConfigurationError,
    DataMismatch,
    DestinationNotEmpty,
    EventregError,
    FilterSyntaxError,
    InvalidEvent,
    InvalidReference,
    InvalidTransition,
    LogCorrupted,
    MissingDriver,
    NotAnEventLog,
    NotFound,
    PolicyViolation,
    ReadOnlyError,
    SchemaVersionError,
    UnknownBackend,
    UnknownEventType,
    UnsafePath,
    ValidationError,
)
from eventreg.gates import GateCheck, GateResult
from eventreg.log import ANY, NO_STREAM, EventLog, Head, NewEvent, RecordedEvent, VerifyResult
from eventreg.registry import ActiveRun, Registry, open
from eventreg.subscriptions import Subscription
from eventreg.view import RegistryView
from eventreg.transfer import CopyResult, copy
from eventreg.capture.seeds import seed_everything
from eventreg.reproduce import ReproductionReport


__all__ = [
    "ANY",
    "ActiveRun",
    "Alias",
    "AliasTenure",
    "AlreadyExists",
    "AppendRefused",
    "ArtifactEntry",
    "ArtifactError",
    "ArtifactFinding",
    "ArtifactIntegrityError",
    "BackendUnavailable",
    "Change",
    "Comparison",
    "ComparisonRow",
    "ConcurrencyConflict",
    "ConfigurationError",
    "CopyResult",
    "DataMismatch",
    "DestinationNotEmpty",
    "EventLog",
    "EventregError",
    "Experiment",
    "FilterSyntaxError",
    "GateCheck",
    "GateResult",
    "Head",
    "HistoryEvent",
    "InvalidEvent",
    "InvalidReference",
    "InvalidTransition",
    "LogCorrupted",
    "MetricPoint",
    "MissingDriver",
    "Model",
    "ModelReference",
    "ModelVersion",
    "NO_STREAM",
    "NewEvent",
    "NotAnEventLog",
    "NotFound",
    "PolicyViolation",
    "ReadOnlyError",
    "RecordedEvent",
    "Registry",
    "RegistryDiff",
    "RegistryView",
    "ReproductionReport",
    "Run",
    "SchemaVersionError",
    "Subscription",
    "UnknownBackend",
    "UnknownEventType",
    "UnsafePath",
    "ValidationError",
    "VerifyReport",
    "VerifyResult",
    "__version__",
    "copy",
    "event_types",
    "open",
    "open_log",
    "parse_reference",
    "redact_url",
    "seed_everything",
]
