"""
What a version records about where it was made: Python, key packages, and the git commit.

:func:`capture_environment` lists the Python version and the installed versions of numpy,
eventreg, the model's framework and any well-known ML library already imported by the
process. :func:`capture_code` asks ``git`` for the repository, commit and dirty flag of
the working directory; outside a checkout (or without git) it quietly returns None.
"""

from __future__ import annotations

import functools
import inspect
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from urllib.parse import urlsplit, urlunsplit

#: Import names of ML libraries recorded when the process has imported them.
KNOWN_FRAMEWORKS = (
    "sklearn", "torch", "tensorflow", "keras", "xgboost", "lightgbm", "catboost",
    "jax", "transformers", "pandas", "scipy", "joblib", "onnx", "statsmodels",
)
#: Always recorded when installed.
ALWAYS = ("numpy", "eventreg")
#: How long a git answer for one folder is reused, in seconds (git costs ~10 ms a call).
GIT_CACHE_SECONDS = 2.0


def distributions_of(import_name: str) -> tuple[str, ...]:
    """
    The installed distributions that provide the top-level import ``import_name``
    (``"sklearn"`` -> ``("scikit-learn",)``), or ``()``.

    Read from each distribution's ``top_level.txt`` or, when it has none, inferred from the
    top-level names of its installed files, as :func:`importlib.metadata.packages_distributions`
    does from Python 3.11 on. Python 3.10's reads ``top_level.txt`` only, which wheels built
    without setuptools (scikit-learn, numpy) do not ship: it found no distribution for them.
    """
    return _import_names().get(import_name, ())


@functools.lru_cache(maxsize=1)
def _import_names() -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for dist in metadata.distributions():
        try:
            name = dist.metadata["Name"]
            tops = (dist.read_text("top_level.txt") or "").split() or _inferred_tops(dist)
        except Exception:  # pragma: no cover - broken metadata
            continue
        for top in dict.fromkeys(tops):
            if name and name not in found.setdefault(top, []):
                found[top].append(name)
    return {top: tuple(names) for top, names in found.items()}


def _inferred_tops(dist: metadata.Distribution) -> list[str]:
    tops = []
    for file in dist.files or ():
        parts = file.parts
        if parts[0] in ("..", "/") or parts[0].endswith((".dist-info", ".egg-info", ".data")):
            continue
        top = parts[0] if len(parts) > 1 else inspect.getmodulename(parts[0])
        if top and "." not in top and top != "__pycache__":
            tops.append(top)
    return tops


@functools.lru_cache(maxsize=None)
def _distribution_of(import_name: str) -> str | None:
    names = distributions_of(import_name)
    return names[0] if names else None


@functools.lru_cache(maxsize=None)
def package_version(import_name: str) -> str | None:
    """
    The installed version of the distribution providing ``import_name``, or None.
    """
    for name in (import_name, _distribution_of(import_name)):
        if not name:
            continue
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def capture_environment(frameworks: tuple[str, ...] = ()) -> dict[str, Any]:
    """
    Python version, platform and versions of key packages.

    Args:
        frameworks: import names of the model's framework(s), e.g. ``("sklearn",)``; they
            are recorded even if not imported yet.

    Returns:
        ``{"python": "3.11.7", "platform": "Linux-x86_64", "packages": {"numpy": "2.4.6", ...}}``
        with package keys as import names.
    """
    present = tuple(name for name in KNOWN_FRAMEWORKS if name in sys.modules)
    base = _environment(tuple(frameworks), present)
    return {**base, "packages": dict(base["packages"])}


@functools.lru_cache(maxsize=256)
def _environment(frameworks: tuple[str, ...], present: tuple[str, ...]) -> dict[str, Any]:
    """
    What :func:`capture_environment` answers for these frameworks (asked once a process).

    Package versions are read once a process anyway (:func:`package_version`); this
    saves rebuilding the answer on every registered version.
    """
    names = list(ALWAYS) + [f for f in frameworks if f] + list(present)
    packages = {}
    for name in dict.fromkeys(names):
        version = package_version(name)
        if version is not None:
            packages[name] = version
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": f"{platform.system()}-{platform.machine()}",
        "packages": packages,
    }


def framework_of(obj: Any) -> str | None:
    """
    The top-level import name of the library an object's class comes from (``sklearn``).
    """
    module = type(obj).__module__ or ""
    top = module.split(".", 1)[0]
    return None if top in ("builtins", "__main__", "") else top


_git_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}


def capture_code(path: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """
    The git repository, commit and dirty flag of ``path`` (default: the working directory).

    Returns:
        ``{"repo": <remote URL without credentials, or the folder>, "commit": <sha>,
        "branch": <name or None>, "dirty": bool}``, or None outside a git checkout or
        when git is not installed.
    """
    folder = str(Path(path or os.getcwd()).resolve())
    cached = _git_cache.get(folder)
    now = time.monotonic()
    if cached is not None and now - cached[0] < GIT_CACHE_SECONDS:
        return cached[1]
    result = _ask_git(folder)
    _git_cache[folder] = (now, result)
    return result


def _git(folder: str, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, timeout=10,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _ask_git(folder: str) -> dict[str, Any] | None:
    top = _git(folder, "rev-parse", "--show-toplevel")
    if not top:
        return None
    commit = _git(folder, "rev-parse", "--verify", "-q", "HEAD")  # None before the first commit
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    branch = _git(folder, "symbolic-ref", "-q", "--short", "HEAD")
    remote = _git(folder, "config", "--get", "remote.origin.url")
    return {
        "repo": _without_credentials(remote) if remote else top,
        "commit": commit,
        "branch": branch or None,
        "dirty": bool(status),
    }


def _without_credentials(url: str) -> str:
    """
    A remote URL without any ``user:token@`` part (tokens often sit in the user name).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable remote>"
    if not parts.scheme or "@" not in parts.netloc:
        return url  # scp-like git@host:path has no secret
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
