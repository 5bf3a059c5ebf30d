"""
Durable subscriptions: a named consumer that sees every new event once, in order.

A :class:`Subscription` reads the log after its consumer's checkpoint (stored in the
log's own backend with ``set_checkpoint``), hands each event to the handler and moves
the checkpoint after the handler returns. A restarted consumer resumes where it left
off: each event is delivered at least once, and exactly once unless the process dies
between a handler's return and the checkpoint write (make handlers idempotent, e.g. by
remembering ``event.position``, if that matters).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from eventreg.domain import validation as check
from eventreg.domain.events import EVENT_TYPES
from eventreg.errors import ValidationError
from eventreg.log import RecordedEvent


class Subscription:
    """
    One consumer of a log's events.

    Args:
        log: the event log.
        consumer: the consumer's durable name (its checkpoint's key).
        handler: called with each :class:`~eventreg.log.RecordedEvent`, in log order.
        types: only deliver these event types (the checkpoint still moves past others).
        batch: events read per query.
    """

    def __init__(self, log: Any, consumer: str, handler: Callable[[RecordedEvent], Any], *,
                 types: Iterable[str] | None = None, batch: int = 1000) -> None:
        self.consumer: str = check.check_text(consumer, "consumer", 200, allow_none=False)  # type: ignore[assignment]
        if not self.consumer.strip() or not self.consumer.isprintable():
            raise ValidationError(f"consumer must be a non-empty printable name, not {consumer!r}")
        if not callable(handler):
            raise ValidationError(f"handler must be callable, not {type(handler).__name__}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValidationError(f"batch must be a positive int, not {batch!r}")
        self.log = log
        self.handler = handler
        self.batch = batch
        self.types: frozenset[str] | None = None
        if types is not None:
            names = frozenset([types] if isinstance(types, str) else types)
            unknown = sorted(n for n in names if n not in EVENT_TYPES)
            if unknown:
                raise ValidationError(f"unknown event type(s) {', '.join(map(repr, unknown))}")
            self.types = names

    @property
    def position(self) -> int:
        """
        The consumer's checkpoint: the last position it has handled (0 = none).
        """
        return self.log.get_checkpoint(self.consumer)

    def poll(self) -> int:
        """
        Deliver every event recorded after the checkpoint, now, then return.

        Returns:
            How many events were delivered to the handler.

        Raises:
            Whatever the handler raises; the checkpoint stays before that event.
        """
        delivered = 0
        position = self.position
        while True:
            chunk = list(self.log.read_all(from_position=position + 1, limit=self.batch))
            skipped = None
            for event in chunk:
                if self.types is None or event.type in self.types:
                    self.handler(event)
                    self.log.set_checkpoint(self.consumer, event.position)
                    delivered += 1
                    skipped = None
                else:
                    skipped = event.position
                position = event.position
            if skipped is not None:
                self.log.set_checkpoint(self.consumer, skipped)
            if len(chunk) < self.batch:
                return delivered

    def run(self, *, poll_interval: float = 0.5, stop: Any = None, timeout: float | None = None) -> int:
        """
        Poll until ``stop`` says so or ``timeout`` seconds have passed.

        Args:
            poll_interval: seconds to sleep when nothing is new.
            stop: a ``threading.Event`` or a function returning true to stop.
            timeout: stop after this many seconds; 0 polls once; None runs until ``stop``.

        Returns:
            How many events were delivered.
        """
        if stop is not None and not callable(stop) and not isinstance(stop, threading.Event):
            raise ValidationError("stop must be a threading.Event or a function returning a bool")
        should_stop = stop.is_set if isinstance(stop, threading.Event) else stop
        deadline = None if timeout is None else time.monotonic() + timeout
        delivered = 0
        while True:
            delivered += self.poll()
            if should_stop is not None and should_stop():
                return delivered
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return delivered
                pause = min(poll_interval, left)
            else:
                pause = poll_interval
            if isinstance(stop, threading.Event):
                if stop.wait(pause):
                    delivered += self.poll()
                    return delivered
            else:
                time.sleep(pause)
