"""
Time travel: the registry as it stood at a past moment, read-only.

A moment is a global log position (an int, or a string of digits), a timezone-aware
``datetime`` or an ISO-8601 string (UTC when it names no zone). A time means "every event
recorded at or before it": the longest prefix of the log whose events were all recorded
by then. :func:`fold_until` folds exactly that prefix into a projection, starting from
the log's latest snapshot when the snapshot lies inside it, and :class:`RegistryView`
answers every query of the registry from it.
"""

from __future__ import annotations

import gc
import types
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timezone
from typing import Any

from eventreg.domain.queries import RegistryQueries
from eventreg.domain.state import RegistryState, apply
from eventreg.errors import NotFound, ReadOnlyError, ValidationError
from eventreg.gates import GateMixin
from eventreg.log import Head, parse_iso_moment

#: Events read from the log per query while folding.
CHUNK = 10_000

#: Registry methods that only read, and so also work on a view (bound to it).
_READ_METHODS = frozenset({"_manifest", "alias_holders", "download", "load_model"})

Moment = int | datetime


def parse_moment(when: Any) -> Moment:
    """
    A moment as a global position (int) or an aware UTC ``datetime``.

    Args:
        when: an int position (0 = before the first event), a string of digits, a
            ``datetime`` (naive means UTC), a ``date`` (its midnight, UTC) or an
            ISO-8601 string such as ``"2026-03-03T14:00:00Z"``.

    Raises:
        ValidationError: ``when`` is none of those.
    """
    if isinstance(when, bool):
        raise ValidationError(f"not a moment: {when!r} (give a position, a datetime or an ISO-8601 string)")
    if isinstance(when, int):
        if when < 0:
            raise ValidationError(f"a log position cannot be negative: {when}")
        return when
    if isinstance(when, str):
        text = when.strip()
        if text.isdigit() and text.isascii():
            return int(text)
        moment = parse_iso_moment(text)
        if moment is None:
            raise ValidationError(
                f"not a moment: {text!r} (expected a log position or an ISO-8601 time such as "
                "2026-03-03T14:00:00Z)"
            )
        when = moment
    if isinstance(when, datetime):
        if when.tzinfo is None:
            return when.replace(tzinfo=timezone.utc)
        return when.astimezone(timezone.utc)
    if isinstance(when, date):
        return datetime.combine(when, time(0), tzinfo=timezone.utc)
    raise ValidationError(
        f"not a moment: a {type(when).__name__} (give a position, a datetime or an ISO-8601 string)"
    )


def describe(moment: Moment) -> str:
    """
    A moment as text for messages: ``position 12`` or ``2026-03-03T14:00:00Z``.
    """
    if isinstance(moment, int):
        return f"position {moment}"
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")


def reached(moment: Moment, recorded: Any) -> bool:
    """
    Whether ``recorded`` lies after ``moment`` (so folding must stop before it).
    """
    if isinstance(moment, int):
        return recorded.position > moment
    return recorded.recorded_at > moment


