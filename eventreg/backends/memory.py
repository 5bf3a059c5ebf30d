"""
An event log held in process memory: for tests, notebooks and examples.

``memory://`` is a new empty log each time; ``memory://NAME`` is shared by every
open of the same name in this process (so a test can close and reopen it), and is
gone when the process ends.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from eventreg.config import no_registry
from eventreg.log import (
    GENESIS_HASH,
    BaseLog,
    Head,
    PendingEvent,
    Prepared,
    RecordedEvent,
    Snapshot,
    check_expected_version,
    decode_json,
    now,
    seal,
)


class _Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.events: list[RecordedEvent] = []
        self.streams: dict[str, list[int]] = {}  # stream id -> list of positions
        self.snapshots: list[Snapshot] = []
        self.checkpoints: dict[str, int] = {}


_named: dict[str, _Store] = {}
_named_lock = threading.Lock()


class MemoryLog(BaseLog):
    """
    An in-memory log. Thread-safe; not shared between processes.
    """

    supports_concurrent_writers = True
    shared_between_processes = False
    persistent = False

    def __init__(self, name: str = "", *, actor: str | None = None) -> None:
        self.url = f"memory://{name}"
        self.default_actor = actor
        if name:
            with _named_lock:
                self._store = _named.setdefault(name, _Store())
            self.persistent = True  # within this process
        else:
            self._store = _Store()
        self._watch_forks()

    def _fork_locks(self) -> list[Any]:
        return [self._store.lock]

    def _after_fork(self) -> None:
        global _named_lock
        _named_lock = threading.Lock()
        self._store.lock = threading.RLock()

    @classmethod
    def from_url(cls, url: str, *, create: bool = True, **options: Any) -> MemoryLog:
        """
        Raises:
            RegistryNotFound: ``create=False`` and no log of this name exists in this process.
        """
        name = url.split("://", 1)[1].strip("/")
        if not create and name not in _named:
            raise no_registry(url)
        return cls(name, **options)

    def _append(self, stream_id: str, pending: list[PendingEvent], expected_version: Any) -> list[RecordedEvent]:
        store = self._store
        with store.lock:
            positions = store.streams.get(stream_id, ())
            check_expected_version(stream_id, expected_version, len(positions))
            head = self.head()
            sealed = seal(
                stream_id,
                pending,
                first_position=head.position + 1,
                first_stream_version=len(positions) + 1,
                prev_hash=head.hash,
                recorded_at=now(),
            )
            self._store_sealed(sealed)
        return [item.event for item in sealed]

    def _store_sealed(self, sealed: list[Prepared]) -> None:
        store = self._store
        for item in sealed:
            # keep our own copy, decoded from the canonical text, so the caller's
            # dicts can change later without changing history
            event = item.event._replace(
                payload=decode_json(item.payload_text), metadata=decode_json(item.metadata_text)
            )
            store.events.append(event)
            store.streams.setdefault(event.stream_id, []).append(event.position)

    def _import(self, batch: list[Prepared]) -> None:
        with self._store.lock:
            self._store_sealed(batch)

    def read_stream(self, stream_id: str, from_version: int = 1,
                    to_version: int | None = None) -> list[RecordedEvent]:
        store = self._store
        with store.lock:
            positions = store.streams.get(stream_id, [])[max(from_version, 1) - 1:
                                                          None if to_version is None else max(to_version, 0)]
            return [store.events[p - 1] for p in positions]

    def read_all(self, from_position: int = 1, limit: int | None = None) -> Iterator[RecordedEvent]:
        store = self._store
        with store.lock:
            start = max(from_position, 1) - 1
            end = len(store.events) if limit is None else min(len(store.events), start + limit)
            chunk = store.events[start:end]
        return iter(chunk)

    def stream_version(self, stream_id: str) -> int:
        return len(self._store.streams.get(stream_id, ()))

    def head(self) -> Head:
        events = self._store.events
        if not events:
            return Head(0, GENESIS_HASH)
        last = events[-1]
        return Head(last.position, last.hash)

    def save_snapshot(self, position: int, data: bytes) -> None:
        with self._store.lock:
            self._store.snapshots.append(Snapshot(position, bytes(data), now()))

    def latest_snapshot(self) -> Snapshot | None:
        snaps = self._store.snapshots
        return self.snapshot_at(max(s.position for s in snaps)) if snaps else None

    def snapshot_at(self, position: int) -> Snapshot | None:
        found = [s for s in reversed(self._store.snapshots) if s.position <= position]
        return max(found, key=lambda s: s.position) if found else None  # max keeps the first: the newest among equals

    def get_checkpoint(self, consumer: str) -> int:
        return self._store.checkpoints.get(consumer, 0)

    def set_checkpoint(self, consumer: str, position: int) -> None:
        with self._store.lock:
            self._store.checkpoints[consumer] = position

    def close(self) -> None:
        pass

    # -- direct access for tamper tests (tests/test_log_memory.py) ---------------------

    def _raw_events(self) -> list[RecordedEvent]:
        return self._store.events
