"""
Metric histories read on demand from the log, behind a bounded cache.

The projection keeps one :class:`~eventreg.domain.entities.MetricStats` per metric key of
a run or version, not its points. It names the first and last version of the stream
(``run:<id>``, or the model's stream for a version) holding points of the key, so a
history is one ranged ``read_stream``. A view's summary stops at the view's position, so
a view of the past reads exactly the points it saw.

A metric event of schema version 2 stores its points as columns (lists of values and
steps, a key and a timestamp written once when its points share them), which msgspec
decodes into lists that go straight into arrays; version 1's list of point objects is
read too (a typed object per point, about four times the work).

What was read is kept, column by column in arrays, in a :class:`HistoryCache` per open
log, bounded by the number of points it holds (least recently used first out). Chart
buckets need no timestamps: a key first read for buckets is decoded without them (values
and steps only, about half the work), and read again, timestamps and all, when a history
of it is asked for. A stream only grows, so a history cached earlier is extended by
reading just the stream versions after the ones it covers; a view of the past takes the
prefix up to its summary's last stream version.

Buckets are cut by numpy (each bucket's least and greatest step and value in one
``reduceat`` over the history), imported at a process's first chart read: about 50 ms
once, where cutting 500 buckets of 100,000 points in Python took 5-8 ms.
"""

from __future__ import annotations

import operator
import re
import threading
import weakref
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from contextlib import closing
from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec

from eventreg.domain import events as ev
from eventreg.domain.codec import decode_recorded
from eventreg.domain.entities import NO_STEP, MetricHistory, MetricStats, _point_rows
from eventreg.domain.views import MetricBucket
from eventreg.errors import LogCorrupted, ValidationError

__all__ = ["MAX_CACHED_POINTS", "HistoryCache", "buckets", "cache_for", "frozen", "history"]

#: most points one log's cache holds (24 bytes each, 16 when read for buckets only, without timestamps; and
#: 16 bytes an event holding them)
MAX_CACHED_POINTS = 2_000_000
#: stream versions fetched per ``read_stream`` call of a long history
READ_CHUNK = 5_000
#: the greatest step (a bound of every step range; "no step" when a bucket's lowest step is sought)
_ABOVE = 2**63 - 1
_RUN_TYPES = {ev.RunMetricsLogged.type: "points"}
_VERSION_TYPES = {ev.VersionMetricsLogged.type: "points", ev.VersionRegistered.type: "metrics"}


class _Entry:
    """
    The points of one key read so far, oldest first, and which stream versions hold them:
    ``marks[i]`` holds the points before ``ends[i]`` (and from ``ends[i - 1]`` on).
    """

    __slots__ = ("values", "steps", "stamps", "marks", "ends", "upto", "ordered", "checked", "timed", "memo")

    def __init__(self, first: int, timed: bool) -> None:
        self.values, self.steps, self.stamps = array("d"), array("q"), array("q")
        self.marks, self.ends = array("q"), array("q")
        self.upto = first - 1  # the last stream version read
        self.ordered = True  # the first ``checked`` points have steps, in non-decreasing order
        self.checked = 0
        self.timed = timed  # ``stamps`` holds the points' timestamps (else it stays empty)
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
                stats: MetricStats, *, stamps: bool = True) -> tuple[array, array, array | None, _Entry]:
        """
        ``(values, steps, stamps, entry)`` of the ``stats.count`` points of ``key``
        (of version ``number`` on a model's stream, None for a run), read as far as needed
        (``stamps`` None unless asked for).
        """
        with self._lock:
            name = (stream, number, key)
            entry = self._entries.pop(name, None)
            if entry is None or entry.upto < stats.first - 1 or (stamps and not entry.timed):
                entry = _Entry(stats.first, timed=stamps)
            else:
                self.held -= len(entry.values)
            if entry.upto < stats.last:
                _extend(log, stream, number, key, entry, stats.last)
            events = bisect_right(entry.marks, stats.last)  # those at or before the summary's last
            end = entry.ends[events - 1] if events else 0
            if end != stats.count:
                raise LogCorrupted(f"{stream}: {end} points of {key!r} found where the projection counts "
                                   f"{stats.count}")  # the log changed under its projection
            self._entries[name] = entry
            self.held += len(entry.values)
            while self.held > self.limit and self._entries:
                _, dropped = self._entries.popitem(last=False)
                self.held -= len(dropped.values)
            times = entry.stamps if stamps else None
            cut = end != len(entry.values)
            return ((entry.values[:end], entry.steps[:end], times[:end] if times is not None else None, entry)
                    if cut else (entry.values, entry.steps, times, entry))

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


