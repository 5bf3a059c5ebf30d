"""
``import_mlflow``: copy an MLflow store into an eventreg registry, as events.

Experiments, runs (params, full metric histories with their steps and timestamps, tags,
artifacts, logged models), registered models, versions (with their files), stages and
aliases are written through eventreg's public API, so the result reads the same through
eventreg's MLflow plugin stores as it does in MLflow. A run keeps its start and end time
and every metric point its timestamp; events are recorded as the MLflow user who did it
(a run's ``user_id``, a version's ``user_id``; else the importing actor).

Idempotent and resumable: each imported run carries its MLflow run id in the tag
``eventreg.mlflow.run_id`` (on its ``run.started`` event), each version its MLflow
version number in ``eventreg.mlflow.version``. A second import finds them and adds
nothing; an import that was killed finds the run it was writing and completes it (the
params, metric points, tags and files it does not hold yet), then goes on.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
from mlflow.exceptions import MlflowException

import eventreg
from eventreg.config import resolve_settings
from eventreg.errors import BackendUnavailable, NotFound
from eventreg.mlflow import _common
from eventreg.mlflow._source import MlflowSource
from eventreg.mlflow.registry_store import MODEL_ID, RUN_ID, RUN_LINK, SOURCE
from eventreg.mlflow.tracking_store import LOGGED_MODEL_TAG

__all__ = ["RUN_TAG", "VERSION_TAG", "ImportSummary", "import_mlflow"]

#: Run tag holding the MLflow run id an imported run came from.
RUN_TAG = "eventreg.mlflow.run_id"
#: Version tag holding the MLflow version number an imported version came from.
VERSION_TAG = "eventreg.mlflow.version"
#: What MLflow cannot give an import, said at the end of every import.
LIMITS = (
    "alias history starts at the import: MLflow keeps only the version each alias points at now",
    "registered models and versions deleted in MLflow are gone there and cannot be imported",
    "experiment ids are eventreg's own numbers; runs get eventreg ids (the MLflow id is the run tag "
    f"{RUN_TAG})",
    "experiments, models, versions and aliases are recorded at the time of the import (runs and metric "
    "points keep their MLflow times)",
)
_STATUS_OF_STAGE = {"Staging": "STAGING", "Production": "PRODUCTION", "Archived": "ARCHIVED"}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: Metric points written per append by an import.
_POINTS_PER_APPEND = 10_000


@attrs.define
class ImportSummary:
    """
    What an import wrote and what it found already imported.
    """

    experiments: int = 0
    runs: int = 0
    runs_completed: int = 0
    metric_points: int = 0
    files: int = 0
    models: int = 0
    versions: int = 0
    aliases: int = 0
    skipped: int = 0
    #: what MLflow could not provide, and anything the import left out (with why)
    notes: list[str] = attrs.field(factory=list)

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def import_mlflow(source: str, *, to: str | None = None, artifacts: str | None = None,
                  registry_uri: str | None = None, artifacts_from: str | None = None,
                  actor: str | None = None, progress: Callable[[str], None] | None = None) -> ImportSummary:
    """
    Import an MLflow store into the eventreg registry at ``to``.

    Args:
        source: MLflow's tracking URI (``sqlite:///mlflow.db``, a tracking server ...).
        to: the eventreg log URL (default ``EVENTREG_URL``, else ``sqlite:///./eventreg.db``).
        artifacts: eventreg's artifact store (default: where the MLflow plugin looks for
            this log: ``EVENTREG_ARTIFACTS``, else ``eventreg-artifacts`` beside a SQLite file).
        registry_uri: MLflow's registry URI, if not the tracking URI.
        artifacts_from: a folder now holding the MLflow store's artifact root (moved files).
        actor: who acts when MLflow names no user (default ``EVENTREG_ACTOR``, else the OS user).
        progress: called with one line per imported item.

    Returns:
        An :class:`ImportSummary`.

    Raises:
        NotFound: the MLflow store, or one of its artifacts, does not exist.
        ConfigurationError: a URI cannot be used.
        BackendUnavailable: MLflow could not read the store.
    """
    try:
        return _import(source, to, artifacts, registry_uri, artifacts_from, actor, progress)
    except MlflowException as e:
        raise BackendUnavailable(f"MLflow could not read {source!r}: {e.message}") from e


def _import(source: str, to: str | None, artifacts: str | None, registry_uri: str | None,
            artifacts_from: str | None, actor: str | None, progress: Callable[[str], None] | None) -> ImportSummary:
    src = MlflowSource(source, registry_uri, artifacts_from)
    url = _common.log_url(_common.PREFIX + resolve_settings(to)[0])
    if artifacts is None:
        artifacts = _common.artifacts_url(url)
    say = progress or (lambda line: None)
    with _Writers(url, artifacts, actor) as writers:
        summary = ImportSummary()
        _Import(src, writers, summary, say).run()
        summary.notes[:0] = list(LIMITS)
        return summary


class _Writers:
    """
    One registry per actor on the target log, opened on first use.
    """

    def __init__(self, url: str, artifacts: str | None, actor: str | None) -> None:
        self.url, self.artifacts = url, artifacts
        self.default = eventreg.open(url, artifacts=artifacts, actor=actor)
        self._by_actor: dict[str, eventreg.Registry] = {self.default.actor: self.default}

    def as_(self, actor: str | None) -> eventreg.Registry:
        if not actor:
            return self.default
        found = self._by_actor.get(actor)
        if found is None:
            found = self._by_actor[actor] = eventreg.open(self.url, artifacts=self.artifacts, actor=actor)
        return found

    def __enter__(self) -> _Writers:
        return self

    def __exit__(self, *exc: Any) -> None:
        for reg in self._by_actor.values():
            reg.close()


@attrs.define
class _Import:
    src: MlflowSource
    writers: _Writers
    summary: ImportSummary
    say: Callable[[str], None]
    #: MLflow run id -> eventreg run id
    runs: dict[str, str] = attrs.field(factory=dict)
    #: MLflow logged-model id -> (eventreg run id, model folder name)
    logged: dict[str, tuple[str, str]] = attrs.field(factory=dict)

    @property
    def reg(self) -> eventreg.Registry:
        return self.writers.default

    def run(self) -> None:
        imported = {r.tags.get(RUN_TAG): r for r in self.reg.search_runs(deleted=None) if RUN_TAG in r.tags}
        for experiment in self.src.experiments():
            self._experiment(experiment, imported)
        for model in self.src.registered_models():
            self._model(model)

    # -- tracking ---------------------------------------------------------------------------

    def _experiment(self, e: Any, imported: dict[str, Any]) -> None:
        existing = {x.name: x for x in self.reg.list_experiments(deleted=None)}
        target = existing.get(e.name)
        if target is None:
            self.reg.create_experiment(e.name, tags=dict(e.tags))
            self.summary.experiments += 1
            self.say(f"experiment {e.name}")
        else:
            missing = {k: v for k, v in e.tags.items() if k not in target.tags}
            for k, v in missing.items():
                self.reg.set_experiment_tag(e.name, k, v)
        models = {}
        for m in self.src.logged_models(e.experiment_id):
            models.setdefault(m.source_run_id, []).append(m)
        for run in self.src.runs(e.experiment_id):
            self._run(e.name, run, imported.get(run.info.run_id), models.get(run.info.run_id, []))
        now = {x.name: x for x in self.reg.list_experiments(deleted=None)}[e.name]
        if e.lifecycle_stage == "deleted" and not now.deleted:
            self.reg.delete_experiment(e.name, reason="deleted in MLflow (import)")

    def _run(self, experiment: str, src: Any, found: Any, models: list[Any]) -> None:
        info = src.info
        reg = self.writers.as_(info.user_id)
        done = found is not None and found.status != "RUNNING"  # a running one may have grown: add what is new
        if found is None:
            active = reg.start_run(experiment, name=info.run_name, tags={**src.data.tags, RUN_TAG: info.run_id},
                                   code=None, capture="off", started_at=_moment(info.start_time))
            found = reg.get_run(active.id)
            self.summary.runs += 1
            self.say(f"run {info.run_name or info.run_id} ({info.run_id})")
        elif not done and info.status != "RUNNING":
            self.summary.runs_completed += 1
            self.say(f"run {info.run_name or info.run_id} ({info.run_id}): completing an interrupted import")
        self.runs[info.run_id] = found.id
        run_id = self.runs[info.run_id]
        for m in models:
            self.logged[m.model_id] = (run_id, m.name)
        if done:
            self.summary.skipped += 1
        else:
            self._complete(reg, experiment, src, found, models)
        ours = next(x for x in reg.list_experiments(deleted=None) if x.name == experiment)
        if info.lifecycle_stage == "deleted" and run_id not in ours.deleted_run_ids:
            reg.delete_run(run_id, reason="deleted in MLflow (import)")

    def _complete(self, reg: eventreg.Registry, experiment: str, src: Any, found: Any, models: list[Any]) -> None:
        info, data = src.info, src.data
        run_id = self.runs[info.run_id]
        active = eventreg.ActiveRun(reg, run_id, experiment)
        params = {k: v for k, v in data.params.items() if k not in found.params}
        if params:
            active.log_params(params)
        tags = {k: v for k, v in data.tags.items() if found.tags.get(k) != v}
        if tags:
            active.set_tags(tags)
        for key in sorted(data.metrics):
            have = len(reg.get_run_metric_history(run_id, key)) if key in found.metrics else 0
            points = self.src.metric_history(info.run_id, key)[have:]
            # many points per append, each append all or nothing: a killed import leaves a
            # prefix of the key's history, and the next one adds the rest
            with active.metric_buffer(max_points=_POINTS_PER_APPEND, max_seconds=3600) as buffer:
                for p in points:
                    buffer.log_metrics({key: p.value}, step=int(p.step or 0), timestamp=_moment(p.timestamp))
            self.summary.metric_points += len(points)
        with tempfile.TemporaryDirectory(prefix="eventreg-import-") as tmp:
            files = self.src.download(info.artifact_uri, f"{tmp}/run") if info.artifact_uri else None
            if files is not None:
                self._log_files(active, found, files, None)
            for m in models:
                if f"{m.name}/MLmodel" not in found.artifacts:
                    folder = self.src.download(m.artifact_location, f"{tmp}/{m.model_id}")
                    if folder is not None:
                        self._log_files(active, found, folder, m.name)
                record = {"status": str(m.status), "type": m.model_type, "created": m.creation_timestamp,
                          "tags": dict(m.tags or {}), "params": dict(m.params or {})}
                tag = LOGGED_MODEL_TAG + m.name
                if tag not in found.tags:
                    active.set_tag(tag, json.dumps(record, sort_keys=True))
        if info.status != "RUNNING":
            active.end(info.status if info.status in ("FINISHED", "FAILED", "KILLED") else "FINISHED",
                       ended_at=_moment(info.end_time))

    def _log_files(self, active: eventreg.ActiveRun, found: Any, folder: str, prefix: str | None) -> None:
        from pathlib import Path

        files = [p for p in Path(folder).rglob("*") if p.is_file()]
        rels = [(f"{prefix}/" if prefix else "") + p.relative_to(folder).as_posix() for p in files]
        if all(r in found.artifacts for r in rels):
            return
        active.log_artifact(folder, prefix)
        self.summary.files += len(files)

    # -- registry ---------------------------------------------------------------------------

    def _model(self, m: Any) -> None:
        reg = self.reg
        try:
            target = reg.get_model(m.name)
        except NotFound:
            target = reg.create_model(m.name, description=m.description or None, tags=dict(m.tags))
            self.summary.models += 1
            self.say(f"model {m.name}")
        for k, v in m.tags.items():
            if target.tags.get(k) != v:
                reg.set_model_tag(m.name, k, v)
        numbers: dict[str, int] = {}
        for v in reg.list_versions(m.name):
            if VERSION_TAG in v.tags:
                numbers[v.tags[VERSION_TAG]] = v.version
        for mv in self.src.versions(m.name):
            key = str(mv.version)
            if key in numbers:
                self.summary.skipped += 1
            else:
                numbers[key] = self._version(m.name, mv)
            self._stage(m.name, numbers[key], mv.current_stage)
        current = reg.get_model(m.name).aliases
        for alias, version in sorted((m.aliases or {}).items()):
            number = numbers.get(str(version))
            if number is not None and current.get(alias) != number:
                reg.promote(m.name, number, alias=alias, reason="alias imported from MLflow", force=True)
                self.summary.aliases += 1
                self.say(f"alias {m.name}@{alias} -> version {number}")

    def _version(self, name: str, mv: Any) -> int:
        reg = self.writers.as_(mv.user_id)
        run_id = self.runs.get(mv.run_id) if mv.run_id else None
        tags = {**dict(mv.tags), VERSION_TAG: str(mv.version)}
        if mv.run_link:
            tags[RUN_LINK] = mv.run_link
        description = mv.description or None
        source = mv.source or ""
        found = getattr(mv, "model_id", None) or (source[len("models:/"):] if source.startswith("models:/m-") else "")
        logged = self.logged.get(found)
        if logged is not None and logged[0] == run_id:  # MLflow 3: the logged model, in its run
            tags[SOURCE] = f"runs:/{run_id}/{logged[1]}"
            tags[MODEL_ID] = f"m-{logged[0]}-{logged[1]}"  # the id the tracking store gives a run's model
            version = reg.register_version(name, run=run_id, code=None, description=description, tags=tags)
        elif run_id is not None and (mv.source or "").startswith(f"runs:/{mv.run_id}/"):
            tags[SOURCE] = f"runs:/{run_id}/{mv.source.split('/', 2)[2]}"
            version = reg.register_version(name, run=run_id, code=None, description=description, tags=tags)
        else:  # files elsewhere: downloaded and stored with the version
            tags[SOURCE] = mv.source or ""
            if mv.run_id and run_id is None:
                tags[RUN_ID] = mv.run_id
            with tempfile.TemporaryDirectory(prefix="eventreg-import-") as tmp:
                folder = self.src.download(self.src.version_uri(name, mv.version), f"{tmp}/v")
                version = reg.register_version(name, run=run_id, artifacts=folder, code=None,
                                               description=description, tags={k: v for k, v in tags.items() if v})
        self.summary.versions += 1
        self.say(f"version {name} {mv.version}" + ("" if version.version == int(mv.version)
                                                   else f" (eventreg version {version.version})"))
        if version.version != int(mv.version):
            self.summary.notes.append(f"{name}: MLflow version {mv.version} is eventreg version {version.version}")
        return version.version

    def _stage(self, name: str, number: int, stage: str | None) -> None:
        status = _STATUS_OF_STAGE.get(stage or "")
        if status is not None and self.reg.get_version(name, number).status != status:
            self.reg.set_version_stage(name, number, status)


def _moment(ms: Any) -> datetime | None:
    return None if ms is None else _EPOCH + int(ms) * timedelta(milliseconds=1)
