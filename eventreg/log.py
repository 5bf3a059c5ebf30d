"""
The event log: what every backend stores and promises.

An event log is a sequence of :class:`RecordedEvent` in one global order (positions
1, 2, 3 ... with no gaps), grouped into streams (versions 1, 2, 3 ... per stream), each
event chained to the one before it by a sha256 hash. Backends implement
:class:`EventLog`; :class:`BaseLog` holds what they share (input checks, building the
records and their hashes, verification), so that a backend only moves bytes.

The hash of an event is ``sha256(bytes.fromhex(prev_hash) + envelope_bytes(event))``
where ``envelope_bytes`` is the canonical JSON (sorted keys, no spaces, UTF-8) of the
list ``[position, stream_id, stream_version, type, schema_version, recorded_at, actor,
payload, metadata]`` and ``recorded_at`` is written ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.
The first event's ``prev_hash`` is 64 zeros. This is all an outside tool needs to
re-check a log (docs/backends.md shows it in ten lines of Python).
"""

from __future__ import annotations

import gc
import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from eventreg.errors import ConcurrencyConflict, InvalidEvent, LogCorrupted
from eventreg.log_encoding import (
    FAST_REFUSED,
    _encode,
    canonical_bytes,
    canonical_json,
    check_json_object,
    check_stream_id,
    decode_json,
    fast_decode,
    format_timestamp,
    json_problem,
    parse_iso_moment,
    parse_timestamp,
)
from eventreg.log_envelope import (
    ANY,
    GENESIS_HASH,
    MAX_ACTOR_LENGTH,
    MAX_EVENT_BYTES,
    MAX_STREAM_ID_LENGTH,
    MAX_TYPE_LENGTH,
    NO_STREAM,
    Head,
    NewEvent,
    PendingEvent,
    Prepared,
    RecordedEvent,
    Snapshot,
    VerifyResult,
)
from eventreg.log_sealing import (
    chain_hash,
    envelope_text,
    event_hash,
    now,
    prepare_events,
    seal,
    seal_rows,
    stored_row,
)

__all__ = [
    "ANY", "FAST_REFUSED", "GENESIS_HASH", "MAX_ACTOR_LENGTH", "MAX_EVENT_BYTES", "MAX_STREAM_ID_LENGTH",
    "MAX_TYPE_LENGTH", "NO_STREAM", "BaseLog", "EventLog", "Head", "NewEvent", "PendingEvent", "Prepared",
    "RecordedEvent", "Snapshot", "VerifyResult", "canonical_bytes", "canonical_json", "chain_hash",
    "check_expected_version", "check_json_object", "check_stream_id", "decode_json", "envelope_text",
    "event_hash", "fast_decode", "format_timestamp", "json_problem", "now", "parse_iso_moment",
    "parse_timestamp", "prepare_events", "seal", "seal_rows", "stored_row", "verify_chain",
]


def check_expected_version(stream_id: str, expected: Any, actual: int) -> None:
    """
    Raises:
        ConcurrencyConflict: ``expected`` is neither ``ANY`` nor ``actual``.
    """
    if expected is ANY:
        return
    if type(expected) is not int or expected < 0:
        raise InvalidEvent(f"expected_version must be ANY or an int >= 0, not {expected!r}")
    if expected != actual:
        raise ConcurrencyConflict(
            f"stream {stream_id!r} is at version {actual}, expected {expected}",
            stream_id=stream_id,
            expected=expected,
            actual=actual,
        )


def verify_chain(events: Iterable[RecordedEvent], expected_head: Head | tuple[int, str] | None = None) -> VerifyResult:
    """
    Recompute the hash chain over ``events`` (the whole log, in global order).

    Args:
        events: every recorded event from position 1.
        expected_head: a ``(position, hash)`` written down earlier; the log must still
            hold exactly that hash at that position.

    Returns:
        A :class:`VerifyResult` naming the first bad position, if any.
    """
    prev = GENESIS_HASH
    expected_position = 1
    checked = 0
    versions: dict[str, int] = {}
    head_seen = expected_head is None
    for event in events:
        problem = None
        if event.position != expected_position:
            problem = (
                f"position {event.position} found where {expected_position} was expected "
                "(an event was deleted, inserted or moved)"
            )
        elif event.prev_hash != prev:
            problem = "prev_hash does not match the hash of the event before it"
        else:
            problem = _hash_problem(event)
        if problem is None and event.stream_version != versions.get(event.stream_id, 0) + 1:
            problem = f"stream {event.stream_id!r} version {event.stream_version} is out of sequence"
        if problem:
            return VerifyResult(False, checked, Head(checked, prev), expected_position, problem)
        versions[event.stream_id] = event.stream_version
        prev = event.hash
        checked += 1
        expected_position += 1
        if expected_head is not None and event.position == expected_head[0]:
            if event.hash != expected_head[1]:
                return VerifyResult(
                    False, checked, Head(checked, prev), event.position,
                    "hash differs from the expected head: the log up to it was rewritten",
                )
            head_seen = True
    if not head_seen:
        assert expected_head is not None
        return VerifyResult(
            False, checked, Head(checked, prev), checked + 1,
            f"the log ends at position {checked}, before the expected head {expected_head[0]} "
            "(it was truncated)",
        )
    return VerifyResult(True, checked, Head(checked, prev))