class _Untimed(msgspec.Struct, gc=False):
    """
    A metric point without its timestamp, for buckets (msgspec skips the text unread).
    """

    key: str
    value: float
    step: int | None


#: a stored step (NO_STEP stands for "no step" in the cache: a stored one is refused)
_STEP = Annotated[int, msgspec.Meta(gt=NO_STEP)]


def _columns(timed: bool, none: bool) -> type:
    """
    The type of metric points stored as columns (schema version 2 of the metric events), as
    the codec writes them: with or without their timestamps (msgspec skips the text
    unread), steps that may be null (``none``) or not (then no point needs looking at).
    """
    fields = [("key", str | list[str]), ("value", list[float]), ("step", list[_STEP | None] if none else list[_STEP])]
    if timed:
        fields.append(("timestamp", str | list[str]))
    return msgspec.defstruct("Columns", fields, forbid_unknown_fields=timed, gc=False)


#: (timed, steps maybe null) -> the type of stored columns; those whose steps are all integers
_COLUMNS = {(timed, none): _columns(timed, none) for timed in (True, False) for none in (True, False)}
_ALL_STEPPED = frozenset(_COLUMNS[(timed, False)] for timed in (True, False))


def _payloads(point: type, timed: bool) -> dict[tuple[str, int], type]:
    """
    The payload types holding points of type ``point`` (or stored as columns, steps maybe
    null), by event type and schema version: ``run.metrics_logged`` and
    ``version.metrics_logged`` (their run's or model's other fields ignored), and
    ``version.registered`` (its number and its points).
    """
    points = msgspec.defstruct("Points", [("points", list[point]), ("version", int | None, None)], gc=False)
    stored = msgspec.defstruct("Stored", [("points", _COLUMNS[(timed, True)]), ("version", int | None, None)],
                               gc=False)
    registered = msgspec.defstruct("Registered", [("version", int), ("metrics", list[point])], gc=False)
    return {(ev.RunMetricsLogged.type, 1): points, (ev.VersionMetricsLogged.type, 1): points,
            (ev.RunMetricsLogged.type, 2): stored, (ev.VersionMetricsLogged.type, 2): stored,
            (ev.VersionRegistered.type, 1): registered}


def _stepped(timed: bool, lenient: Any) -> Any:
    """
    A decoder of stored columns trying first the type whose steps are all integers (the
    usual payload: no step to replace), then ``lenient``.
    """
    strict = msgspec.json.Decoder(msgspec.defstruct(
        "Stepped", [("points", _COLUMNS[(timed, False)]), ("version", int | None, None)], gc=False)).decode

    def decode(payload: Any) -> Any:
        try:
            return strict(payload)
        except msgspec.ValidationError:
            return lenient(payload)

    return decode


#: timed (points with timestamps) -> (event type, schema version) -> payload type
_PAYLOADS = {timed: _payloads(_Point if timed else _Untimed, timed) for timed in (True, False)}
_DECODERS = {timed: {name: msgspec.json.Decoder(kind).decode for name, kind in types.items()}
             for timed, types in _PAYLOADS.items()}
for _timed, _decoders in _DECODERS.items():
    for _name in ((ev.RunMetricsLogged.type, 2), (ev.VersionMetricsLogged.type, 2)):
        _decoders[_name] = _stepped(_timed, _decoders[_name])
#: what a payload that is not plain, or not JSON msgspec reads, raises (the codec then reads it)
_REFUSED = (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError, OverflowError, KeyError)


def _extend(log: Any, stream: str, number: int | None, key: str, entry: _Entry, last: int) -> None:
    """
    Append to ``entry`` the points of ``key`` in stream versions ``entry.upto + 1`` to ``last``
    (their timestamps when ``entry.timed``).

    A backend with ``read_stream_payloads`` (the SQL one) hands over the stored JSON
    texts, which msgspec decodes straight into typed points (a tenth of decoding them as
    JSON objects first); any other gives its events. A payload not in the plain shape
    the codec writes goes through the codec.
    """
    stamps_of: dict[str, int] = {}
    raw = getattr(log, "read_stream_payloads", None)
    while entry.upto < last:
        upper = min(last, entry.upto + READ_CHUNK)
        rows = (raw(stream, entry.upto + 1, upper) if raw is not None else
                ((r.stream_version, r.type, r.schema_version, r.payload)
                 for r in log.read_stream(stream, entry.upto + 1, to_version=upper)))
        with closing(rows):
            _append(log, stream, number, key, entry, rows, stamps_of)
        entry.upto = upper


