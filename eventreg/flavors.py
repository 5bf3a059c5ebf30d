"""
Model flavors: how a Python model object becomes files, and files become the object again.

A *flavor* is four things: a name, ``detect(obj) -> bool``, ``save(obj, dest_dir) -> dict``
and ``load(src_dir, info) -> obj``. Two are built in:

- ``sklearn`` for scikit-learn style estimators (anything with ``fit`` and ``predict``
  or ``transform``, scikit-learn's own classes included), saved with joblib, or with
  pickle when joblib is not installed;
- ``pickle`` for any other picklable object (the fallback).

Other frameworks add theirs with :func:`register_flavor`; the newest registration is
tried first. :func:`save_model` returns the *flavor info* to record with the version
(flavor, serializer, file, class, Python and library versions); :func:`load_model` reads
it back. :func:`store_model` and :func:`fetch_model` do the same through an
:class:`~eventreg.artifacts.ArtifactStore`; ``fetch_model`` downloads with verification
into a private temporary folder first, so no unverified byte is ever unpickled.
"""

from __future__ import annotations

import importlib
import os
import pickle
import platform
import tempfile
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs

from eventreg.artifacts import ArtifactStore, Manifest, normalize_artifact_path
from eventreg.environment import distributions_of
from eventreg.errors import ConfigurationError, UnsafePath, ValidationError

#: Version of the flavor-info layout written by :func:`save_model`.
FORMAT = 1


@attrs.frozen
class Flavor:
    """
    A registered way of saving and loading models.
    """

    name: str
    detect: Callable[[Any], bool]
    save: Callable[[Any, Path], dict[str, Any]]
    load: Callable[[Path, dict[str, Any]], Any]


_FLAVORS: dict[str, Flavor] = {}


def register_flavor(name: str, detect: Callable[[Any], bool], save: Callable[[Any, Path], dict[str, Any]],
                    load: Callable[[Path, dict[str, Any]], Any]) -> Flavor:
    """
    Add (or replace) a flavor; it is tried before those registered earlier.

    Args:
        name: recorded in the version, e.g. ``"keras"``.
        detect: whether an object is of this flavor (used when no flavor is named).
        save: write the object into the (empty) folder given; return JSON-able extra
            info to record, e.g. ``{"file": "model.keras"}``.
        load: read the object back from a folder holding those files and the info.

    Returns:
        The :class:`Flavor`.

    Raises:
        ValidationError: the name is empty or not an identifier-like string.
    """
    if not isinstance(name, str) or not name or not name.replace("-", "_").replace(".", "_").isidentifier():
        raise ValidationError(f"flavor name must be identifier-like text, not {name!r}")
    flavor = Flavor(name, detect, save, load)
    _FLAVORS.pop(name, None)
    _FLAVORS[name] = flavor
    return flavor


def flavors() -> list[str]:
    """
    The registered flavor names, in the order they are tried.
    """
    return list(reversed(_FLAVORS))


def detect_flavor(obj: Any) -> str:
    """
    The name of the first flavor (newest first) whose ``detect`` accepts ``obj``.

    Raises:
        ValidationError: no flavor accepts it.
    """
    for name in flavors():
        if _FLAVORS[name].detect(obj):
            return name
    raise ValidationError(f"no model flavor handles {_qualname(type(obj))}; register one with register_flavor()")


# -- saving and loading ---------------------------------------------------------------------


def save_model(obj: Any, dest_dir: str | os.PathLike[str], flavor: str | None = None) -> dict[str, Any]:
    """
    Write ``obj`` into ``dest_dir`` with its flavor; return the flavor info to record.

    Args:
        obj: the model object.
        dest_dir: a folder (created if missing; should be empty).
        flavor: a registered flavor name; by default the first that detects ``obj``.

    Returns:
        JSON-able info: ``flavor``, ``format``, ``class``, ``python``, ``libraries``
        (distribution -> version) and what the flavor adds (``serializer``, ``file`` ...).

    Raises:
        ValidationError: the flavor is unknown or the object cannot be saved with it.
    """
    name = flavor or detect_flavor(obj)
    chosen = _FLAVORS.get(name)
    if chosen is None:
        raise ValidationError(f"unknown model flavor {name!r} (registered: {', '.join(flavors())})")
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        extra = chosen.save(obj, dest)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        raise ValidationError(f"cannot save {_qualname(type(obj))} as flavor {name!r}: {e}") from e
    info = {
        "flavor": name,
        "format": FORMAT,
        "class": _qualname(type(obj)),
        "python": platform.python_version(),
        "libraries": _library_versions(type(obj)),
    }
    info.update(extra or {})
    return info


def load_model(src_dir: str | os.PathLike[str], info: dict[str, Any]) -> Any:
    """
    Read a model back from a folder written by :func:`save_model`.

    This unpickles what is in ``src_dir``: call it only on files you trust or have
    verified (:func:`fetch_model` does that for you). A library whose installed version
    differs from the recorded one gives a warning.

    Raises:
        ConfigurationError: the recorded flavor is not registered in this process.
        ValidationError: the info is not flavor info.
    """
    if not isinstance(info, dict) or not isinstance(info.get("flavor"), str):
        raise ValidationError("flavor info must be a dict with a 'flavor' name")
    flavor = _FLAVORS.get(info["flavor"])
    if flavor is None:
        raise ConfigurationError(
            f"model flavor {info['flavor']!r} is not registered here (registered: {', '.join(flavors())}); "
            "import the package that registers it or call register_flavor()")
    _warn_on_version_drift(info.get("libraries") or {})
    return flavor.load(Path(src_dir), info)


