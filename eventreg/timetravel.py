"""
Time travel: the registry as it stood at a past moment, read-only.

A moment is a global log position (an int, or a string of digits), a timezone-aware
``datetime`` or an ISO-8601 string (UTC when it names no zone). A time means "every event
recorded at or before it": the longest prefix of the log whose events were all recorded
by then. :func:`fold_until` folds exactly that prefix into a projection, starting from
the newest snapshot the log keeps inside it (a registry saves one every
``snapshot_every`` events, and keeps them all), so the cost is the events after that
snapshot, not the whole prefix; a :class:`~eventreg.view.RegistryView` over that
projection answers every query.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timezone
from typing import Any

from eventreg import snapshots
from eventreg.domain.events import SNAPSHOT_STREAM
from eventreg.domain.state import RegistryState, apply, bulk, snapshot_digest
from eventreg.errors import ValidationError
from eventreg.log import RecordedEvent, parse_iso_moment

__all__ = ["CHUNK", "Moment", "advance", "bulk", "describe", "fold_until", "load_trusted_snapshot",
           "parse_moment", "position_at", "read_events", "reached"]

#: Events read from the log per query while folding.
CHUNK = 10_000
#: snapshots tried, newest first, before folding from the start
_SNAPSHOTS_TRIED = 3

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

    Folding starts from the newest snapshot taken inside that prefix that the registry
    trusts (this code version, it matches the log, and the log vouches for its bytes; see
    :func:`load_trusted_snapshot`), so only the events after it are folded.

    Raises:
        ValidationError: ``moment`` is a position after the log's head.
    """
    head = log.head()
    if isinstance(moment, int) and moment > head.position:
        raise ValidationError(f"position {moment} is after the log's head (position {head.position})")
    state = _snapshot_start(log, moment, head.position, code_version) or RegistryState()
    return advance(log, state, moment)


def _snapshot_start(log: Any, moment: Moment, head: int, code_version: str | None) -> RegistryState | None:
    """
    The newest trusted snapshot at or before ``moment`` as a starting point, else None
    (fold from the start). A time is first turned into the last position recorded by
    then (a binary search over the log's times, which it records in order).
    """
    if code_version is None:
        return None
    last = moment if isinstance(moment, int) else _last_position_by(log, moment, head)
    snapshot = log.snapshot_at(last) if last > 0 else None
    for _ in range(_SNAPSHOTS_TRIED):
        if snapshot is None or snapshot.position == 0:
            return None
        at = next(iter(log.read_all(from_position=snapshot.position, limit=1)), None)
        if at is None:
            return None
        if not reached(moment, at):
            with bulk():
                state = load_trusted_snapshot(log, code_version, snapshot)
            if state is not None:
                return state
        snapshot = log.snapshot_at(snapshot.position - 1)  # an older one, e.g. from before an upgrade
    return None


def _last_position_by(log: Any, moment: datetime, head: int) -> int:
    """
    The last position whose event was recorded at or before ``moment`` (0: none), in
    about log2(head) reads of one event.
    """
    low, high = 0, head  # the answer lies in [low, high]
    while low < high:
        middle = (low + high + 1) // 2
        at = next(iter(log.read_all(from_position=middle, limit=1)), None)
        if at is not None and not reached(moment, at):
            low = middle
        else:
            high = middle - 1
    return low


def load_trusted_snapshot(log: Any, code_version: str, snapshot: Any = None) -> RegistryState | None:
    """
    The projection in ``snapshot`` (default: the log's latest), if it can be trusted; else None.

    Trusted means: this state format and ``code_version``, its position and hash are
    those of the log, and a ``projection.snapshot_saved`` event in the log records the
    sha256 of its exact bytes. Anything else is ignored and the caller folds the log.
    """
    if snapshot is None:
        snapshot = log.latest_snapshot()
    if snapshot is None:
        return None
    state = snapshots.load(snapshot.data, code_version)
    if state is None or state.position != snapshot.position:
        return None  # another format or code version, or damaged
    at = next(iter(log.read_all(from_position=state.position, limit=1)), None)
    if at is None or at.hash != state.last_hash:
        return None  # it does not describe this log
    digest = snapshot_digest(snapshot.data)
    for recorded in reversed(log.read_stream(SNAPSHOT_STREAM)):
        if recorded.payload.get("position") == state.position and recorded.payload.get("digest") == digest:
            return state
    return None  # the log does not vouch for these bytes


def read_events(log: Any, first: int, limit: int | None) -> Iterator[RecordedEvent]:
    """
    The log's events from position ``first`` up to ``limit`` (None: the end), read in chunks.
    """
    position = first
    while limit is None or position <= limit:
        size = CHUNK if limit is None else min(CHUNK, limit - position + 1)
        chunk = list(log.read_all(from_position=position, limit=size))
        yield from chunk
        if len(chunk) < size:
            return
        position = chunk[-1].position + 1


def position_at(log: Any, moment: Moment) -> int:
    """
    The last position at or before ``moment``: a position as is, a time by scanning
    the log up to the first event recorded after it.
    """
    if isinstance(moment, int):
        return moment
    position = 0
    for recorded in read_events(log, 1, None):
        if recorded.recorded_at > moment:
            break
        position = recorded.position
    return position
