"""
Metric histories shaped for the browser's charts, read as buckets (the registry's
``get_metric_buckets`` / ``get_run_metric_buckets``), never as whole histories: at most
:data:`MAX_POINTS` points per series with the exact number of recorded points.

A history (or a step range of it, when the chart is zoomed) of at most ``MAX_POINTS``
points is sent whole: every bucket then holds one or two consecutive points, whose steps
and values the bucket gives exactly. A longer one is cut into ``MAX_POINTS // 2`` buckets
and each is drawn as its lowest and highest point (so a spike survives), at the first and
last step of the bucket; the buckets holding the series' lowest and highest points are
read again at full resolution, so those two are drawn at their exact steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

#: most points sent per series
MAX_POINTS = 5000

#: ``read(buckets=..., min_step=..., max_step=...)`` -> MetricBucket-like objects
Read = Callable[..., Sequence[Any]]


def series(label: str, read: Read, *, min_step: int | None = None, max_step: int | None = None,
           limit: int = MAX_POINTS, source: str | None = None) -> dict[str, Any]:
    """
    One chart series of a metric (the points with a step in ``[min_step, max_step]``
    when a bound is given).

    The x axis is the step (a point's index in the order logged when it has none);
    non-finite values are sent as null (a gap). Returns ``{"label", "count", "x", "y",
    "sampled", "source"}``: ``count`` is how many points were recorded, ``x``/``y`` what
    is drawn, ``source`` the URL that answers a step range of this series (for zoom).
    """
    buckets = list(read(buckets=max(1, limit // 2), min_step=min_step, max_step=max_step))
    count = sum(b.count for b in buckets)
    if count <= limit:
        points = _exact(buckets)
    else:
        points = _min_max(buckets)
        for extreme in _extremes(buckets):
            exact = _exact_extreme(read, extreme, limit)
            if exact:  # the bucket's two points, now at their own steps
                points.pop(extreme.min_step, None)
                points.pop(extreme.max_step, None)
                points.update(exact)
    xs = sorted(points)
    return {"label": label, "count": count, "x": xs, "y": [points[x] for x in xs], "sampled": count > len(xs),
            "source": source}


def _finite(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def _exact(buckets: Sequence[Any]) -> dict[Any, float | None]:
    """
    Every point of buckets of one or two consecutive points: step -> value.
    """
    points: dict[Any, float | None] = {}
    index = 0
    for b in buckets:
        if b.count == 1:
            points[b.min_step if b.min_step is not None else index] = _finite(b.last)
        else:  # two points: the last is ``last``, the first the other extreme
            first = b.min if b.last == b.max else b.max
            start = b.min_step if b.min_step is not None else index
            end = b.max_step if b.max_step is not None else index + 1
            points[start] = _finite(first)
            points[end] = _finite(b.last)
        index += b.count
    return points


def _min_max(buckets: Sequence[Any]) -> dict[Any, float | None]:
    """
    Each bucket's lowest and highest value at its first and last step (in the order they
    came: the extreme equal to the bucket's last value is drawn last).
    """
    points: dict[Any, float | None] = {}
    index = 0
    for b in buckets:
        start = b.min_step if b.min_step is not None else index
        end = b.max_step if b.max_step is not None else index + b.count - 1
        if b.count == 1 or start == end:
            points[start] = _finite(b.max if b.last == b.max else b.last)
        elif b.last == b.min:
            points[start], points[end] = _finite(b.max), _finite(b.min)
        else:
            points[start], points[end] = _finite(b.min), _finite(b.max)
        index += b.count
    return points


def _extremes(buckets: Sequence[Any]) -> list[Any]:
    """
    The buckets holding the lowest and the highest finite value (with steps).
    """
    found = [b for b in buckets if b.min_step is not None and _finite(b.min) is not None and _finite(b.max) is not None]
    if not found:
        return []
    return [min(found, key=lambda b: b.min), max(found, key=lambda b: b.max)]


def _exact_extreme(read: Read, bucket: Any, limit: int) -> dict[Any, float | None]:
    """
    ``bucket``'s lowest and highest point at their own steps (its step range re-read at
    full resolution; empty when that range holds too many points).
    """
    points = list(read(buckets=limit, min_step=bucket.min_step, max_step=bucket.max_step))
    if any(p.count != 1 or p.min_step is None for p in points):
        return {}
    lowest = next((p for p in points if p.last == bucket.min), None)
    highest = next((p for p in points if p.last == bucket.max), None)
    if lowest is None or highest is None:
        return {}
    return {lowest.min_step: _finite(lowest.last), highest.min_step: _finite(highest.last)}
