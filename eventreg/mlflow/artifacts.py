"""
MLflow's artifact repository for the URIs the eventreg stores hand out.

``eventreg+<log url>/-/runs/<run id>/artifacts[/<path>]`` is a run's artifacts: files
uploaded there go to eventreg's content-addressed store and are recorded on the run (an
``run.artifacts_logged`` event with each file's sha256), while the run is running.
``eventreg+<log url>/-/models/<name>/versions/<n>[/<path>]`` is a version's artifacts,
read-only. Every download is checked against the recorded digest before MLflow sees it.
"""

from __future__ import annotations

import os
import posixpath
from typing import Any

from mlflow.entities import FileInfo
from mlflow.store.artifact.artifact_repo import ArtifactRepository

import eventreg
from eventreg.artifacts import ArtifactStore, ManifestEntry
from eventreg.mlflow import _common
from eventreg.mlflow._common import translated, unsupported


class EventregArtifactRepository(ArtifactRepository):
    """
    Run and version artifacts of an eventreg log, as MLflow's ``ArtifactRepository``.
    """

    def __init__(self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        super().__init__(artifact_uri, tracking_uri, registry_uri)
        self.url = _common.log_url(artifact_uri)
        rest = artifact_uri.split(_common.SEP, 1)[1] if _common.SEP in artifact_uri else ""
        parts = [p for p in rest.split("/") if p]
        if len(parts) >= 3 and parts[0] == "runs" and parts[2] == "artifacts":
            self.kind, self.key, self.root = "run", parts[1], "/".join(parts[3:])
        elif len(parts) >= 4 and parts[0] == "models" and parts[2] == "versions":
            self.kind, self.key, self.root = "version", (parts[1], int(parts[3])), "/".join(parts[4:])
        else:
            raise unsupported(f"the artifact URI {artifact_uri!r}",
                              "expected .../-/runs/<id>/artifacts or .../-/models/<name>/versions/<n>")
        self.registry = _common.registry(self.url)
        self._store: ArtifactStore | None = None

    # -- reading ----------------------------------------------------------------------------

    def _entries(self) -> dict[str, Any]:
        with translated():
            if self.kind == "run":
                return self.registry.get_run(self.key).artifacts
            name, number = self.key
            return self.registry.get_version(name, number).artifacts

    def _full(self, path: str | None) -> str:
        return posixpath.join(self.root, path).strip("/") if path else self.root

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        base = self._full(path)
        prefix = base + "/" if base else ""
        entries = self._entries()
        if base in entries:
            return []  # a file, as MLflow's local repository answers
        seen: dict[str, FileInfo] = {}
        for full, entry in entries.items():
            if not full.startswith(prefix):
                continue
            head, sep, _ = full[len(prefix):].partition("/")
            rel = posixpath.join(path, head) if path else head
            seen.setdefault(rel, FileInfo(rel, bool(sep), None if sep else entry.size))
        return sorted(seen.values(), key=lambda f: f.path)

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        full = self._full(remote_file_path)
        entry = self._entries().get(full)
        if entry is None:
            raise _common.MlflowException(f"no artifact {full!r} in {self.artifact_uri}",
                                          _common.RESOURCE_DOES_NOT_EXIST)
        with translated():
            self._artifact_store().get_file(ManifestEntry(sha256=entry.sha256, size=entry.size), local_path,
                                            name=full)

    def _artifact_store(self) -> ArtifactStore:
        if self._store is None:
            self._store = ArtifactStore(self.registry.artifacts_url, **self.registry.artifact_options)
        return self._store

    # -- writing ----------------------------------------------------------------------------

    def _run(self) -> eventreg.ActiveRun:
        if self.kind != "run":
            raise unsupported("writing a model version's artifacts", "a version's files are fixed when it is "
                              "registered")
        with translated():
            run = self.registry.get_run(self.key)
        return eventreg.ActiveRun(self.registry, run.id, run.experiment, after_end=True)  # as MLflow allows

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        run = self._run()
        with translated():
            run.log_artifact(local_file, self._full(artifact_path) or None)

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        run = self._run()
        if not any(files for _, _, files in os.walk(local_dir)):
            return
        with translated():
            run.log_artifact(local_dir, self._full(artifact_path) or None)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        raise unsupported("deleting artifacts", "eventreg records every stored file and never forgets one")
