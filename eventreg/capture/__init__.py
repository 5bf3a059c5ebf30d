"""
What a run and a version record automatically so they can be rebuilt: the environment
(:mod:`.environment`), the code (:mod:`.code`), the data (:mod:`.datasets`) and the seed
(:mod:`.seeds`).

How much is captured is one setting, the ``capture=`` argument of ``start_run`` and
``register_version`` or else ``EVENTREG_CAPTURE``:

``full`` (default)
    the environment document (stored once per digest), the code metadata, the
    uncommitted diff and untracked files (or the script's files outside git), the command.
``light``
    the same without storing the diff or any file (recorded as skipped).
``off``
    neither environment document nor code; the record says ``"skipped": "capture=off"``.

Caps: ``EVENTREG_CAPTURE_MAX_FILE_BYTES`` (default 1 MiB) and
``EVENTREG_CAPTURE_MAX_BYTES`` (default 20 MiB).
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Any

from eventreg.capture.lineage import data_record
from eventreg.errors import ValidationError

__all__ = ["LEVELS", "active_run", "capture_level", "data_record", "records"]

LEVELS = ("full", "light", "off")
#: How long one process reuses a code capture of the same folder (seconds): a loop of
#: short runs does not re-hash the diff and untracked files every time.
CODE_CACHE_SECONDS = 2.0
#: Set by ``eventreg reproduce`` in the re-run's environment: ``MODEL:VERSION``.
REPRODUCING_ENV = "EVENTREG_REPRODUCING"
#: Set by ``eventreg reproduce``: a file the re-run's run id is written to.
RUN_ID_FILE_ENV = "EVENTREG_RUN_ID_FILE"

_code_cache: dict[tuple[Any, ...], tuple[float, dict[str, Any], list[bytes]]] = {}
_lock = threading.Lock()
_active: list[weakref.ReferenceType[Any]] = []


def capture_level(level: str | None = None) -> str:
    """
    The capture level: ``level`` if given, else ``EVENTREG_CAPTURE``, else ``full``.

    Raises:
        ValidationError: not one of ``full``, ``light``, ``off``.
    """
    value = level if level is not None else os.environ.get("EVENTREG_CAPTURE", "full")
    value = str(value).strip().lower()
    if value not in LEVELS:
        raise ValidationError(f"capture must be one of {', '.join(LEVELS)}, not {value!r}")
    return value


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(f"{name} must be a number of bytes, not {raw!r}") from None


def environment_record(store: Any, level: str) -> dict[str, Any]:
    """
    The environment summary a run or version records (the document stored once).
    """
    from eventreg.capture import environment as env

    if level == "off":
        return {"skipped": "capture=off"}
    document, data, digest = env.current_environment()
    env.store_environment(store, data, digest)
    return env.summary(document, data, digest)


def local_paths(*urls: str | None) -> tuple[str, ...]:
    """
    The local folders or files behind a registry's log and artifact URLs (to exclude
    from code capture), with the suffixes SQLite adds to its database file.
    """
    from urllib.parse import urlsplit

    out: list[str] = []
    for url in urls:
        if not url or "memory:" in url:
            continue
        parts = urlsplit(url)
        if parts.scheme.startswith("sqlite"):
            path = url.split(":///", 1)[-1].split("?", 1)[0]
        elif parts.scheme in ("", "file"):
            path = parts.path if parts.scheme else url
        else:
            continue
        if path and path != ":memory:":
            out.append(os.path.abspath(path))
    return tuple(out)


class _Recorder:
    """
    A store that keeps the bytes written through it, so a cached capture can be put
    into another store without asking git again.
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        self.blobs: list[bytes] = []

    def put_bytes(self, data: bytes, **options: Any) -> Any:
        self.blobs.append(data)
        return self.store.put_bytes(data, **options)


def code_record(store: Any, level: str, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """
    The code record of this process at ``level``, reused for :data:`CODE_CACHE_SECONDS`
    (also by another registry: its stored bytes are copied to that registry's store).
    """
    import hashlib

    from eventreg.capture import code

    if level == "off":
        return {"skipped": {"code": "capture=off"}}
    key = (os.getcwd(), level)
    now = time.monotonic()
    with _lock:
        cached = _code_cache.get(key)
    if cached is not None and now - cached[0] < CODE_CACHE_SECONDS:
        _, record, blobs = cached
        for data in blobs:
            if not store.exists(hashlib.sha256(data).hexdigest(), len(data)):
                store.put_bytes(data, progress=False)
        return {**record, "command": code.command_line(_root(record))}
    recorder = _Recorder(store)
    record = code.capture_code(
        recorder, files=level == "full",
        max_file_bytes=_int_env("EVENTREG_CAPTURE_MAX_FILE_BYTES", code.MAX_FILE_BYTES),
        max_total_bytes=_int_env("EVENTREG_CAPTURE_MAX_BYTES", code.MAX_TOTAL_BYTES), exclude=exclude)
    with _lock:
        _code_cache.clear()  # one folder at a time is the common case; keep memory bounded
        _code_cache[key] = (now, record, recorder.blobs)
    return record


def _root(record: dict[str, Any]) -> Any:
    from pathlib import Path

    return Path(record["root"]) if record.get("root") else None


def records(registry: Any, level: str | None, code: Any = "auto") -> tuple[dict[str, Any], dict[str, Any] | None]:
    """
    ``(environment, code)`` to record on a new run of ``registry`` (or on a version made
    without a run): the usual package summary plus the stored document's digest, and
    the code record (None unless ``code`` is ``"auto"``). The registry's own log and
    artifact files are never captured as code.
    """
    from eventreg.environment import capture_environment

    level = capture_level(level)
    store = registry._artifact_store()
    environment = {**capture_environment(), **environment_record(store, level)}
    if not (isinstance(code, str) and code == "auto"):
        return environment, None
    exclude = local_paths(getattr(registry.log, "url", None), registry.artifacts_url)
    return environment, code_record(store, level, exclude)


def started(run: Any) -> Any:
    """
    Note a new active run: ``seed_everything`` and ``log_dataset`` helpers find it, and
    a re-run by ``eventreg reproduce`` reports its id.
    """
    with _lock:
        _active[:] = [r for r in _active if r() is not None][-15:]
        _active.append(weakref.ref(run))
    target = os.environ.get(RUN_ID_FILE_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(run.id + "\n")
    return run


def reproduction_tags() -> dict[str, str]:
    """
    Tags a run started by ``eventreg reproduce`` carries (none otherwise).
    """
    of = os.environ.get(REPRODUCING_ENV)
    return {"eventreg.reproduces": of} if of else {}


def reproducing() -> bool:
    """
    Whether this process is a re-run by ``eventreg reproduce`` (it registers no version).
    """
    return bool(os.environ.get(REPRODUCING_ENV))


def active_run() -> Any:
    """
    The run started last in this process that is still running, or None.
    """
    from eventreg.domain.entities import RUNNING

    with _lock:
        runs = [r() for r in reversed(_active)]
    for run in runs:
        if run is None:
            continue
        try:
            if run.registry._read_state().runs[run.id].status == RUNNING:
                return run
        except Exception:  # noqa: BLE001 - a closed registry has no active run
            continue
    return None
