"""
Datasets as lineage: what ``register_version(data=...)`` accepts and how a run's logged
datasets join the version's ``data`` record.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

__all__ = ["data_record", "with_run_datasets"]


def _is_source(value: Any) -> bool:
    if isinstance(value, os.PathLike):
        return True
    module = type(value).__module__.split(".", 1)[0]
    return module in ("pandas", "polars", "numpy") and (hasattr(value, "dtypes") or hasattr(value, "dtype")
                                                        or hasattr(value, "hash_rows"))


def _name_of(source: Any, index: int) -> str:
    if isinstance(source, (str, os.PathLike)):
        name = os.path.basename(os.fspath(source).rstrip("/"))
        if name:
            return name
    return f"dataset-{index}"


def data_record(data: Any) -> Any:
    """
    ``data`` as recorded: a list of sources (paths, URLs, DataFrames, arrays) becomes
    ``{"datasets": {name: fingerprint}}``; in a mapping, values that are DataFrames,
    arrays or ``PathLike`` objects, and every value of its ``"datasets"`` mapping that
    is not already a mapping, are fingerprinted; anything else is kept as given.
    """
    from eventreg.capture.datasets import fingerprint

    if data is None:
        return None
    if isinstance(data, (list, tuple)):
        datasets = {}
        for i, source in enumerate(data):
            datasets[_name_of(source, i)] = {"name": _name_of(source, i), **fingerprint(source)}
        return {"datasets": datasets}
    if not isinstance(data, Mapping):
        if _is_source(data) or isinstance(data, str):
            return data_record([data])
        return data
    out = {}
    for key, value in data.items():
        if key == "datasets" and isinstance(value, Mapping):
            out[key] = {name: (v if isinstance(v, Mapping) else {"name": name, **fingerprint(v)})
                        for name, v in value.items()}
        elif _is_source(value):
            out[key] = fingerprint(value)
        else:
            out[key] = value
    return out


def with_run_datasets(data: Any, datasets: Mapping[str, Any]) -> Any:
    """
    The version's ``data`` with the run's logged datasets under ``"datasets"`` (those
    given to ``register_version`` win on a name clash).
    """
    if not datasets:
        return data
    if data is None:
        return {"datasets": dict(datasets)}
    if not isinstance(data, Mapping):
        return {"datasets": dict(datasets), "given": data}
    given = data.get("datasets")
    merged = {**datasets, **(given if isinstance(given, Mapping) else {})}
    return {**data, "datasets": merged}
