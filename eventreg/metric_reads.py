"""
Metric histories read on demand from the log, behind a bounded cache.

The projection keeps one :class:`~eventreg.domain.entities.MetricStats` per metric key of
a run or version, not its points. It names the first and last version of the stream
(``run:<id>``, or the model's stream for a version) holding points of the key, so a
history is one ranged ``read_stream``. A view's summary stops at the view's position, so
a view of the past reads exactly the points it saw.

What was read is kept, column by column in arrays, in a :class:`HistoryCache` per open
log, bounded by the number of points it holds (least recently used first out). Chart
buckets need no timestamps: stored ones of the layout the codec writes are kept as their
joined texts and parsed when a history is first asked for. A stream
only grows, so a history cached earlier is extended by reading just the stream versions
after the ones it covers; a view of the past takes the prefix up to its summary's last
stream version.
"""

from __future__ import annotations

import operator
import re
import threading
import weakref
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import msgspec

from eventreg.domain import events as ev
from eventreg.domain.codec import decode_recorded
from eventreg.domain.entities import NO_STEP, MetricHistory, MetricStats, _point_rows
from eventreg.domain.views import MetricBucket
from eventreg.errors import LogCorrupted, ValidationError

__all__ = ["MAX_CACHED_POINTS", "HistoryCache", "buckets", "cache_for", "frozen", "history"]

#: most points one log's cache holds (about 32 bytes each; 27 more while a timestamp is unparsed)
MAX_CACHED_POINTS = 2_000_000
#: stream versions fetched per ``read_stream`` call of a long history
READ_CHUNK = 5_000
_RUN_TYPES = {ev.RunMetricsLogged.type: "points"}
_VERSION_TYPES = {ev.VersionMetricsLogged.type: "points", ev.VersionRegistered.type: "metrics"}


