"""
A probe set: a few inputs stored with a model and the model's predictions on them.

Some model files are not byte-stable (a framework writes a timestamp or a random id into
them), so equal digests cannot prove a rebuilt model equal. ``run.log_model(model,
probe=X)`` stores ``X`` and ``model.predict(X)`` next to the model (``<path>-probe/
inputs.npy`` and ``predictions.npy``, numpy's format without pickles); a re-run by
``eventreg reproduce`` predicts on the *recorded* inputs, and :func:`compare` checks the
two predictions element by element, within a relative tolerance.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping
from typing import Any

from eventreg.errors import ValidationError

__all__ = ["compare", "load_inputs", "probe_path", "record_probe"]

INPUTS, PREDICTIONS = "inputs.npy", "predictions.npy"
#: Most rows a probe set may have (it is stored with every version).
MAX_ROWS = 10_000


def probe_path(model_path: str) -> str:
    """
    The artifact folder of the probe set of the model stored under ``model_path``.
    """
    return f"{model_path}-probe"


def _to_bytes(array: Any, what: str) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    try:
        np.save(buffer, np.asarray(array), allow_pickle=False)
    except ValueError as e:  # an object array
        raise ValidationError(f"the probe {what} must be a numeric, boolean or string array: {e}") from e
    return buffer.getvalue()


def _from_bytes(data: bytes) -> Any:
    import numpy as np

    return np.load(io.BytesIO(data), allow_pickle=False)


def _predict(model: Any, inputs: Any) -> Any:
    if hasattr(model, "predict"):
        return model.predict(inputs)
    if callable(model):
        return model(inputs)
    raise ValidationError(f"a probe set needs a model with predict() or a callable model, not {type(model).__name__}")


def record_probe(registry: Any, model: Any, probe: Any, model_path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """
    Store ``probe`` and the model's predictions on it; in a re-run by ``eventreg
    reproduce``, predict on the reproduced version's recorded inputs instead.

    Args:
        registry: the registry (its artifact store; the version being reproduced).
        model: the trained model (``predict(probe)``, or ``model(probe)``).
        probe: a numpy array, anything ``numpy.asarray`` takes, or a pandas DataFrame
            (its values are stored, and its column names to rebuild it).
        model_path: the model's artifact folder.

    Returns:
        The manifest entries (artifact path -> entry) and the probe's description for the
        model's info: ``{"path", "rows", "method", "columns"?}``.

    Raises:
        ValidationError: the probe is empty, too large, or not an array of numbers,
            booleans or strings; or the model cannot predict.
    """
    store = registry._artifact_store()
    probe = _recorded_inputs(registry, store, probe)
    columns = [str(c) for c in probe.columns] if hasattr(probe, "columns") and hasattr(probe, "to_numpy") else None
    values = probe.to_numpy() if columns is not None else probe
    inputs = _to_bytes(values, "inputs")
    rows = len(values)
    if not 0 < rows <= MAX_ROWS:
        raise ValidationError(f"a probe set holds 1 to {MAX_ROWS:,} rows, not {rows:,}")
    predictions = _to_bytes(_predict(model, probe), "predictions")
    folder = probe_path(model_path)
    entries = {f"{folder}/{INPUTS}": store.put_bytes(inputs), f"{folder}/{PREDICTIONS}": store.put_bytes(predictions)}
    info: dict[str, Any] = {"path": folder, "rows": rows, "method": "predict" if hasattr(model, "predict") else "call"}
    if columns is not None:
        info["columns"] = columns
    return entries, info


def _recorded_inputs(registry: Any, store: Any, given: Any) -> Any:
    """
    In a re-run, the probe inputs the reproduced version recorded; else ``given``.
    """
    from eventreg.artifacts import ManifestEntry
    from eventreg.capture import REPRODUCING_ENV

    of = os.environ.get(REPRODUCING_ENV)
    if not of:
        return given
    name, _, number = of.rpartition(":")
    version = registry.get_version(name, int(number))
    info = ((version.model_info or {}).get("flavor") or {}).get("probe")
    entry = version.artifacts.get(f"{info['path']}/{INPUTS}") if info else None
    if entry is None:
        return given
    return load_inputs(store, ManifestEntry(sha256=entry.sha256, size=entry.size), info)


def load_inputs(store: Any, entry: Any, info: Mapping[str, Any]) -> Any:
    """
    The recorded probe inputs (verified by digest), as a DataFrame again when they were one.
    """
    values = _from_bytes(store.get_bytes(entry))
    if info.get("columns"):
        try:
            import pandas as pd
        except ModuleNotFoundError:
            return values
        return pd.DataFrame(values, columns=list(info["columns"]))
    return values


def compare(original: bytes, reproduced: bytes, rtol: float) -> dict[str, Any]:
    """
    Compare two stored prediction arrays: equal shapes, then each element equal (numbers
    within ``rtol``, NaN equal to NaN; other kinds exactly).

    Returns:
        ``{"equal": bool, "rows": n, "mismatched": k, "max_abs_difference"?: x,
        "max_rel_difference"?: y, "detail"?: why}``.
    """
    import numpy as np

    a, b = _from_bytes(original), _from_bytes(reproduced)
    out: dict[str, Any] = {"rows": int(a.shape[0]) if a.ndim else 1}
    if a.shape != b.shape:
        return {**out, "equal": False, "mismatched": out["rows"], "detail": f"shape {a.shape} -> {b.shape}"}
    numeric = a.dtype.kind in "biuf" and b.dtype.kind in "biuf"
    if numeric:
        x, y = a.astype(np.float64), b.astype(np.float64)
        same = np.isclose(x, y, rtol=rtol, atol=0.0, equal_nan=True) if rtol else ((x == y) | (np.isnan(x) & np.isnan(y)))
        with np.errstate(invalid="ignore", divide="ignore"):
            diff = np.abs(x - y)
            finite = np.isfinite(diff)
            out["max_abs_difference"] = float(diff[finite].max()) if finite.any() else 0.0
            rel = diff / np.abs(x)
            rel_finite = rel[np.isfinite(rel)]
            out["max_rel_difference"] = float(rel_finite.max()) if rel_finite.size else 0.0
    else:
        same = a == b
    same = np.asarray(same)
    rows_same = same.reshape(same.shape[0], -1).all(axis=1) if same.ndim else np.array([bool(same)])
    mismatched = int((~rows_same).sum())
    out.update(equal=mismatched == 0, mismatched=mismatched)
    for key in ("max_abs_difference", "max_rel_difference"):
        if key in out and not math.isfinite(out[key]):
            out[key] = None
    return out
