"""
Every error eventreg raises on purpose.

One root, :class:`EventregError`; each error also subclasses the builtin a caller
would already catch (``KeyError`` for a missing thing, ``ValueError`` for bad input,
``ConnectionError`` for an unreachable server), so code written without eventreg in
mind still does the right thing. The CLI maps these classes to exit codes.
"""

from __future__ import annotations


class EventregError(Exception):
    """
    Root of every error eventreg raises on purpose.
    """

    #: CLI exit code for this kind of error (see docs/cli.md).
    exit_code = 2


# -- configuration and backends ------------------------------------------------------


class ConfigurationError(EventregError, ValueError):
    """
    A URL or setting cannot be used as given.
    """


class UnknownBackend(ConfigurationError):
    """
    No installed backend handles the URL's scheme.
    """


class MissingDriver(ConfigurationError, ImportError):
    """
    The backend exists but a driver package it needs is not installed.
    """


class BackendUnavailable(EventregError, ConnectionError):
    """
    The storage server cannot be reached (the message never contains a password).
    """

    exit_code = 5


class SchemaVersionError(EventregError, RuntimeError):
    """
    The stored schema is newer than this eventreg understands, or not ours at all.
    """


class NotAnEventLog(ConfigurationError):
    """
    The location holds something that is not an eventreg log.
    """


# -- the log -------------------------------------------------------------------------


class ConcurrencyConflict(EventregError, RuntimeError):
    """
    The stream's version was not the expected one; nothing was written.
    """

    exit_code = 4

    def __init__(self, message: str, *, stream_id: str | None = None,
                 expected: int | None = None, actual: int | None = None) -> None:
        super().__init__(message)
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class AppendRefused(EventregError, RuntimeError):
    """
    The database refused the rows for a reason of its own (a trigger or constraint added
    to the events table, e.g. a policy freezing a stream); nothing was written. The
    message carries the database's own.
    """

    exit_code = 4


class DestinationNotEmpty(EventregError, ValueError):
    """
    The destination of a copy holds events that are not a prefix of the source.
    """

    exit_code = 4


class InvalidEvent(EventregError, ValueError):
    """
    An event cannot be recorded as given (not JSON, bad stream id, too large ...).
    """


class UnknownEventType(EventregError, ValueError):
    """
    The log holds an event type this version of eventreg does not know.
    """


class LogCorrupted(EventregError, RuntimeError):
    """
    The stored log is damaged in a way that stops it from being read.
    """

    exit_code = 1  # a check of the stored record failed, not a user's input


# -- the registry --------------------------------------------------------------------


class ValidationError(EventregError, ValueError):
    """
    A command's input is invalid (a bad name, a limit exceeded ...).
    """


class DataMismatch(ValidationError):
    """
    A dataset's bytes are not those a version was trained on (``eventreg reproduce``);
    ``path``, ``recorded`` and ``found`` name the file and both digests.
    """

    def __init__(self, message: str, *, path: str = "", recorded: str = "", found: str = "") -> None:
        super().__init__(message)
        self.path, self.recorded, self.found = path, recorded, found


class NotFound(EventregError, KeyError):
    """
    A model, version, run, alias or artifact does not exist.
    """

    exit_code = 3

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class RegistryNotFound(NotFound):
    """
    No registry (event log) at the URL, and the caller asked not to create one
    (``open_log(url, create=False)``, the CLI's read-only commands).
    """


class AlreadyExists(EventregError, ValueError):
    """
    The thing to create exists already.
    """

    exit_code = 4


class InvalidTransition(EventregError, ValueError):
    """
    The command is not allowed in the current state (promote an archived version ...).
    """

    exit_code = 4


class PolicyViolation(EventregError, PermissionError):
    """
    Governance forbids the command: a protected alias moved directly, an approval by
    someone the policy does not name, one's own request approved, an unsigned approval
    where the policy requires signatures, a governance command by a non-admin.
    """

    exit_code = 6


class ReadOnlyError(EventregError, PermissionError):
    """
    A command was called on a read-only view (``as_of``).
    """


class FilterSyntaxError(EventregError, ValueError):
    """
    A search filter does not parse; ``column`` is where the mistake is (1-based).
    """

    def __init__(self, message: str, *, text: str = "", column: int = 0) -> None:
        super().__init__(message)
        self.text = text
        self.column = column


class InvalidReference(EventregError, ValueError):
    """
    A ``models:/`` reference does not parse.
    """


# -- artifacts -----------------------------------------------------------------------


class ArtifactError(EventregError, OSError):
    """
    An artifact cannot be stored or read.
    """


class ArtifactIntegrityError(ArtifactError):
    """
    Stored bytes do not match the digest recorded for them, or are missing.
    """

    exit_code = 1


class UnsafePath(ArtifactError, ValueError):
    """
    An artifact path is absolute, contains ``..`` or escapes its destination.
    """

    exit_code = 2


__all__ = [
    "AlreadyExists",
    "ArtifactError",
    "ArtifactIntegrityError",
    "BackendUnavailable",
    "ConcurrencyConflict",
    "ConfigurationError",
    "DataMismatch",
    "DestinationNotEmpty",
    "EventregError",
    "FilterSyntaxError",
    "InvalidEvent",
    "InvalidReference",
    "InvalidTransition",
    "LogCorrupted",
    "MissingDriver",
    "NotAnEventLog",
    "NotFound",
    "PolicyViolation",
    "ReadOnlyError",
    "RegistryNotFound",
    "SchemaVersionError",
    "UnknownBackend",
    "UnknownEventType",
    "UnsafePath",
    "ValidationError",
]
