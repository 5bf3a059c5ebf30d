"""
The write side of the registry: a :class:`Writer` owns the log and the live projection.

Every command follows one path: catch up with the log -> decide against the current
state -> build events -> ``append(stream, events, expected_version)``. If another writer
appended to the same stream first, the log raises ``ConcurrencyConflict``; the writer
catches up and decides again, a bounded number of times. So version numbers stay
1, 2, 3 ... and every alias move records the true previous holder, across processes.

The writer is also the source of the live :class:`~eventreg.view.RegistryView`:
``reading()`` catches up and holds the lock while a query reads the state.
"""

from __future__ import annotations

import random
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from eventreg import snapshots
from eventreg._version import __version__
from eventreg.domain import events as ev
from eventreg.domain.codec import to_new_event
from eventreg.domain.state import RegistryState, apply, bulk, fold, snapshot_digest
from eventreg.errors import ConcurrencyConflict, InvalidTransition
from eventreg.log import RecordedEvent
from eventreg.timetravel import load_trusted_snapshot

__all__ = ["MAX_RETRIES", "PERIODIC_FACTOR", "SNAPSHOT_EVERY", "Plan", "Writer"]

#: How many times a command decides again after a concurrent writer got there first.
MAX_RETRIES = 50
#: Default number of new events after which closing the registry saves a snapshot.
SNAPSHOT_EVERY = 1000
#: A registry also saves one while open, once this many times ``snapshot_every`` events
#: (and at least a tenth of the projection's size in objects) have been written since
#: the last: a periodic save costs in proportion to the projection, so it stays a small
#: share of the cost of the commands, and an open replays at most that many events.
PERIODIC_FACTOR = 10

#: Events a command folds as the objects it appended (their fields are immutable, or JSON
#: the command normalised as decoding would: check_json_blob, check_params, check_tags).
_FOLD_AS_IS = (ev.RunMetricsLogged, ev.VersionMetricsLogged, ev.VersionRegistered)


@attrs.frozen
class Plan:
    """
    What a command decided: events for one stream and how to build its return value.
    """

    stream: str
    events: list[Any]
    #: called with the state after the append and the events this command recorded
    result: Callable[[RegistryState, list[RecordedEvent]], Any] | None = None


class Writer:
    """
    The log, the projection folded from it, and the one path by which commands append.
    Thread-safe.
    """

    def __init__(self, log: Any, *, actor: str, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        self.log = log
        self.actor = actor
        self.snapshot_every = snapshot_every
        self.lock = threading.RLock()
        self.state = RegistryState()
        self.snapshot_position = 0
        self.closed = False
        self.signer: Any = None
        with bulk():  # a load or a long catch-up builds many objects that all stay alive
            self._load_snapshot()
            self.catch_up()

    def close(self) -> None:
        """
        Save a snapshot if many events were folded since the last one, then close the log.
        """
        with self.lock:
            if self.closed:
                return
            due = self.state.position - self.snapshot_position >= self.snapshot_every
            if self.snapshot_every and due and getattr(self.log, "persistent", True):
                self.save_snapshot()
            self.closed = True
            self.log.close()

    def save_snapshot(self) -> int:
        """
        Store the projection and append its sha256 to the log; return its position.
        """
        with self.lock:
            self.catch_up()
            position = self.state.position
            if position:
                data = snapshots.dump(self.state, __version__)
                self.log.save_snapshot(position, data)
                saved = ev.SnapshotSaved(position=position, digest=snapshot_digest(data),
                                         format=snapshots.EVENT_FORMAT, code_version=__version__)
                self.log.append(ev.SNAPSHOT_STREAM, [to_new_event(saved, actor=self.actor)])
                self.catch_up()
            self.snapshot_position = self.state.position
            return position

    def _load_snapshot(self) -> None:
        state = load_trusted_snapshot(self.log, __version__)
        if state is not None:
            self.state = state
            self.snapshot_position = state.position

    def catch_up(self) -> None:
        """
        Fold the events appended since the projection's position.
        """
        state = self.state
        unchanged = getattr(self.log, "unchanged_since", None)
        if unchanged is not None and unchanged(state.position):
            return  # the backend knows cheaply that nothing was appended after it
        fold(self.log.read_all(from_position=state.position + 1), state)

    @contextmanager
    def reading(self) -> Iterator[RegistryState]:
        """
        The projection caught up with the log, held steady while the caller reads it.
        """
        with self.lock:
            self.catch_up()
            yield self.state

    def _save_periodic_snapshot(self) -> None:
        """
        Save a snapshot while open; a failure warns and never fails the command that
        triggered it (a snapshot only makes the next open faster).
        """
        try:
            self.save_snapshot()
        except Exception as e:  # noqa: BLE001 - reported, and tried again a period later
            self.snapshot_position = self.state.position
            warnings.warn(f"eventreg: saving a projection snapshot failed: {e}", RuntimeWarning, stacklevel=4)

    def _snapshot_due(self) -> bool:
        """
        Whether to save a snapshot now, while open (see :data:`PERIODIC_FACTOR`).
        """
        if not self.snapshot_every or not getattr(self.log, "persistent", True):
            return False
        state = self.state
        size = len(state.models) + len(state.runs) + sum(len(m.versions) for m in state.models.values()) \
            if state.position - self.snapshot_position >= self.snapshot_every * PERIODIC_FACTOR else 0
        return size > 0 and state.position - self.snapshot_position >= max(
            self.snapshot_every * PERIODIC_FACTOR, size // 10)

    def execute(self, decide: Callable[[RegistryState], Plan]) -> Any:
        """
        Catch up, decide, append with the stream's expected version; retry on conflict.

        Returns:
            What the plan's ``result`` builds (None without one).

        Raises:
            ConcurrencyConflict: other writers kept changing the stream, ``MAX_RETRIES`` times.
            InvalidTransition: the registry is closed.
        """
        for attempt in range(MAX_RETRIES + 1):
            with self.lock:
                if self.closed:
                    raise InvalidTransition("the registry is closed")
                self.catch_up()
                state = self.state
                plan = decide(state)
                if not plan.events:
                    return plan.result(state, []) if plan.result else None
                expected = state.streams.get(plan.stream, 0)
                news = [to_new_event(e, actor=self.actor) for e in plan.events]
                if self.signer is not None:  # eventreg.signing.Signer: signs each event's content
                    news = [self.signer.sign(n, plan.stream, expected + i) for i, n in enumerate(news, 1)]
                try:
                    recorded = self.log.append(plan.stream, news, expected)
                except ConcurrencyConflict:
                    recorded = None
                if recorded is not None:
                    if recorded and recorded[0].position == state.position + 1:
                        for item, event in zip(recorded, plan.events):
                            # metric points are immutable and the most numerous: fold the
                            # objects just appended instead of decoding their payloads again
                            apply(state, item, event if type(event) in _FOLD_AS_IS else None)
                    else:
                        self.catch_up()
                    outcome = plan.result(self.state, recorded) if plan.result else None
                    if self._snapshot_due():
                        self._save_periodic_snapshot()
                    return outcome
            time.sleep(random.uniform(0, min(0.002 * 2 ** min(attempt, 6), 0.1)))
        raise ConcurrencyConflict(
            f"gave up after {MAX_RETRIES} retries: other writers keep changing {plan.stream!r}",
            stream_id=plan.stream,
        )
