"""
From a URL to a backend, and settings from the environment.

Backends are found through the ``eventreg.backends`` entry-point group, keyed by the
URL scheme before any ``+driver`` (``postgresql+psycopg`` -> ``postgresql``). The
built-in backends are declared there exactly as a third party's would be.
"""

from __future__ import annotations

import getpass
import os
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from eventreg.errors import ConfigurationError, RegistryNotFound, UnknownBackend

if TYPE_CHECKING:
    from eventreg.log import EventLog

ENTRY_POINT_GROUP = "eventreg.backends"
DEFAULT_URL = "sqlite:///./eventreg.db"
DEFAULT_ARTIFACTS = "file://./eventreg-artifacts"


def redact_url(url: str) -> str:
    """
    The URL with any password replaced by ``***``, for messages and ``repr``.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))


def url_scheme(url: str) -> str:
    """
    The backend key of a URL: its scheme without a ``+driver`` suffix, lower-cased.

    Raises:
        ConfigurationError: the text has no ``scheme://``.
    """
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(
            f"not a log URL: {redact_url(url) if isinstance(url, str) else url!r} "
            "(expected e.g. sqlite:///eventreg.db, postgresql+psycopg://user@host/db, "
            "file:///path/to/dir, memory://)"
        )
    return url.split("://", 1)[0].split("+", 1)[0].lower()


def installed_backends() -> dict[str, Any]:
    """
    The entry points of every installed backend, by scheme.
    """
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def open_log(url: str | None = None, *, create: bool = True, **options: Any) -> EventLog:
    """
    Open the event log at ``url`` (default: ``EVENTREG_URL``, else ``sqlite:///./eventreg.db``).

    Args:
        url: the log's URL; its scheme picks the backend.
        create: create the log when there is none (the default). With ``False`` a
            missing log raises :class:`~eventreg.errors.RegistryNotFound` and nothing is
            created: for commands that only read, where a typo'd URL must not make an
            empty registry.
        **options: passed to the backend (e.g. ``actor=``, ``connect_args=``).

    Returns:
        An object implementing :class:`eventreg.log.EventLog`.

    Raises:
        UnknownBackend: no installed backend handles the scheme (the message lists those
            that are installed).
        MissingDriver: the backend's driver is not installed (names the extra).
        BackendUnavailable: the server cannot be reached.
        RegistryNotFound: ``create=False`` and there is no log at ``url``.
        ConfigurationError: the folder a SQLite URL names does not exist.
    """
    url = url or os.environ.get("EVENTREG_URL") or DEFAULT_URL
    scheme = url_scheme(url)
    backends = installed_backends()
    entry = backends.get(scheme)
    if entry is None:
        raise UnknownBackend(
            f"no eventreg backend for {scheme}:// (installed: "
            f"{', '.join(sorted(backends)) or 'none'})"
        )
    cls = entry.load()
    if not create:  # only then: a third party's backend need not know the option
        options["create"] = False
    return cls.from_url(url, **options)


def no_registry(url: str) -> RegistryNotFound:
    """
    The error for a URL that holds no registry (the password redacted).
    """
    return RegistryNotFound(f"no registry at {redact_url(url)}")


def default_actor() -> str:
    """
    ``EVENTREG_ACTOR``, else the operating-system user name.
    """
    actor = os.environ.get("EVENTREG_ACTOR")
    if actor:
        return actor
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"


def resolve_settings(url: str | None = None, artifacts: str | None = None,
                     actor: str | None = None) -> tuple[str, str, str]:
    """
    Explicit arguments > environment (``EVENTREG_URL``, ``EVENTREG_ARTIFACTS``,
    ``EVENTREG_ACTOR``) > the embedded default.
    """
    return (
        url or os.environ.get("EVENTREG_URL") or DEFAULT_URL,
        artifacts or os.environ.get("EVENTREG_ARTIFACTS") or DEFAULT_ARTIFACTS,
        actor or default_actor(),
    )
