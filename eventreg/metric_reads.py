"""
Metric histories read on demand from the log, behind a bounded cache.

The projection keeps one :class:`~eventreg.domain.entities.MetricStats` per metric key of
a run or version, not its points. It names the first and last version of the stream
(``run:<id>``, or the model's stream for a version) holding points of the key, so a
history is one ranged ``read_stream``. A view's summary stops at the view's position, so
a view of the past reads exactly the points it saw.

What was read is kept, column by column in arrays, in a :class:`HistoryCache` per open
log, bounded by the number of points it holds (least recently used first out). A stream
only grows, so a history cached earlier is extended by reading just the stream versions
after the ones it covers; a view of the past takes the prefix up to its summary's last
stream version.
"""

from __future__ import annotations

import threading
import weakref
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from eventreg.domain import events as ev
from eventreg.domain.codec import decode_recorded
from eventreg.domain.entities import NO_STEP, MetricHistory, MetricStats, _point_rows
from eventreg.domain.state import _plain_points
from eventreg.domain.views import MetricBucket, MetricPoint
from eventreg.errors import LogCorrupted, ValidationError

__all__ = ["MAX_CACHED_POINTS", "HistoryCache", "buckets", "cache_for", "frozen", "history"]

#: most points one log's cache holds (about 32 bytes each)
MAX_CACHED_POINTS = 2_000_000
#: stream versions fetched per ``read_stream`` call of a long history
READ_CHUNK = 5_000
_RUN_TYPES = {ev.RunMetricsLogged.type: "points"}
_VERSION_TYPES = {ev.VersionMetricsLogged.type: "points", ev.VersionRegistered.type: "metrics"}


class _Entry:
    """
    The points of one key read so far, oldest first, and the stream version of each.
    """

    __slots__ = ("values", "steps", "stamps", "versions", "upto", "nan")

    def __init__(self, first: int) -> None:
        self.values, self.steps, self.stamps, self.versions = array("d"), array("q"), array("q"), array("q")
        self.upto = first - 1  # the last stream version read
        self.nan = False  # holds a NaN value


