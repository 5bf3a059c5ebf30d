"""
Fingerprints of the data a run trained on: files and folders (any fsspec URL), pandas or
polars DataFrames and numpy arrays.

A file's digest is the sha256 of its bytes. A folder's is the sha256 of its manifest, the
sorted lines ``<relative path>\\t<sha256>\\t<size>``, so it changes when any byte, name or
file does. For object-store prefixes of more than :data:`ETAG_MANIFEST_FILES` files the
bytes are not read: the manifest lists each object's ETag instead of its sha256
(``"method": "etag-manifest"``). An ETag changes whenever an object is rewritten, but a
multipart upload's ETag depends on the part size, so the same bytes uploaded differently
give another digest: such a digest proves "unchanged", never "different".
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from eventreg.errors import NotFound, ValidationError

__all__ = ["ETAG_MANIFEST_FILES", "fingerprint", "file_digest"]

#: Object-store prefixes with more files than this get an ETag manifest digest.
ETAG_MANIFEST_FILES = 1000
_CHUNK = 1 << 20


def _sha256_of(fs: Any, path: str) -> str:
    h = hashlib.sha256()
    with fs.open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def file_digest(path: str | os.PathLike[str]) -> str:
    """
    ``sha256:<hex>`` of a local file's bytes.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return f"sha256:{h.hexdigest()}"


def _etag(info: dict[str, Any]) -> str | None:
    for key in ("ETag", "etag", "md5Hash", "content_md5"):
        value = info.get(key)
        if value:
            return str(value).strip('"')
    return None


def _of_location(source: str, storage_options: dict[str, Any] | None) -> dict[str, Any]:
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(source, **(storage_options or {}))
    except (ImportError, ValueError) as e:
        raise ValidationError(f"cannot open dataset {source!r}: {e}") from e
    local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
    fs.invalidate_cache(path)  # a listing cached by an earlier call may predate a change
    uri = str(Path(path).resolve()) if local else source
    if not fs.exists(path):
        raise NotFound(f"no dataset at {source!r}")
    if not fs.isdir(path):
        size = fs.size(path)
        return {"kind": "file", "uri": uri, "digest": f"sha256:{_sha256_of(fs, path)}",
                "size": size, "files": 1, "method": "content"}
    found = fs.find(path, detail=True)
    base = path.rstrip("/") + "/"
    infos = sorted((name[len(base):] if name.startswith(base) else name, info) for name, info in found.items())
    use_etags = not local and len(infos) > ETAG_MANIFEST_FILES and all(_etag(i) for _, i in infos)
    lines = []
    total = 0
    for rel, info in infos:
        size = int(info.get("size") or 0)
        total += size
        mark = _etag(info) if use_etags else _sha256_of(fs, info.get("name", base + rel))
        lines.append(f"{rel}\t{mark}\t{size}\n")
    digest = hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()
    return {"kind": "folder", "uri": uri, "digest": f"sha256:{digest}", "size": total, "files": len(infos),
            "method": "etag-manifest" if use_etags else "content"}


def _of_pandas(frame: Any) -> dict[str, Any]:
    import pandas as pd

    h = hashlib.sha256()
    h.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode("utf-8"))
    h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return {"kind": "dataframe", "library": "pandas", "digest": f"sha256:{h.hexdigest()}",
            "rows": int(len(frame)), "schema": {str(c): str(t) for c, t in frame.dtypes.items()},
            "method": "pandas.util.hash_pandas_object (index included) + column names and dtypes"}


def _of_polars(frame: Any) -> dict[str, Any]:
    h = hashlib.sha256()
    schema = {str(c): str(t) for c, t in frame.schema.items()}
    h.update(json.dumps(list(schema.items())).encode("utf-8"))
    h.update(frame.hash_rows(seed=0).to_numpy().tobytes())
    return {"kind": "dataframe", "library": "polars", "digest": f"sha256:{h.hexdigest()}",
            "rows": int(frame.height), "schema": schema,
            "method": "polars DataFrame.hash_rows(seed=0) + column names and dtypes"}


def _of_array(array: Any) -> dict[str, Any]:
    import numpy as np

    data = np.ascontiguousarray(array)
    h = hashlib.sha256()
    h.update(f"{data.dtype.str}{data.shape}".encode())
    h.update(data.tobytes())
    return {"kind": "array", "library": "numpy", "digest": f"sha256:{h.hexdigest()}",
            "rows": int(data.shape[0]) if data.ndim else 1, "schema": {"dtype": data.dtype.str, "shape": list(data.shape)},
            "size": int(data.nbytes), "method": "sha256 of dtype, shape and C-order bytes"}


def fingerprint(source: Any, *, storage_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """
    What identifies ``source``: kind, digest, size, file count or schema and row count.

    Raises:
        NotFound: a path or URL that does not exist.
        ValidationError: a source of a type eventreg cannot fingerprint.
    """
    if isinstance(source, (str, os.PathLike)):
        return _of_location(os.fspath(source), storage_options)
    module = type(source).__module__.split(".", 1)[0]
    if module == "pandas" and hasattr(source, "dtypes"):
        return _of_pandas(source)
    if module == "polars" and hasattr(source, "hash_rows"):
        return _of_polars(source)
    if module == "numpy" and hasattr(source, "dtype"):
        return _of_array(source)
    raise ValidationError(
        f"cannot fingerprint a {type(source).__name__}: give a path or URL, a pandas or polars DataFrame, "
        "or a numpy array")