def store_model(store: ArtifactStore, obj: Any, path: str = "model", *, flavor: str | None = None,
                progress: bool | None = None) -> tuple[Manifest, dict[str, Any]]:
    """
    Save ``obj`` and put its files into ``store`` under the folder ``path``.

    Returns:
        The manifest (paths under ``path/``) and the flavor info (with ``"path"``).
    """
    folder = normalize_artifact_path(path)
    with tempfile.TemporaryDirectory(prefix="eventreg-model-") as tmp:
        info = save_model(obj, tmp, flavor=flavor)
        manifest = store.put_tree(tmp, prefix=folder, progress=progress)
    info["path"] = folder
    return manifest, info


def fetch_model(store: ArtifactStore, manifest: Manifest, info: dict[str, Any], *,
                progress: bool | None = None) -> Any:
    """
    Load the model recorded by ``manifest`` and ``info`` from ``store``.

    Its files are downloaded into a private temporary folder and checked against the
    manifest (size and sha256) before anything is unpickled.

    Raises:
        ArtifactIntegrityError: a file is missing or changed; nothing was loaded.
        ValidationError: the manifest holds no files under the model's path.
    """
    folder = normalize_artifact_path(info.get("path", "model"))
    files = Manifest((p, e) for p, e in manifest.items() if p.startswith(folder + "/"))
    if not files:
        raise ValidationError(f"the manifest holds no files under {folder!r}")
    with tempfile.TemporaryDirectory(prefix="eventreg-model-") as tmp:
        store.download(files, tmp, progress=progress)  # errors name the manifest's paths
        return load_model(Path(tmp, *folder.split("/")), info)


# -- built-in flavors ------------------------------------------------------------------------


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _library_versions(cls: type, extra: tuple[str, ...] = ("numpy", "scipy", "joblib")) -> dict[str, str]:
    """
    Versions of the distribution that defines ``cls`` and of common numeric libraries.
    """
    names = list(distributions_of(cls.__module__.split(".")[0]))
    if cls.__module__.split(".")[0] not in {"builtins", "__main__"}:
        names += [d for d in extra if d not in names]
    out = {}
    for dist in names:
        version = _version(dist)
        if version is not None:
            out[dist] = version
    return out


def _warn_on_version_drift(recorded: dict[str, str]) -> None:
    drift = [f"{dist} {version} (now {_version(dist) or 'not installed'})"
             for dist, version in sorted(recorded.items()) if _version(dist) != version]
    if drift:
        warnings.warn("model was saved with " + ", ".join(drift), UserWarning, stacklevel=3)


def _model_file(src_dir: Path, info: dict[str, Any]) -> Path:
    rel = normalize_artifact_path(info.get("file", ""))
    path = (src_dir / rel).resolve()
    if src_dir.resolve() not in path.parents:
        raise UnsafePath(f"model file {rel!r} is outside the model folder")
    return path


def _joblib() -> Any:
    try:
        return importlib.import_module("joblib")
    except ImportError:
        return None


def _save_serialized(obj: Any, dest: Path) -> dict[str, Any]:
    joblib = _joblib()
    if joblib is not None:
        joblib.dump(obj, dest / "model.joblib")
        return {"serializer": "joblib", "file": "model.joblib"}
    with open(dest / "model.pkl", "wb") as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
    return {"serializer": "pickle", "file": "model.pkl"}


def _save_pickle(obj: Any, dest: Path) -> dict[str, Any]:
    with open(dest / "model.pkl", "wb") as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
    return {"serializer": "pickle", "file": "model.pkl"}


def _load_serialized(src: Path, info: dict[str, Any]) -> Any:
    path = _model_file(src, info)
    serializer = info.get("serializer")
    if serializer == "joblib":
        joblib = _joblib()
        if joblib is None:
            raise ConfigurationError("this model was saved with joblib: pip install joblib")
        return joblib.load(path)
    if serializer == "pickle":
        with open(path, "rb") as f:
            return pickle.load(f)
    raise ValidationError(f"unknown serializer {serializer!r} in flavor info")


def _is_sklearn_style(obj: Any) -> bool:
    if isinstance(obj, type):
        return False
    module = type(obj).__module__.split(".")[0]
    if module == "sklearn":
        return True
    return callable(getattr(obj, "fit", None)) and (
        callable(getattr(obj, "predict", None)) or callable(getattr(obj, "transform", None)))


register_flavor("pickle", lambda obj: True, _save_pickle, _load_serialized)
register_flavor("sklearn", _is_sklearn_style, _save_serialized, _load_serialized)


__all__ = [
    "FORMAT",
    "Flavor",
    "detect_flavor",
    "fetch_model",
    "flavors",
    "load_model",
    "register_flavor",
    "save_model",
    "store_model",
]
