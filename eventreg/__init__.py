"""
eventreg: a model registry whose history is an append-only, tamper-evident event log.
"""

from eventreg.audit import AliasTenure, ArtifactFinding, Change, HistoryEvent, RegistryDiff, VerifyReport
from eventreg.config import open_log
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
from eventreg.timetravel import RegistryView
from eventreg.transfer import CopyResult, copy

__version__ = "0.1.0.dev0"

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
    "ReadOnlyError",
    "RecordedEvent",
    "Registry",
    "RegistryDiff",
    "RegistryView",
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
    "open",
    "open_log",
    "parse_reference",
]