@contextmanager
def bulk() -> Iterator[None]:
    """
    Pause the cyclic garbage collector while building many objects that all stay alive.

    A fold or a snapshot load creates millions of long-lived objects; each collection
    would walk all of them again for nothing (it makes a large fold 2-3 times slower).
    The collector's previous setting is restored afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def advance(log: Any, state: RegistryState, moment: Moment) -> RegistryState:
    """
    Fold the events after ``state.position`` into ``state`` until ``moment``.

    Returns:
        ``state``, now at the last event at or before ``moment``.
    """
    with bulk():
        return _advance(log, state, moment)


def _advance(log: Any, state: RegistryState, moment: Moment) -> RegistryState:
    while True:
        if isinstance(moment, int) and state.position >= moment:
            return state
        chunk = list(log.read_all(from_position=state.position + 1, limit=CHUNK))
        for recorded in chunk:
            if reached(moment, recorded):
                return state
            apply(state, recorded)
        if len(chunk) < CHUNK:
            return state


def fold_until(log: Any, moment: Moment, *, code_version: str | None = None) -> RegistryState:
    """
    A fresh projection of the log up to ``moment``.

    When the log's latest snapshot was taken inside that prefix and the registry trusts
    it (this code version, it matches the log, and the log vouches for its bytes; see
    ``eventreg.registry.load_trusted_snapshot``), folding starts from it.

    Raises:
        ValidationError: ``moment`` is a position after the log's head.
    """
    head = log.head()
    if isinstance(moment, int) and moment > head.position:
        raise ValidationError(f"position {moment} is after the log's head (position {head.position})")
    state = _snapshot_start(log, moment, code_version) or RegistryState()
    return advance(log, state, moment)


def _snapshot_start(log: Any, moment: Moment, code_version: str | None) -> RegistryState | None:
    """
    The log's latest snapshot as a starting point, if the log vouches for it and it lies
    inside the prefix up to ``moment``; else None (fold from the start).
    """
    if code_version is None:
        return None
    snapshot = log.latest_snapshot()
    if snapshot is None or snapshot.position == 0:
        return None
    if isinstance(moment, int) and snapshot.position > moment:
        return None
    at = next(iter(log.read_all(from_position=snapshot.position, limit=1)), None)
    if at is None or reached(moment, at):
        return None
    from eventreg.registry import load_trusted_snapshot

    with bulk():
        return load_trusted_snapshot(log, code_version)


class RegistryView(GateMixin, RegistryQueries):
    """
    The registry as it stood at one moment: every query, no commands.

    Built by :meth:`Registry.as_of`. ``position`` is the last event included (0 when
    none), ``head`` its ``(position, hash)``, ``moment`` what was asked. Queries answer
    exactly as the registry did then; ``history`` stops there too. Commands raise
    :class:`~eventreg.errors.ReadOnlyError`.
    """

    def __init__(self, registry: Any, state: RegistryState, moment: Moment) -> None:
        self._registry = registry
        self._state = state
        self.moment = moment

    @property
    def position(self) -> int:
        """
        The last log position folded into this view (0 = before the first event).
        """
        return self._state.position

    def head(self) -> Head:
        """
        ``(position, hash)`` of the last event in this view: what to publish or verify against.
        """
        return Head(self._state.position, self._state.last_hash)

    def __repr__(self) -> str:
        return f"<RegistryView as of {describe(self.moment)} (position {self.position})>"

    def _read_state(self) -> RegistryState:
        return self._state

    # -- history, bounded by this view --------------------------------------------------

    def _event_source(self) -> tuple[Any, int | None]:
        return self._registry.log, self._state.position

    def history(self, model: str | None = None, **filters: Any) -> list[Any]:
        """
        The recorded events up to this view's position; see :meth:`Registry.history`.
        """
        from eventreg.audit import AuditMixin

        return AuditMixin.history(self, model, **filters)  # type: ignore[arg-type]

    def alias_history(self, model: str, alias: str) -> list[Any]:
        """
        Each holder of an alias up to this view's position; see :meth:`Registry.alias_history`.
        """
        from eventreg.audit import AuditMixin

        return AuditMixin.alias_history(self, model, alias)  # type: ignore[arg-type]

    def events(self, from_position: int = 1) -> Iterator[Any]:
        """
        The recorded events from ``from_position`` up to this view's position.
        """
        from eventreg.audit import AuditMixin

        return AuditMixin.events(self, from_position)  # type: ignore[arg-type]

    # -- reads that live on the registry, commands that do not exist here ---------------

    def _artifact_store(self) -> Any:
        return self._registry._artifact_store()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        from eventreg.registry import Registry

        method = getattr(Registry, name, None)
        if name in _READ_METHODS and method is not None:
            return types.MethodType(method, self)
        if callable(method) and not name.startswith("_"):
            if name in Registry.__dict__:
                raise ReadOnlyError(
                    f"{name}() changes the registry, but this is a read-only view as of "
                    f"{describe(self.moment)}; call it on the registry itself"
                )
            raise AttributeError(
                f"{name}() is not available on a view as of {describe(self.moment)}; "
                "call it on the registry itself"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def known_model(state: RegistryState, name: str) -> None:
    """
    Raises:
        NotFound: ``name`` is not a model in ``state``.
    """
    if not isinstance(name, str) or name not in state.models:
        raise NotFound(f"model {name!r} does not exist")
