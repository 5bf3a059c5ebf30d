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

import operator
import threading
import weakref
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from eventreg.domain import events as ev
from eventreg.domain.codec import decode_recorded
from eventreg.domain.entities import NO_STEP, MetricStats, _point_rows
from eventreg.domain.views import MetricBucket, MetricPoint
from eventreg.errors import LogCorrupted, ValidationError

__all__ = ["MAX_CACHED_POINTS", "HistoryCache", "buckets", "cache_for", "frozen", "history"]

#: most points one log's cache holds (about 32 bytes each)
MAX_CACHED_POINTS = 2_000_000
#: the longest history whose point objects the cache keeps (only the last one read)
MAX_MEMO_POINTS = 200_000
#: stream versions fetched per ``read_stream`` call of a long history
READ_CHUNK = 5_000
_RUN_TYPES = {ev.RunMetricsLogged.type: "points"}
_VERSION_TYPES = {ev.VersionMetricsLogged.type: "points", ev.VersionRegistered.type: "metrics"}


class _Entry:
    """
    The points of one key read so far, oldest first, and the stream version of each.
    """

    __slots__ = ("values", "steps", "stamps", "versions", "upto", "nan", "memo")

    def __init__(self, first: int) -> None:
        self.values, self.steps, self.stamps, self.versions = array("d"), array("q"), array("q"), array("q")
        self.upto = first - 1  # the last stream version read
        self.nan = False  # holds a NaN value
        self.memo: tuple[Any, Any] | None = None  # (arguments, result) of the last bucket read


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
        #: (entry, what was asked, the points) of the last history read: point objects are
        #: frozen, so a chart or page asking again shares them
        self.recent: tuple[_Entry, Any, list[MetricPoint]] | None = None

    def columns(self, log: Any, stream: str, number: int | None, key: str,
                stats: MetricStats) -> tuple[array, array, array, bool, _Entry]:
        """
        ``(values, steps, stamps, has NaN, entry)`` of the ``stats.count`` points of ``key``
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
            return ((entry.values[:end], entry.steps[:end], entry.stamps[:end], entry.nan, entry) if cut
                    else (entry.values, entry.steps, entry.stamps, entry.nan, entry))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.held = 0
            self.recent = None


def _extend(log: Any, stream: str, number: int | None, key: str, entry: _Entry, last: int) -> None:
    """
    Append to ``entry`` the points of ``key`` in stream versions ``entry.upto + 1`` to ``last``.
    """
    fields = _RUN_TYPES if number is None else _VERSION_TYPES
    stamps_of: dict[str, int] = {}
    while entry.upto < last:
        upper = min(last, entry.upto + READ_CHUNK)
        for recorded in log.read_stream(stream, entry.upto + 1, to_version=upper):
            field = fields.get(recorded.type)
            if field is None:
                continue
            payload = recorded.payload
            if number is not None and payload.get("version") != number:
                continue
            columns = _plain_columns(payload.get(field), key, stamps_of) if recorded.schema_version == 1 else None
            if columns is None:  # not the plain shape: the codec reads it (upcasts, converts)
                rows = [row for row in _point_rows(getattr(decode_recorded(recorded), field)) if row[0] == key]
                columns = (array("d", [r[1] for r in rows]), array("q", [r[2] for r in rows]),
                           array("q", [r[3] for r in rows]))
            values, steps, stamps = columns
            if not values:
                continue
            entry.values.extend(values)
            entry.steps.extend(steps)
            entry.stamps.extend(stamps)
            entry.versions.extend(array("q", [recorded.stream_version]) * len(values))
            total = sum(values)
            if total != total and any(value != value for value in values):  # inf - inf is NaN too
                entry.nan = True
        entry.upto = upper


def _plain_columns(items: Any, key: str, stamps_of: dict[str, int]) -> tuple[array, array, array] | None:
    """
    The values, steps and microseconds of the points of ``key`` among a payload's plain
    points (as the codec writes them), or None for anything else.
    """
    try:
        chosen = [item for item in items if item["key"] == key]
        values = array("d", [item["value"] for item in chosen])
        steps = array("q", [NO_STEP if item["step"] is None else item["step"] for item in chosen])
        stamps = array("q")
        for item in chosen:
            text = item["timestamp"]
            micros = stamps_of.get(text)
            if micros is None:
                if len(stamps_of) > 10_000:
                    stamps_of.clear()
                micros = stamps_of[text] = _micros(text)
            stamps.append(micros)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    if any(type(item["value"]) not in (float, int) for item in chosen) or NO_STEP in steps:
        return None
    return values, steps, stamps


def _micros(text: str) -> int:
    """
    Microseconds since the epoch of a stored timestamp (``...Z``), as ``parse_timestamp`` reads it.
    """
    if type(text) is not str or not text.endswith("Z"):
        raise ValueError(text)
    moment = datetime.fromisoformat(text[:-1])
    if moment.tzinfo is not None:
        raise ValueError(text)
    return (moment - _NAIVE_EPOCH) // _MICROSECOND


_NAIVE_EPOCH = datetime(1970, 1, 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


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


def _selected(columns: tuple[array, array, array, bool, _Entry], min_step: int | None,
              max_step: int | None) -> tuple[Any, Any, Any, bool]:
    values, steps, stamps, nan, _ = columns
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
    cache = cache_for(log)
    columns = cache.columns(log, stream, number, key, stats)
    entry, asked = columns[4], (len(columns[0]), min_step, max_step)
    recent = cache.recent
    if recent is not None and recent[0] is entry and recent[1] == asked:
        return list(recent[2])
    values, steps, stamps, _ = _selected(columns, min_step, max_step)
    out: list[MetricPoint] = []
    append, point, epoch, delta = out.append, MetricPoint, _EPOCH, timedelta
    last = moment = None
    for value, step, micros in zip(values, steps, stamps):
        if micros != last:  # points logged together share one
            last, moment = micros, epoch + delta(microseconds=micros)
        append(point(key=key, value=value, step=None if step == NO_STEP else step, timestamp=moment))
    if len(out) <= MAX_MEMO_POINTS:
        cache.recent = (entry, asked, out)
    return list(out)


def buckets(log: Any, stream: str, number: int | None, key: str, stats: MetricStats, *, count: int = 500,
            min_step: int | None = None, max_step: int | None = None) -> list[MetricBucket]:
    """
    The points of one metric (in ``[min_step, max_step]``) in at most ``count`` buckets of
    consecutive points in the order logged, each summarised; see :class:`MetricBucket`.
    """
    _check_range(min_step, max_step)
    if type(count) is not int or count < 1:
        raise ValidationError(f"buckets must be a positive integer, not {count!r}")
    columns = cache_for(log).columns(log, stream, number, key, stats)
    entry, asked = columns[4], (len(columns[0]), count, min_step, max_step)
    memo = entry.memo
    if memo is not None and memo[0] == asked:
        return list(memo[1])
    values, steps, _, nan = _selected(columns, min_step, max_step)
    total = len(values)
    count = min(count, total)
    if NO_STEP not in steps and all(map(operator.le, steps, steps[1:])):  # in step order: ends are bounds
        made = [_bucket(values[lo:hi], None, nan, steps[lo], steps[hi - 1]) for lo, hi in _bounds(total, count)]
    else:
        made = [_bucket(values[lo:hi], steps[lo:hi], nan) for lo, hi in _bounds(total, count)]
    entry.memo = (asked, made)
    return list(made)


def _bounds(total: int, count: int) -> Iterator[tuple[int, int]]:
    for b in range(count):
        yield total * b // count, total * (b + 1) // count


def _bucket(values: Any, steps: Any, nan: bool, low: int | None = None, high: int | None = None) -> MetricBucket:
    if steps is not None:
        known = [step for step in steps if step != NO_STEP] if NO_STEP in steps else steps
        low, high = (min(known), max(known)) if known else (None, None)
    real = [value for value in values if value == value] if nan else values
    return MetricBucket(min_step=low, max_step=high, count=len(values), min=min(real) if real else float("nan"),
                        max=max(real) if real else float("nan"), last=values[-1])
