"""
The full software environment of the process: every installed distribution, stored once.

:func:`current_environment` lists Python, the platform, every distribution
``importlib.metadata`` finds on ``sys.path`` (with the direct URL and archive hash pip and
uv record in ``direct_url.json``) and accelerator facts when torch or jax is already
imported. The document is canonical JSON; its sha256 is the environment's digest. The
answer is cached per process and recomputed only when ``sys.path`` or one of its folders
changes (installing a distribution touches its folder; the folders are looked at again
after :data:`PATH_CHECK_SECONDS`), so a run after the first pays little.
:func:`store_environment` puts the document in the content-addressed artifact store once
per digest; runs and versions record only a summary and the digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import threading
import time
from typing import Any

from eventreg.artifacts import ManifestEntry
from eventreg.errors import NotFound, ValidationError

__all__ = ["current_environment", "load_environment", "requirements", "store_environment"]

#: the document's format, part of what is hashed
FORMAT = 1

#: How long one process trusts the modification times of its ``sys.path`` folders
#: (seconds): a loop registering versions pays a ``stat`` per folder (~4 us each) once in
#: this time instead of on every call. A change of ``sys.path`` itself is seen at once.
PATH_CHECK_SECONDS = 1.0

_lock = threading.Lock()
_cached: tuple[tuple[Any, ...], dict[str, Any], bytes, str] | None = None
_stored: set[tuple[str, str]] = set()
#: ``(sys.path as a tuple, when its folders were stat'ed, the key they gave)``
_checked: tuple[tuple[str, ...], float, tuple[Any, ...]] | None = None


def _path_key() -> tuple[Any, ...]:
    """
    What invalidates the cache: ``sys.path`` and each of its folders' modification time
    (read again after :data:`PATH_CHECK_SECONDS`, or at once when ``sys.path`` changed).
    """
    global _checked
    paths = tuple(sys.path)
    moment = time.monotonic()
    checked = _checked
    if checked is not None and checked[0] == paths and moment - checked[1] < PATH_CHECK_SECONDS:
        return checked[2]
    key: list[Any] = []
    for entry in paths:
        try:
            key.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            key.append((entry, None))
    _checked = (paths, moment, tuple(key))
    return _checked[2]


def _direct_url(folder: str, item: dict[str, Any]) -> None:
    """
    Add what the installer recorded in ``direct_url.json`` (PEP 610) to ``item``.
    """
    try:
        with open(os.path.join(folder, "direct_url.json"), encoding="utf-8") as f:
            direct = json.load(f)
    except (OSError, ValueError):
        return
    if not isinstance(direct, dict) or not direct.get("url"):
        return
    item["direct_url"] = _without_credentials(str(direct["url"]))
    if (direct.get("dir_info") or {}).get("editable"):
        item["editable"] = True
    archive = direct.get("archive_info") or {}
    hashed = archive.get("hash") or next(iter(sorted((archive.get("hashes") or {}).items())), None)
    if hashed:
        item["hash"] = hashed if isinstance(hashed, str) else "=".join(hashed)
    vcs = direct.get("vcs_info") or {}
    if vcs.get("commit_id"):
        item["vcs_commit"] = vcs["commit_id"]


def _scan(entry: str) -> list[dict[str, Any]]:
    """
    The distributions installed in one ``sys.path`` folder, named as their metadata
    folders are (``name-version.dist-info``, PEP 427/491), so no METADATA file is
    parsed (that is what makes ``importlib.metadata`` slow: ~5 ms a distribution).
    """
    try:
        names = os.listdir(entry or ".")
    except OSError:
        return []
    found = []
    for folder in names:
        stem, dot, kind = folder.rpartition(".")
        if kind not in ("dist-info", "egg-info") or "-" not in stem:
            continue
        name, _, version = stem.partition("-")
        version = version.split("-", 1)[0]  # egg-info: name-version-pyX.Y
        item: dict[str, Any] = {"name": name, "version": version}
        if kind == "dist-info":
            _direct_url(os.path.join(entry or ".", folder), item)
        found.append(item)
    return found


def _accelerators() -> dict[str, Any]:
    """
    Facts about torch and jax devices, only when the process has imported them already.
    """
    facts: dict[str, Any] = {}
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            cuda = torch.cuda.is_available()
            facts["torch"] = {
                "version": str(torch.__version__),
                "cuda": getattr(torch.version, "cuda", None),
                "cuda_available": bool(cuda),
                "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
            }
        except Exception as e:  # noqa: BLE001 - a broken driver is a fact too
            facts["torch"] = {"error": f"{type(e).__name__}: {e}"[:200]}
    jax = sys.modules.get("jax")
    if jax is not None:
        try:
            facts["jax"] = {"version": str(jax.__version__),
                            "devices": sorted({f"{d.platform}:{getattr(d, 'device_kind', '')}" for d in jax.devices()})}
        except Exception as e:  # noqa: BLE001
            facts["jax"] = {"error": f"{type(e).__name__}: {e}"[:200]}
    return facts


def _build() -> dict[str, Any]:
    seen: dict[str, dict[str, Any]] = {}
    for entry in sys.path:
        for item in _scan(entry):
            key = item["name"].lower().replace("_", "-").replace(".", "-")
            seen.setdefault(key, item)  # the first on sys.path wins, as for imports
    return {
        "format": FORMAT,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": f"{platform.system()}-{platform.machine()}",
        "distributions": [seen[k] for k in sorted(seen)],
    }


def _canonical(document: dict[str, Any]) -> tuple[bytes, str]:
    data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return data, hashlib.sha256(data).hexdigest()


def current_environment() -> tuple[dict[str, Any], bytes, str]:
    """
    The process's environment document, its canonical JSON bytes and its sha256 (hex).

    Accelerator facts are added when torch or jax is imported (they are part of the digest).
    """
    global _cached
    key = _path_key()
    with _lock:
        if _cached is None or _cached[0] != key:
            document = _build()
            _cached = (key, document, *_canonical(document))
        _, base, data, digest = _cached
    accelerators = _accelerators()
    if not accelerators:
        return base, data, digest
    document = {**base, "accelerators": accelerators}
    return (document, *_canonical(document))


def store_environment(store: Any, data: bytes, digest: str) -> None:
    """
    Put an environment document in the artifact store unless it is there already.
    """
    key = (str(getattr(store, "url", id(store))), digest)
    if key in _stored:
        return
    if not store.exists(digest, len(data)):
        store.put_bytes(data, progress=False)
    _stored.add(key)


def summary(document: dict[str, Any], data: bytes, digest: str) -> dict[str, Any]:
    """
    What a run or version records about its environment: the digest and a few facts.
    """
    out: dict[str, Any] = {
        "digest": f"sha256:{digest}",
        "sha256": digest,  # with "size": an artifact reference, so `eventreg copy` carries the document
        "size": len(data),
        "distribution_count": len(document["distributions"]),
    }
    if document.get("accelerators"):
        out["accelerators"] = document["accelerators"]
    return out


def load_environment(store: Any, environment: dict[str, Any] | None) -> dict[str, Any]:
    """
    The full environment document a run's or version's ``environment`` refers to.

    Raises:
        NotFound: it records no environment digest (made before eventreg captured one,
            or with capture off).
    """
    digest = (environment or {}).get("digest")
    if not digest:
        raise NotFound("no full environment was recorded (capture was off, or it predates eventreg 0.x capture)")
    sha = digest.split(":", 1)[-1]
    data = store.get_bytes(ManifestEntry(sha256=sha, size=int(environment["size"])))  # type: ignore[index]
    return json.loads(data)


def requirements(document: dict[str, Any], fmt: str = "pip", *, skip: tuple[str, ...] = ()) -> str:
    """
    The environment as a requirements file (``pip`` or ``uv``: both install with
    ``pip install -r`` / ``uv pip install -r``; ``uv`` adds the Python to ask for).

    Distributions installed from a URL are written ``name @ url``; editable installs of
    local folders are written as comments (their folder is not portable).
    """
    if fmt not in ("pip", "uv"):
        raise ValidationError(f"format must be 'pip' or 'uv', not {fmt!r}")
    lines = [f"# environment: Python {document['python']} ({document['implementation']}), {document['platform']}"]
    if fmt == "uv":
        lines.append(f"# uv venv --python {document['python']} && uv pip install -r <this file>")
    skipped = {s.lower() for s in skip}
    for item in document["distributions"]:
        name, version = item["name"], item["version"]
        if name.lower() in skipped:
            continue
        url = item.get("direct_url")
        if item.get("editable") or (url and url.startswith("file:") and not item.get("hash")):
            lines.append(f"# {name}=={version} (installed from {url}{', editable' if item.get('editable') else ''})")
        elif url and not url.startswith("file:"):
            lines.append(f"{name} @ {url}")
        else:
            lines.append(f"{name}=={version}")
    return "\n".join(lines) + "\n"


def _without_credentials(url: str) -> str:
    from eventreg.environment import _without_credentials as strip

    return strip(url)