def _hash_problem(event: RecordedEvent) -> str | None:
    """
    What is wrong with an event's hash, or None: its stored fields may be anything a hand
    put in the database, so a field that cannot even be hashed is a problem too.
    """
    try:
        if event_hash(event) == event.hash:
            return None
    except (TypeError, ValueError, AttributeError, UnicodeError, RecursionError, OverflowError) as e:
        return f"the event cannot be hashed: a stored field is not what eventreg writes ({type(e).__name__}: {e})"
    return "hash does not match the event's content (it was edited)"


# -- the protocol ----------------------------------------------------------------------


@runtime_checkable
class EventLog(Protocol):
    """
    What every backend provides. See docs/backends.md for the guarantees.
    """

    url: str
    #: several processes may append at once (each append still atomic and ordered)
    supports_concurrent_writers: bool
    #: the same log can be opened from another process
    shared_between_processes: bool
    #: the log survives ``close()`` and reopening
    persistent: bool

    def append(self, stream_id: str, events: Sequence[NewEvent], expected_version: Any = ANY) -> list[RecordedEvent]: ...
    def read_stream(self, stream_id: str, from_version: int = 1,
                    to_version: int | None = None) -> list[RecordedEvent]: ...
    def read_all(self, from_position: int = 1, limit: int | None = None) -> Iterator[RecordedEvent]: ...
    def stream_version(self, stream_id: str) -> int: ...
    def head(self) -> Head: ...
    def verify(self, expected_head: Head | tuple[int, str] | None = None) -> VerifyResult: ...
    def save_snapshot(self, position: int, data: bytes) -> None: ...
    def latest_snapshot(self) -> Snapshot | None: ...
    def snapshot_at(self, position: int) -> Snapshot | None: ...
    def get_checkpoint(self, consumer: str) -> int: ...
    def set_checkpoint(self, consumer: str, position: int) -> None: ...
    def import_events(self, events: Iterable[RecordedEvent]) -> int: ...
    def close(self) -> None: ...


#: the open logs a forked child must repair (see :meth:`BaseLog._after_fork`)
_LOGS: weakref.WeakSet[BaseLog] = weakref.WeakSet()


#: the locks :func:`_before_fork` took, released again in the parent
_HELD: list[Any] = []
#: seconds to wait for a log's write lock before forking anyway (the forking thread
#: itself may hold it)
FORK_WAIT = 10.0


def _before_fork() -> None:
    """
    Wait until no thread of this process is inside an append, and keep it so until the
    fork is done: a child then inherits no database or file lock taken mid-append (SQLite
    keeps its lock state per process: a write lock held at the fork would block the
    child for good).
    """
    for log in list(_LOGS):
        for lock in log._fork_locks():
            if lock.acquire(timeout=FORK_WAIT):
                _HELD.append(lock)


def _after_fork_in_parent() -> None:
    while _HELD:
        _HELD.pop().release()


def _after_fork_in_child() -> None:
    _HELD.clear()
    for log in list(_LOGS):
        log._after_fork()


if hasattr(os, "register_at_fork"):  # no fork, nothing to repair
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)


