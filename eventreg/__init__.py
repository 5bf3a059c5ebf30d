"""
eventreg: a model registry whose history is an append-only, tamper-evident event log.
"""

from eventreg.config import open_log
from eventreg.errors import (
    AlreadyExists,
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
from eventreg.log import ANY, NO_STREAM, EventLog, Head, NewEvent, RecordedEvent, VerifyResult
from eventreg.transfer import CopyResult, copy

__version__ = "0.1.0.dev0"

__all__ = [
    "ANY",
    "AlreadyExists",
    "ArtifactError",
    "ArtifactIntegrityError",
    "BackendUnavailable",
    "ConcurrencyConflict",
    "ConfigurationError",
    "CopyResult",
    "DestinationNotEmpty",
    "EventLog",
    "EventregError",
    "FilterSyntaxError",
    "Head",
    "InvalidEvent",
    "InvalidReference",
    "InvalidTransition",
    "LogCorrupted",
    "MissingDriver",
    "NO_STREAM",
    "NewEvent",
    "NotAnEventLog",
    "NotFound",
    "ReadOnlyError",
    "RecordedEvent",
    "SchemaVersionError",
    "UnknownBackend",
    "UnknownEventType",
    "UnsafePath",
    "ValidationError",
    "VerifyResult",
    "__version__",
    "copy",
    "open_log",
]