class _Entry:
    """
    The points of one key read so far, oldest first, and the stream version of each.
    """

    __slots__ = ("values", "steps", "stamps", "versions", "upto", "nan", "memo", "texts")

    def __init__(self, first: int) -> None:
        self.values, self.steps, self.stamps, self.versions = array("d"), array("q"), array("q"), array("q")
        #: the timestamps of the points after ``stamps``' as joined texts of checked
        #: layout, parsed when a history is read (buckets do not need them)
        self.texts: list[str] = []
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

    def columns(self, log: Any, stream: str, number: int | None, key: str,
                stats: MetricStats, *, stamps: bool = True) -> tuple[array, array, array | None, bool, _Entry]:
        """
        ``(values, steps, stamps, has NaN, entry)`` of the ``stats.count`` points of ``key``
        (of version ``number`` on a model's stream, None for a run), read as far as needed
        (``stamps`` None unless asked for).
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
            if stamps and entry.texts:
                _parse_texts(entry)
            times = entry.stamps if stamps else None
            cut = end != len(entry.values)
            return ((entry.values[:end], entry.steps[:end], times[:end] if times is not None else None, entry.nan,
                     entry) if cut else (entry.values, entry.steps, times, entry.nan, entry))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.held = 0


class _Point(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """
    A metric point in the plain shape the codec writes (anything else: the codec reads it).
    """

    key: str
    value: float
    step: int | None
    timestamp: str


class _Points(msgspec.Struct, gc=False):
    """
    ``run.metrics_logged`` and ``version.metrics_logged`` (the run's or model's other fields ignored).
    """

    points: list[_Point]
    version: int | None = None


class _Registered(msgspec.Struct, gc=False):
    """
    ``version.registered``: its number and its points.
    """

    version: int
    metrics: list[_Point]


_PAYLOADS = {ev.RunMetricsLogged.type: _Points, ev.VersionMetricsLogged.type: _Points,
             ev.VersionRegistered.type: _Registered}
_DECODERS = {name: msgspec.json.Decoder(kind).decode for name, kind in _PAYLOADS.items()}
#: what a payload that is not plain, or not JSON msgspec reads, raises (the codec then reads it)
_REFUSED = (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError, OverflowError, KeyError)


def _extend(log: Any, stream: str, number: int | None, key: str, entry: _Entry, last: int) -> None:
    """
    Append to ``entry`` the points of ``key`` in stream versions ``entry.upto + 1`` to ``last``.

    A backend with ``read_stream_payloads`` (the SQL one) hands over the stored JSON
    texts, which msgspec decodes straight into typed points (a tenth of decoding them as
    JSON objects first); any other gives its events. A payload not in the plain shape
    the codec writes goes through the codec.
    """
    fields = _RUN_TYPES if number is None else _VERSION_TYPES
    stamps_of: dict[str, int] = {}
    raw = getattr(log, "read_stream_payloads", None)
    while entry.upto < last:
        upper = min(last, entry.upto + READ_CHUNK)
        rows = (raw(stream, entry.upto + 1, upper) if raw is not None else
                [(r.stream_version, r.type, r.schema_version, r.payload)
                 for r in log.read_stream(stream, entry.upto + 1, to_version=upper)])
        for stream_version, type_, schema_version, payload in rows:
            field = fields.get(type_)
            if field is None:
                continue
            columns = None
            if schema_version == 1:
                try:
                    typed = (_DECODERS[type_](payload) if type(payload) in (str, bytes)
                             else msgspec.convert(payload, _PAYLOADS[type_]))
                    if number is not None and typed.version != number:
                        continue
                    columns = _typed_columns(typed.metrics if field == "metrics" else typed.points, key, stamps_of)
                except _REFUSED:
                    columns = None
            if columns is None:  # not the plain shape: the codec reads it (upcasts, converts)
                recorded, = log.read_stream(stream, stream_version, to_version=stream_version)
                if number is not None and recorded.payload.get("version") != number:
                    continue
                rows_of = [row for row in _point_rows(getattr(decode_recorded(recorded), field)) if row[0] == key]
                columns = (array("d", [r[1] for r in rows_of]), array("q", [r[2] for r in rows_of]),
                           array("q", [r[3] for r in rows_of]))
            values, steps, stamps = columns
            if not values:
                continue
            entry.values.extend(values)
            entry.steps.extend(steps)
            if type(stamps) is str:
                entry.texts.append(stamps)
            else:
                if entry.texts:
                    _parse_texts(entry)
                entry.stamps.extend(stamps)
            entry.versions.extend(array("q", [stream_version]) * len(values))
            total = sum(values)
            if total != total and any(value != value for value in values):  # inf - inf is NaN too
                entry.nan = True
        entry.upto = upper


def _typed_columns(points: list[_Point], key: str, stamps_of: dict[str, int]) -> tuple[array, array, array | str]:
    """
    The values, steps and microseconds of the points of ``key`` among typed points (the
    timestamps as one joined text, parsed later by :func:`_parse_texts`, when they are
    all distinct ``YYYY-MM-DDTHH:MM:SS.ffffffZ``).

    Raises:
        ValueError, OverflowError: a timestamp or step the codec must judge.
    """
    keys = [point.key for point in points]
    chosen = points if keys.count(key) == len(keys) else [point for point in points if point.key == key]
    if not chosen:
        return array("d"), array("q"), array("q")
    values = array("d", [point.value for point in chosen])
    found = [point.step for point in chosen]
    if NO_STEP in found:
        raise ValueError("a step the codec refuses")
    steps = array("q", [NO_STEP if step is None else step for step in found] if None in found else found)
    texts = [point.timestamp for point in chosen]
    first = texts[0]
    if texts.count(first) == len(texts):  # points logged together share one
        return values, steps, array("q", [_micros_of(first, stamps_of)]) * len(texts)
    joined = "".join(texts)
    if len(joined) == _STAMP_WIDTH * len(texts) and _STAMPS.fullmatch(joined) is not None:
        return values, steps, joined
    return values, steps, array("q", [_micros_of(text, stamps_of) for text in texts])


#: the layout of the stored timestamps the codec writes, and its width
_STAMPS = re.compile(r"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:[0-5]\d\.\d{6}Z)*", re.ASCII)
_STAMP_WIDTH = 27


def _parse_texts(entry: _Entry) -> None:
    """
    Parse ``entry``'s pending joined timestamps into ``entry.stamps``: each minute once,
    the seconds and microseconds added (the same microseconds :func:`_micros` gives).

    Raises:
        LogCorrupted: a timestamp of that layout is not a time (a month 13).
    """
    for joined in entry.texts:
        texts = [joined[i:i + _STAMP_WIDTH] for i in range(0, len(joined), _STAMP_WIDTH)]
        try:
            minutes = {m: _micros(m + ":00Z") for m in {t[:16] for t in texts}}
        except ValueError as e:
            raise LogCorrupted(f"a metric point's timestamp is not a time: {e}") from None
        entry.stamps.extend(array("q", [minutes[t[:16]] + int(t[17:19]) * 1_000_000 + int(t[20:26])
                                        for t in texts]))
    entry.texts.clear()


def _micros_of(text: str, stamps_of: dict[str, int]) -> int:
    micros = stamps_of.get(text)
    if micros is None:
        if len(stamps_of) > 10_000:
            stamps_of.clear()
        micros = stamps_of[text] = _micros(text)
    return micros


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
    if NO_STEP not in steps and all(map(operator.le, steps, steps[1:])):  # in step order: the range is a slice
        lo, hi = bisect_left(steps, low), bisect_right(steps, high)
        return values[lo:hi], steps[lo:hi], stamps[lo:hi] if stamps is not None else None, nan
    keep = [i for i, step in enumerate(steps) if low <= step <= high]  # NO_STEP: outside every range
    return ([values[i] for i in keep], [steps[i] for i in keep],
            [stamps[i] for i in keep] if stamps is not None else None, nan)


def _check_range(min_step: int | None, max_step: int | None) -> None:
    for name, value in (("min_step", min_step), ("max_step", max_step)):
        if value is not None and (type(value) is not int or not NO_STEP < value < 2**63):
            raise ValidationError(f"{name} must be a step (an integer), not {value!r}")


def history(log: Any, stream: str, number: int | None, key: str, stats: MetricStats, *,
            min_step: int | None = None, max_step: int | None = None) -> MetricHistory:
    """
    The points of one metric in the order logged, those with a step in ``[min_step, max_step]``
    when a bound is given (a point without a step is then left out): a
    :class:`~eventreg.domain.entities.MetricHistory`, a sequence of
    :class:`~eventreg.domain.views.MetricPoint` kept in columns, each point made when read.
    """
    _check_range(min_step, max_step)
    columns = cache_for(log).columns(log, stream, number, key, stats)
    values, steps, stamps, _ = _selected(columns, min_step, max_step)
    if isinstance(values, array):  # the cache's own (it grows): a copy
        return MetricHistory(key, values[:], steps[:], stamps[:])
    return MetricHistory(key, values, steps, stamps)


def buckets(log: Any, stream: str, number: int | None, key: str, stats: MetricStats, *, count: int = 500,
            min_step: int | None = None, max_step: int | None = None) -> list[MetricBucket]:
    """
    The points of one metric (in ``[min_step, max_step]``) in at most ``count`` buckets of
    consecutive points in the order logged, each summarised; see :class:`MetricBucket`.
    """
    _check_range(min_step, max_step)
    if type(count) is not int or count < 1:
        raise ValidationError(f"buckets must be a positive integer, not {count!r}")
    if stats.count == 1:  # the summary holds the one point: no read (a version's point shares its event)
        step = stats.step
        inside = (min_step is None and max_step is None) or (
            step != NO_STEP and (min_step is None or min_step <= step) and (max_step is None or step <= max_step))
        return [_bucket(array("d", [stats.value]), array("q", [step]), stats.value != stats.value)] if inside else []
    columns = cache_for(log).columns(log, stream, number, key, stats, stamps=False)
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
