"""
The public surface of ``eventreg`` changes only on purpose (as httpx pins its ``__all__``).
"""

import eventreg

PUBLIC = [
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
    "MetricBucket",
    "MetricHistory",
    "MetricPoint",
    "MetricSummary",
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


def test_the_public_names_are_exactly_these():
    assert eventreg.__all__ == PUBLIC


def test_every_public_name_exists():
    missing = [name for name in eventreg.__all__ if not hasattr(eventreg, name)]
    assert missing == []


def test_every_error_has_one_root_and_a_familiar_builtin():
    for name in eventreg.errors.__all__:
        error = getattr(eventreg.errors, name)
        assert issubclass(error, eventreg.EventregError)
        if error is not eventreg.EventregError:
            assert any(base.__module__ == "builtins" and base is not Exception for base in error.__mro__), name
