"""
Equality of event and state fields that may hold NaN.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["nan_safe"]


def nan_safe(value: Any) -> Any:
    """
    An equality key under which NaN equals NaN (floats, and dicts/tuples of them).
    """
    if isinstance(value, float) and math.isnan(value):
        return ("<nan>",)
    if isinstance(value, dict):
        return {key: nan_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(nan_safe(item) for item in value)
    return value
