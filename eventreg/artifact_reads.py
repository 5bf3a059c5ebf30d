"""
Reading a view's artifacts: downloads, verified files and model objects.

Composed into :class:`~eventreg.view.RegistryView` (and so into the registry and its
``as_of`` views) like governance and webhooks: each read answers from the view it is
given, so a view of the past downloads what that version held then.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

from eventreg.domain.queries import VersionRef
from eventreg.domain.references import ModelReference
from eventreg.domain.views import ModelVersion
from eventreg.errors import ConfigurationError, NotFound

__all__ = ["ARTIFACT_READS", "ArtifactReads", "manifest_of"]

#: The reads this module answers for a view (and the registry).
ARTIFACT_READS = ("download", "open_artifact", "open_run_artifact", "load_model")


class ArtifactReads:
    """
    The artifact reads of one view (``view._artifact_store`` gives its store).
    """

    def __init__(self, view: Any) -> None:
        self._view = view

    def _store(self) -> Any:
        if self._view._artifact_store is None:
            raise ConfigurationError("this view was built without an artifact store; read through Registry.as_of")
        return self._view._artifact_store()

    def download(self, model: str, version: VersionRef, dest: str | Path) -> Path:
        """
        Download a version's artifacts into ``dest`` (each file checked against its digest).

        Returns:
            The destination folder.

        Raises:
            NotFound: the model or version does not exist.
            ArtifactIntegrityError: a stored file does not match its recorded digest.
        """
        found = self._view.get_version(model, version)
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        self._store().download(manifest_of(found.artifacts), dest)
        return dest

    def open_artifact(self, model: str, version: VersionRef, path: str) -> BinaryIO:
        """
        One artifact of a version as a binary file, its bytes checked against the
        recorded sha256 before it is returned (nothing unverified is handed out).

        Use it as a context manager: ``with reg.open_artifact("iris", 3, "model.pkl") as f:``.

        Raises:
            NotFound: the model, the version or an artifact at ``path`` does not exist.
            ArtifactIntegrityError: the stored bytes do not match the recorded digest.
        """
        found = self._view.get_version(model, version)
        return self._open_entry(found.artifacts, path, f"version {found.version} of {found.name!r}")

    def open_run_artifact(self, run_id: str, path: str) -> BinaryIO:
        """
        One artifact of a run as a binary file, verified as :meth:`open_artifact` does.

        Raises:
            NotFound: the run or an artifact at ``path`` does not exist.
            ArtifactIntegrityError: the stored bytes do not match the recorded digest.
        """
        return self._open_entry(self._view.get_run(run_id).artifacts, path, f"run {run_id!r}")

    def _open_entry(self, entries: Any, path: str, owner: str) -> BinaryIO:
        from eventreg.artifacts import ManifestEntry

        entry = entries.get(path)
        if entry is None:
            raise NotFound(f"{owner} has no artifact {path!r}")
        return self._store().open(ManifestEntry(sha256=entry.sha256, size=entry.size), name=path)

    def load_model(self, reference: str | ModelReference | ModelVersion) -> Any:
        """
        Load the model object of a version, e.g. ``load_model("models:/iris@production")``.

        The files are checked against their recorded digests before anything is unpickled.

        Raises:
            NotFound: the version does not exist or has no logged model.
            ArtifactIntegrityError: a stored file does not match its recorded digest.
        """
        from eventreg.flavors import fetch_model

        found = reference if isinstance(reference, ModelVersion) else self._view.resolve(reference)
        if not found.model_info:
            raise NotFound(f"version {found.version} of {found.name!r} has no logged model")
        info = {**found.model_info["flavor"], "path": found.model_info["path"]}
        return fetch_model(self._store(), manifest_of(found.artifacts), info)


def manifest_of(entries: Any) -> Any:
    """
    The :class:`~eventreg.artifacts.Manifest` of recorded artifact entries.
    """
    from eventreg.artifacts import Manifest

    return Manifest.from_json({path: {"sha256": e.sha256, "size": e.size} for path, e in entries.items()})