def _append(log: Any, stream: str, number: int | None, key: str, entry: _Entry, rows: Any,
            stamps_of: dict[str, int]) -> None:
    """
    :func:`_extend`'s work on one chunk of ``rows`` (stream version, type, schema version, payload).
    """
    fields = _RUN_TYPES if number is None else _VERSION_TYPES
    timed = entry.timed
    decoders, payloads = _DECODERS[timed], _PAYLOADS[timed]
    held = len(entry.values)
    for stream_version, type_, schema_version, payload in rows:
        field = fields.get(type_)
        if field is None:
            continue
        columns = None
        decoder = decoders.get((type_, schema_version))
        if decoder is not None:
            try:
                typed = (decoder(payload) if type(payload) in (str, bytes)
                         else msgspec.convert(payload, payloads[(type_, schema_version)]))
                if number is not None and typed.version != number:
                    continue
                parsed = stamps_of if timed else None
                columns = (_typed_columns(typed.metrics if field == "metrics" else typed.points, key, parsed)
                           if schema_version == 1 else _stored_columns(typed.points, key, parsed))
            except _REFUSED:
                columns = None
        if columns is None:  # not the plain shape: the codec reads it (upcasts, converts)
            recorded, = log.read_stream(stream, stream_version, to_version=stream_version)
            if number is not None and recorded.payload.get("version") != number:
                continue
            rows_of = [row for row in _point_rows(getattr(decode_recorded(recorded), field)) if row[0] == key]
            columns = ([r[1] for r in rows_of], [r[2] for r in rows_of],
                       array("q", [r[3] for r in rows_of]) if timed else None)
        values, steps, stamps = columns
        if not values:
            continue
        entry.values.fromlist(values)
        entry.steps.fromlist(steps)
        if stamps is not None:
            entry.stamps.extend(stamps)
        held += len(values)
        entry.marks.append(stream_version)
        entry.ends.append(held)


_KEY, _VALUE, _STEP, _STAMP = (operator.attrgetter(name) for name in ("key", "value", "step", "timestamp"))


def _typed_columns(points: list[Any], key: str,
                   stamps_of: dict[str, int] | None) -> tuple[list[float], list[int], array | None]:
    """
    The values, steps (lists) and microseconds (an array; None when ``stamps_of`` is None:
    points read without timestamps) of the points of ``key`` among typed points.

    Raises:
        ValueError, OverflowError: a timestamp or step the codec must judge.
    """
    keys = list(map(_KEY, points))
    chosen = points if keys.count(key) == len(keys) else [point for point in points if point.key == key]
    if not chosen:
        return [], [], None
    values = list(map(_VALUE, chosen))
    steps = list(map(_STEP, chosen))
    if NO_STEP in steps:
        raise ValueError("a step the codec refuses")
    if None in steps:
        steps = [NO_STEP if step is None else step for step in steps]
    if stamps_of is None:
        return values, steps, None
    return values, steps, _stamp_column(list(map(_STAMP, chosen)), stamps_of)


def _stamp_column(texts: list[str], stamps_of: dict[str, int]) -> array:
    """
    The microseconds of stored timestamps (``stamps_of``: those parsed already).

    Raises:
        ValueError, OverflowError: a timestamp the codec must judge.
    """
    first = texts[0]
    if texts.count(first) == len(texts):  # points logged together share one
        return array("q", [_micros_of(first, stamps_of)]) * len(texts)
    joined = "".join(texts)
    if len(joined) == _STAMP_WIDTH * len(texts) and _STAMPS.fullmatch(joined) is not None:
        return _parse_joined(texts)
    return array("q", [_micros_of(text, stamps_of) for text in texts])


def _stored_columns(columns: Any, key: str,
                    stamps_of: dict[str, int] | None) -> tuple[list[float], list[int], array | None]:
    """
    :func:`_typed_columns` of points stored as columns.

    Raises:
        ValueError, OverflowError: columns of unequal lengths, a timestamp or step the codec must judge.
    """
    keys, values, steps = columns.key, columns.value, columns.step
    count = len(values)
    if len(steps) != count or (type(keys) is not str and len(keys) != count):
        raise ValueError("columns of unequal lengths")
    chosen = None
    if type(keys) is str:
        if keys != key:
            return [], [], None
    elif keys.count(key) != count:
        chosen = [i for i, name in enumerate(keys) if name == key]
        values, steps = [values[i] for i in chosen], [steps[i] for i in chosen]
    if not values:
        return [], [], None
    if type(columns) not in _ALL_STEPPED and None in steps:  # no step: NO_STEP (msgspec refused a stored one)
        steps = [NO_STEP if step is None else step for step in steps]
    if stamps_of is None:
        return values, steps, None
    texts = columns.timestamp
    if type(texts) is str:
        return values, steps, array("q", [_micros_of(texts, stamps_of)]) * len(values)
    if len(texts) != count:
        raise ValueError("columns of unequal lengths")
    if chosen is not None:
        texts = [texts[i] for i in chosen]
    return values, steps, _stamp_column(texts, stamps_of)