class HistoryCache:
    """
    The histories read from one log, bounded by :data:`MAX_CACHED_POINTS` points in all.
    Thread-safe.
    """

    def __init__(self, limit: int = MAX_CACHED_POINTS) -> None:
        self.limit = limit
        self.held = 0
        self._entries: OrderedDict[tuple[str, int | None, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def columns(self, log: Any, stream: str, number: int | None, key: str,
                stats: MetricStats) -> tuple[array, array, array, bool]:
        """
        ``(values, steps, stamps, has NaN)`` of the ``stats.count`` points of ``key``
        (of version ``number`` on a model's stream, None for a run), read as far as needed.
        """
        with self._lock:
            name = (stream, number, key)
            entry = self._entries.pop(name, None)
            if entry is None or entry.upto < stats.first - 1:
                entry = _Entry(stats.first)
            else:
                self.held -= len(entry.values)
            if entry.upto < stats.last:
                _extend(log, stream, number, key, entry, stats.last)
            end = bisect_right(entry.versions, stats.last)
            if end != stats.count:
                raise LogCorrupted(f"{stream}: {end} points of {key!r} found where the projection counts "
                                   f"{stats.count}")  # the log changed under its projection
            self._entries[name] = entry
            self.held += len(entry.values)
            while self.held > self.limit and self._entries:
                _, dropped = self._entries.popitem(last=False)
                self.held -= len(dropped.values)
            cut = end != len(entry.values)
            return ((entry.values[:end], entry.steps[:end], entry.stamps[:end], entry.nan) if cut
                    else (entry.values, entry.steps, entry.stamps, entry.nan))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.held = 0


def _extend(log: Any, stream: str, number: int | None, key: str, entry: _Entry, last: int) -> None:
    """
    Append to ``entry`` the points of ``key`` in stream versions ``entry.upto + 1`` to ``last``.
    """
    fields = _RUN_TYPES if number is None else _VERSION_TYPES
    values, steps, stamps, versions = entry.values, entry.steps, entry.stamps, entry.versions
    while entry.upto < last:
        upper = min(last, entry.upto + READ_CHUNK)
        for recorded in log.read_stream(stream, entry.upto + 1, to_version=upper):
            field = fields.get(recorded.type)
            if field is None:
                continue
            for _, value, step, micros in _rows(recorded, field, number, key):
                values.append(value)
                steps.append(step)
                stamps.append(micros)
                versions.append(recorded.stream_version)
                if value != value:
                    entry.nan = True
        entry.upto = upper


def _rows(recorded: Any, field: str, number: int | None, key: str) -> list[tuple[str, float, int, int]]:
    payload = recorded.payload
    if number is not None and payload.get("version") != number:
        return []
    rows = None
    if recorded.schema_version == 1:
        items = payload.get(field)
        if type(items) is list:
            rows = _plain_points([item for item in items if type(item) is not dict or item.get("key") == key])
    if rows is None:  # not the plain shape: the codec reads it (upcasts, converts)
        event = decode_recorded(recorded)
        rows = [row for row in _point_rows(getattr(event, field)) if row[0] == key]
    return rows


#: one cache per open log
_CACHES: weakref.WeakKeyDictionary[Any, HistoryCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def cache_for(log: Any) -> HistoryCache:
    """
    The history cache of ``log`` (a fresh one each call for a log that takes no weak reference).
    """
    with _CACHES_LOCK:
        try:
            found = _CACHES.get(log)
            if found is None:
                found = _CACHES[log] = HistoryCache()
            return found
        except TypeError:
            return HistoryCache()


def frozen(stats: MetricStats) -> MetricStats:
    """
    A copy of ``stats`` (the live projection updates its own in place).
    """
    return MetricStats(*stats._row())


def _selected(columns: tuple[array, array, array, bool], min_step: int | None,
              max_step: int | None) -> tuple[Any, Any, Any, bool]:
    values, steps, stamps, nan = columns
    if min_step is None and max_step is None:
        return values, steps, stamps, nan
    low = NO_STEP + 1 if min_step is None else min_step
    high = 2**63 - 1 if max_step is None else max_step
    keep = [i for i, step in enumerate(steps) if low <= step <= high]  # NO_STEP: outside every range
    return [values[i] for i in keep], [steps[i] for i in keep], [stamps[i] for i in keep], nan


def _check_range(min_step: int | None, max_step: int | None) -> None:
    for name, value in (("min_step", min_step), ("max_step", max_step)):
        if value is not None and (type(value) is not int or not NO_STEP < value < 2**63):
            raise ValidationError(f"{name} must be a step (an integer), not {value!r}")


def history(log: Any, stream: str, number: int | None, key: str, stats: MetricStats, *,
            min_step: int | None = None, max_step: int | None = None) -> list[MetricPoint]:
    """
    The points of one metric in the order logged, those with a step in ``[min_step, max_step]``
    when a bound is given (a point without a step is then left out).
    """
    _check_range(min_step, max_step)
    values, steps, stamps, _ = _selected(cache_for(log).columns(log, stream, number, key, stats),
                                         min_step, max_step)
    return list(MetricHistory(key, array("d", values), array("q", steps), array("q", stamps)))


def buckets(log: Any, stream: str, number: int | None, key: str, stats: MetricStats, *, count: int = 500,
            min_step: int | None = None, max_step: int | None = None) -> list[MetricBucket]:
    """
    The points of one metric (in ``[min_step, max_step]``) in at most ``count`` buckets of
    consecutive points in the order logged, each summarised; see :class:`MetricBucket`.
    """
    _check_range(min_step, max_step)
    if type(count) is not int or count < 1:
        raise ValidationError(f"buckets must be a positive integer, not {count!r}")
    values, steps, _, nan = _selected(cache_for(log).columns(log, stream, number, key, stats), min_step, max_step)
    total = len(values)
    count = min(count, total)
    return [_bucket(values[lo:hi], steps[lo:hi], nan) for lo, hi in _bounds(total, count)]


def _bounds(total: int, count: int) -> Iterator[tuple[int, int]]:
    for b in range(count):
        yield total * b // count, total * (b + 1) // count


def _bucket(values: Any, steps: Any, nan: bool) -> MetricBucket:
    known = [step for step in steps if step != NO_STEP] if NO_STEP in steps else steps
    real = [value for value in values if value == value] if nan else values
    return MetricBucket(min_step=min(known) if known else None, max_step=max(known) if known else None,
                        count=len(values), min=min(real) if real else float("nan"),
                        max=max(real) if real else float("nan"), last=values[-1])
