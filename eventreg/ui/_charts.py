"""
Metric histories shaped for the browser's charts: sorted by step, at most
:data:`MAX_POINTS` points per series (each bucket's minimum and maximum kept, so spikes
survive), with the exact number of recorded points.

Built over the public metric-history API; the store may later answer this itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: most points sent per series
MAX_POINTS = 5000


def series(label: str, points: Sequence[Any], *, limit: int = MAX_POINTS) -> dict[str, Any]:
    """
    One chart series from ``points`` (MetricPoint-like: ``step``, ``value``).

    The x axis is the step (the point's index when it has none); non-finite values are
    sent as null (a gap). Returns ``{"label", "count", "x", "y", "sampled"}`` where
    ``count`` is how many points were recorded and ``x``/``y`` what is drawn.
    """
    xs = [p.step if p.step is not None else i for i, p in enumerate(points)]
    ys = [p.value if isinstance(p.value, (int, float)) and math.isfinite(p.value) else None for p in points]
    if any(xs[i] > xs[i + 1] for i in range(len(xs) - 1)):
        order = sorted(range(len(xs)), key=xs.__getitem__)
        xs = [xs[i] for i in order]
        ys = [ys[i] for i in order]
    count = len(xs)
    if count > limit:
        xs, ys = _min_max(xs, ys, max(1, limit // 2))
    return {"label": label, "count": count, "x": xs, "y": ys, "sampled": count > len(xs)}


def _min_max(xs: list[Any], ys: list[Any], buckets: int) -> tuple[list[Any], list[Any]]:
    """
    ``buckets`` equal slices of the points; from each, its lowest and highest point in
    step order (one point when they coincide or the slice has no value).
    """
    n = len(xs)
    out_x: list[Any] = []
    out_y: list[Any] = []
    for b in range(buckets):
        lo, hi = n * b // buckets, n * (b + 1) // buckets
        if lo >= hi:
            continue
        found = [i for i in range(lo, hi) if ys[i] is not None]
        if not found:
            out_x.append(xs[lo])
            out_y.append(None)
            continue
        low = min(found, key=ys.__getitem__)
        high = max(found, key=ys.__getitem__)
        for i in sorted({low, high}):
            out_x.append(xs[i])
            out_y.append(ys[i])
    return out_x, out_y

