"""
What both stores share: the ``eventreg+<log url>`` URI, one open registry per log, error
translation, times, and the guard that makes every base-class method work or raise.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    NOT_IMPLEMENTED,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)

import eventreg
from eventreg.errors import (
    AlreadyExists,
    ConfigurationError,
    EventregError,
    FilterSyntaxError,
    InvalidReference,
    InvalidTransition,
    NotFound,
    ValidationError,
)

#: The prefix that selects the plugin stores: ``eventreg+<eventreg log url>``.
PREFIX = "eventreg+"
#: Separates the log URL from an entity path in the artifact URIs the stores hand out.
SEP = "/-/"
#: The log URL schemes the entry points register (MLflow matches schemes exactly).
SCHEMES = (
    "sqlite", "postgresql", "postgresql+psycopg", "postgresql+psycopg2", "mysql", "mysql+pymysql",
    "mariadb", "mariadb+pymysql", "file", "memory",
)

_OPEN: dict[str, eventreg.Registry] = {}
_LOCK = threading.Lock()


def unsupported(what: str, why: str) -> MlflowException:
    """
    The exception for an MLflow feature eventreg cannot record (yet).
    """
    # NOT_IMPLEMENTED is HTTP 501, which MLflow's REST client does not retry (500 it retries for minutes)
    return MlflowException(f"eventreg's MLflow store does not support {what}: {why}", NOT_IMPLEMENTED)


def log_url(store_uri: str) -> str:
    """
    The eventreg log URL inside ``eventreg+<log url>``; relative SQLite and file paths made
    absolute, so artifact URIs built from it work from any working directory.

    Raises:
        MlflowException: the URI does not start with ``eventreg+``.
    """
    if not isinstance(store_uri, str) or not store_uri.startswith(PREFIX):
        raise MlflowException(f"not an eventreg store URI (expected eventreg+<log url>): {store_uri!r}",
                              INVALID_PARAMETER_VALUE)
    url = store_uri[len(PREFIX):]
    scheme, _, rest = url.partition("://")
    if SEP in url:
        url = url.split(SEP, 1)[0]
        scheme, _, rest = url.partition("://")
        if scheme in ("sqlite", "file"):  # an artifact URI: its path is absolute, and URI joins may
            path = "/" + rest.lstrip("/")  # have dropped a slash (sqlite:////a -> sqlite://a)
            return f"sqlite:///{path}" if scheme == "sqlite" else f"file://{path}"
    if scheme in ("sqlite", "file") and rest.startswith("/") and not rest.startswith("//"):
        path = rest[1:]
        if path and path != ":memory:" and not path.startswith("/"):
            url = f"{scheme}:///{Path(path).resolve()}" if scheme == "sqlite" else f"file://{Path(path).resolve()}"
    elif scheme == "file" and not rest.startswith("/"):
        url = f"file://{Path(rest).resolve()}"
    return url


def artifacts_url(url: str) -> str | None:
    """
    Where artifacts go: ``EVENTREG_ARTIFACTS``, else ``eventreg-artifacts`` beside a SQLite
    database or a file log, else eventreg's default.
    """
    if os.environ.get("EVENTREG_ARTIFACTS"):
        return None  # eventreg.open reads it
    parts = urlsplit(url)
    if parts.scheme == "sqlite" and parts.path not in ("", "/", "/:memory:"):
        return "file://" + str(Path(parts.path).parent / "eventreg-artifacts")
    if parts.scheme == "file":
        return "file://" + str(Path(parts.path).parent / (Path(parts.path).name + "-artifacts"))
    return None


def registry(url: str) -> eventreg.Registry:
    """
    The process's registry for a log URL, opened on first use (thread-safe, shared by the
    tracking store, the registry store and the artifact repository).
    """
    with _LOCK:
        found = _OPEN.get(url)
        if found is None:
            with translated():
                found = _OPEN[url] = eventreg.open(url, artifacts=artifacts_url(url))
        return found


def forget(url: str) -> None:
    """
    Close and drop the process's registry for ``url`` (tests reopen a log this way).
    """
    with _LOCK:
        found = _OPEN.pop(url, None)
    if found is not None:
        found.close()


@contextmanager
def translated() -> Iterator[None]:
    """
    Turn eventreg's errors into MLflow's, with the error codes MLflow's clients expect.
    """
    try:
        yield
    except MlflowException:
        raise
    except NotFound as e:
        raise MlflowException(str(e), RESOURCE_DOES_NOT_EXIST) from e
    except AlreadyExists as e:
        raise MlflowException(str(e), RESOURCE_ALREADY_EXISTS) from e
    except (ValidationError, FilterSyntaxError, InvalidReference) as e:
        raise MlflowException(str(e), INVALID_PARAMETER_VALUE) from e
    except InvalidTransition as e:
        raise MlflowException(str(e), INVALID_PARAMETER_VALUE) from e
    except ConfigurationError as e:
        raise MlflowException(str(e), INVALID_PARAMETER_VALUE) from e
    except EventregError as e:
        raise MlflowException(f"{type(e).__name__}: {e}", INTERNAL_ERROR) from e


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


def millis(when: datetime | None) -> int | None:
    """
    A datetime as MLflow's milliseconds since the epoch.
    """
    return None if when is None else (when - _EPOCH) // _MS  # exact: no float rounding


def moment(ms: Any, what: str) -> datetime | None:
    """
    A caller's timestamp (MLflow's milliseconds since the epoch) as the original time
    eventreg records on the event (None: the time of the append).
    """
    if ms is None:
        return None
    try:
        return _EPOCH + int(ms) * _MS
    except (TypeError, ValueError, OverflowError, OSError):
        raise MlflowException(f"{what} must be milliseconds since the epoch, not {ms!r}",
                              INVALID_PARAMETER_VALUE) from None


def complete(cls: type, base: type, reasons: dict[str, str] | None = None) -> type:
    """
    Make every public method of ``base`` that ``cls`` does not define raise MlflowException.

    MLflow's store base classes declare ``__metaclass__ = ABCMeta`` (Python 2 syntax), so an
    unimplemented abstract method silently returns None; and many concrete ones raise
    NotImplementedError, which MLflow's server turns into a 500. Methods whose inherited
    body works on top of the ones ``cls`` defines are listed in ``cls.INHERITED``.
    """
    keep = set(getattr(cls, "INHERITED", ()))
    reasons = reasons or {}
    for name, member in inspect.getmembers(base):
        if name.startswith("_") and name not in ("_search_runs",):
            continue
        if not inspect.isfunction(member) or name in keep:
            continue
        if any(name in vars(k) for k in cls.__mro__ if k is not base and issubclass(k, base) and k is not object
               and k.__module__.startswith("eventreg")):
            continue
        setattr(cls, name, _raiser(name, member, reasons.get(name, "eventreg has no equivalent yet")))
    return cls


def _raiser(name: str, member: Callable[..., Any], why: str) -> Callable[..., Any]:
    @functools.wraps(member)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise unsupported(name, why)

    method.__isabstractmethod__ = False  # type: ignore[attr-defined]
    return method