#: the layout of the stored timestamps the codec writes, and its width
_STAMPS = re.compile(r"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:[0-5]\d\.\d{6}Z)*", re.ASCII)
_STAMP_WIDTH = 27


def _parse_joined(texts: list[str]) -> array:
    """
    The microseconds of timestamps of the layout :data:`_STAMPS` checks: each minute
    parsed once, the seconds and microseconds added (the same microseconds
    :func:`_micros` gives).

    Raises:
        ValueError: a timestamp of that layout is not a time (a month 13): the codec judges it.
    """
    minutes = {m: _micros(m + ":00Z") for m in {t[:16] for t in texts}}
    return array("q", [minutes[t[:16]] + int(t[17:19]) * 1_000_000 + int(t[20:26]) for t in texts])


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


def _selected(columns: tuple[array, array, array | None, _Entry], min_step: int | None,
              max_step: int | None) -> tuple[Any, Any, Any]:
    values, steps, stamps, entry = columns
    if min_step is None and max_step is None:
        return values, steps, stamps
    low = NO_STEP + 1 if min_step is None else min_step
    high = _ABOVE if max_step is None else max_step
    if _in_step_order(steps, entry):  # the range is a slice
        lo, hi = bisect_left(steps, low), bisect_right(steps, high)
        return values[lo:hi], steps[lo:hi], stamps[lo:hi] if stamps is not None else None
    keep = [i for i, step in enumerate(steps) if low <= step <= high]  # NO_STEP: outside every range
    return ([values[i] for i in keep], [steps[i] for i in keep],
            [stamps[i] for i in keep] if stamps is not None else None)


def _in_step_order(steps: Any, entry: _Entry) -> bool:
    """
    Whether every point of ``steps`` (some of ``entry``'s, in order) has a step, in
    non-decreasing order: at once when all of ``entry``'s are, which is checked once per
    point read (and kept on the entry).
    """
    if entry.ordered:
        have = entry.steps
        start, end = max(entry.checked - 1, 0), len(have)  # the entry only grows
        if entry.checked < end:
            import numpy as np

            part = np.frombuffer(have[start:end], dtype=np.int64)  # a copy: the entry's array may grow
            if (part == NO_STEP).any() or (part[1:] < part[:-1]).any():
                entry.ordered = False  # never set back: a thread checking other points races no one
            entry.checked = max(entry.checked, end)
        if entry.ordered:
            return True
    return NO_STEP not in steps and all(map(operator.le, steps, steps[1:]))


def _check_range(min_step: int | None, max_step: int | None) -> None:
    for name, value in (("min_step", min_step), ("max_step", max_step)):
        if value is not None and (type(value) is not int or not NO_STEP < value <= _ABOVE):
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
    values, steps, stamps = _selected(columns, min_step, max_step)
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
        return _cut([stats.value], [step], 1) if inside else []
    columns = cache_for(log).columns(log, stream, number, key, stats, stamps=False)
    entry, asked = columns[3], (len(columns[0]), count, min_step, max_step)
    memo = entry.memo
    if memo is not None and memo[0] == asked:
        return list(memo[1])
    values, steps, _ = _selected(columns, min_step, max_step)
    made = _cut(values, steps, min(count, len(values)))
    entry.memo = (asked, made)
    return list(made)


def _cut(values: Any, steps: Any, count: int) -> list[MetricBucket]:
    """
    ``values`` and their ``steps`` (arrays or lists, NO_STEP for none) cut into ``count``
    buckets of consecutive points, as even as can be (bucket ``b`` starts at point
    ``len * b // count``), each summarised with numpy (the arrays copied: the cache's own may grow).
    """
    import numpy as np

    total = len(values)
    if not count:
        return []
    values = np.array(values, dtype=np.float64)
    steps = np.array(steps, dtype=np.int64)
    starts = np.arange(count, dtype=np.int64) * total // count
    ends = np.append(starts[1:], total)
    lows = np.minimum.reduceat(np.where(steps == NO_STEP, _ABOVE, steps), starts).tolist()
    highs = np.maximum.reduceat(steps, starts).tolist()
    mins = np.fmin.reduceat(values, starts).tolist()  # NaN left out; NaN when all are
    maxs = np.fmax.reduceat(values, starts).tolist()
    lasts = values[ends - 1].tolist()
    return [MetricBucket(min_step=None if low == _ABOVE else low, max_step=None if high == NO_STEP else high,
                         count=size, min=lowest, max=highest, last=last)
            for low, high, size, lowest, highest, last
            in zip(lows, highs, (ends - starts).tolist(), mins, maxs, lasts)]