class BaseLog:
    """
    What backends share. A backend implements ``_append``, ``read_stream``,
    ``read_all``, ``stream_version``, ``head``, the snapshot and checkpoint methods,
    ``_import`` and ``close``.
    """

    url: str = ""
    supports_concurrent_writers = False
    shared_between_processes = False
    persistent = False
    default_actor: str | None = None

    def append(self, stream_id: str, events: Sequence[NewEvent], expected_version: Any = ANY) -> list[RecordedEvent]:
        """
        Atomically append ``events`` to ``stream_id``.

        Args:
            stream_id: the stream, e.g. ``"model:iris"``.
            events: the events, in order; all are written or none.
            expected_version: the stream's current version (``NO_STREAM`` = 0 for a
                new stream) or ``ANY``.

        Returns:
            The recorded events, with positions, versions and hashes.

        Raises:
            ConcurrencyConflict: the stream is not at ``expected_version``.
            InvalidEvent: an event or the stream id is invalid; nothing is written.
        """
        check_stream_id(stream_id)
        if expected_version is not ANY and (type(expected_version) is not int or expected_version < 0):
            raise InvalidEvent(f"expected_version must be ANY or an int >= 0, not {expected_version!r}")
        if isinstance(events, NewEvent):
            events = [events]
        # The cyclic garbage collector is paused meanwhile (as decode_rows does for reads):
        # the records, texts and rows made here cannot form cycles, and most are gone when
        # the call returns; collecting them mid-append cost ~5 % of a batch's time. Not for
        # one event: its dozen objects never cost that, and pausing did (~2 % of a single
        # append on log_bench, more once the CPU's caches are cold after a commit's fsync).
        pausing = not (type(events) is list and len(events) == 1) and gc.isenabled()
        if pausing:
            gc.disable()
        try:
            pending = prepare_events(events, self.default_actor)
            if not pending:
                return []
            return self._append(stream_id, pending, expected_version)
        finally:
            if pausing:
                gc.enable()

    def _append(self, stream_id: str, pending: list[PendingEvent], expected_version: Any) -> list[RecordedEvent]:
        raise NotImplementedError

    def _watch_forks(self) -> None:
        """
        Have :meth:`_after_fork` called in every child this process forks (a backend's
        ``__init__`` calls it once).
        """
        _LOGS.add(self)

    def _fork_locks(self) -> list[Any]:
        """
        The locks held across a fork (taken before, released after): the write lock.
        """
        return []

    def _after_fork(self) -> None:
        """
        Runs in a forked child, before anything else there: replace the locks and drop
        the connections the child inherited. The parent held the locks at the fork, and
        no thread in the child would ever release them; a connection (or file lock) is
        the parent's and must not be shared.
        """

    def verify(self, expected_head: Head | tuple[int, str] | None = None, *,
               each: Callable[[RecordedEvent], Any] | None = None) -> VerifyResult:
        """
        Recompute the whole hash chain; see :func:`verify_chain`.

        Stored data that cannot even be read as an event (a backend raises
        ``LogCorrupted``) is reported as a failed result at the position after the last
        good event, never as an exception.

        Args:
            each: called with every event as it is read, so that a caller checking more
                than the chain (signatures) reads the log once.
        """
        unreadable: list[LogCorrupted] = []

        def events() -> Iterator[RecordedEvent]:
            try:
                if each is None:
                    yield from self.read_all()
                    return
                for event in self.read_all():
                    each(event)
                    yield event
            except LogCorrupted as e:
                unreadable.append(e)

        result = verify_chain(events(), expected_head)
        if unreadable and (result.ok or (result.first_bad_position or 0) > result.checked):
            return VerifyResult(False, result.checked, result.head, result.checked + 1, str(unreadable[0]))
        return result

    def snapshot_at(self, position: int) -> Snapshot | None:
        """
        The snapshot with the highest position at or before ``position`` (the newest of
        those), or None: where time travel to ``position`` can start folding.

        This default knows only the latest snapshot; the built-in backends keep and
        search every one.
        """
        latest = self.latest_snapshot()  # type: ignore[attr-defined]  # every backend has it
        return latest if latest is not None and latest.position <= position else None

    def import_events(self, events: Iterable[RecordedEvent]) -> int:
        """
        Append already-recorded events verbatim (positions, times, actors, hashes).

        Used by ``eventreg.copy``. The first event must follow this log's head, and each
        must chain to the one before; the backend stores them in batches.

        Returns:
            How many events were imported.

        Raises:
            InvalidEvent: an event does not continue this log.
        """
        head = self.head()
        batch: list[Prepared] = []
        count = 0
        expected_position, prev = head.position + 1, head.hash
        for event in events:
            if event.position != expected_position or event.prev_hash != prev:
                raise InvalidEvent(
                    f"event at position {event.position} does not continue this log "
                    f"(expected position {expected_position} chained to {prev[:12]}...)"
                )
            if event_hash(event) != event.hash:
                raise InvalidEvent(f"event at position {event.position} does not match its hash")
            batch.append(
                Prepared(event, _encode(event.payload), _encode(event.metadata),
                         format_timestamp(event.recorded_at))
            )
            expected_position, prev = event.position + 1, event.hash
            if len(batch) >= 1000:
                self._import(batch)
                count += len(batch)
                batch = []
        if batch:
            self._import(batch)
            count += len(batch)
        return count

    def _import(self, batch: list[Prepared]) -> None:
        raise NotImplementedError

    def __enter__(self) -> BaseLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - backends override
        pass

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"
