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
from urllib.parse import urlsplit

from eventreg.errors import ConfigurationError, RegistryNotFound, UnknownBackend

if TYPE_CHECKING:
    from eventreg.log import EventLog

ENTRY_POINT_GROUP = "eventreg.backends"
DEFAULT_URL = "sqlite:///./eventreg.db"
DEFAULT_ARTIFACTS = "file://./eventreg-artifacts"


#: query parameters whose value is hidden by redact_url (a name containing one of these)
_SECRET_PARAMS = ("pass", "pwd", "secret", "token", "key", "sig", "credential")


def redact_url(url: str) -> str:
    """
    ``url`` fit to show: a password in it, and the value of any query parameter that
    names a secret (``password``, ``token``, ``secret_key``, ``sig`` ...), replaced by ``***``.

    ``redact_url("postgresql://ana:s3cret@db/reg")`` is ``"postgresql://ana:***@db/reg"``;
    eventreg shows every URL so, in messages, ``repr`` and the web UI.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
    except ValueError:
        return "<unparseable URL>"
    query = "&".join(_redact_param(item) for item in parts.query.split("&"))
    if password is None and query == parts.query:
        return url
    netloc = parts.netloc if password is None else f"{parts.username or ''}:***@{host}"
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "") + (
        f"#{parts.fragment}" if parts.fragment else "")


def _redact_param(item: str) -> str:
    name, equals, value = item.partition("=")
    if equals and value and any(word in name.lower() for word in _SECRET_PARAMS):
        return f"{name}=***"
    return item


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
