"""
Recording a training run: the :class:`ActiveRun` handle that ``Registry.start_run`` returns.

Each call validates its input, then goes through the registry's one command path
(catch up, decide, append with the run stream's expected version), so a run's events
are ordered and a run that has ended takes no more.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventreg.domain import events as ev
from eventreg.domain import validation as check
from eventreg.domain.events import ArtifactEntry, MetricPoint
from eventreg.domain.state import FAILED, FINISHED, KILLED, RUN_END_STATUSES
from eventreg.domain.views import Run
from eventreg.environment import framework_of
from eventreg.errors import ValidationError
from eventreg.log import now

if TYPE_CHECKING:
    from eventreg.registry import Registry


def _points(metrics: Mapping[str, Any], step: Any, timestamp: datetime | None = None) -> list[MetricPoint]:
    if not isinstance(metrics, Mapping):
        raise ValidationError(f"metrics must be a mapping, not {type(metrics).__name__}")
    step = check.check_step(step)
    stamp = timestamp or now()
    return [MetricPoint(key=check.check_name(k, "metric key"), value=check.check_metric_value(k, v),
                        step=step, timestamp=stamp) for k, v in metrics.items()]


def _chunks(points: list[MetricPoint]) -> list[tuple[MetricPoint, ...]]:
    size = check.MAX_METRIC_POINTS_PER_EVENT
    return [tuple(points[i:i + size]) for i in range(0, len(points), size)]


class ActiveRun:
    """
    A run being recorded; returned by :meth:`Registry.start_run`.
    """

    def __init__(self, registry: Registry, run_id: str, experiment: str) -> None:
        self.registry = registry
        self.id = run_id
        self.experiment = experiment

    def __repr__(self) -> str:
        return f"<ActiveRun {self.id} experiment={self.experiment!r}>"

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc_type is None:
            self.end(FINISHED)
        elif issubclass(exc_type, KeyboardInterrupt):
            self.end(KILLED, error=exc_type.__name__)
        else:
            message = f"{exc_type.__name__}: {exc}" if str(exc) else exc_type.__name__
            self.end(FAILED, error=message[: check.MAX_REASON_LENGTH])

    @property
    def info(self) -> Run:
        """
        The run as recorded now.
        """
        return self.registry.get_run(self.id)

    def log_param(self, key: str, value: Any) -> None:
        """
        Record a hyperparameter (str, int, float, bool or None).
        """
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """
        Record several hyperparameters in one event.

        Raises:
            ValidationError: a key was logged before with a different value (params
                describe the run and do not change), or a limit is exceeded.
        """
        params = check.check_params(params)

        def build(run: Any) -> list[Any]:
            for key, value in params.items():
                if key in run.params and not _same(run.params[key], value):
                    raise ValidationError(
                        f"param {key!r} was already logged as {run.params[key]!r}; params cannot change"
                    )
            if len(set(run.params) | set(params)) > check.MAX_PARAMS:
                raise ValidationError(f"run {run.run_id!r} would have more than {check.MAX_PARAMS:,} params")
            return [ev.RunParamsLogged(run_id=run.run_id, params=params)] if params else []

        self.registry._run_command(self.id, build)

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """
        Record a metric value (NaN allowed), optionally at a training step.
        """
        self.log_metrics({key: value}, step=step)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """
        Record several metric values in one append.
        """
        points = _points(metrics, step)
        self.registry._run_command(
            self.id, lambda run: [ev.RunMetricsLogged(run_id=run.run_id, points=c) for c in _chunks(points)]
        )

    def set_tag(self, key: str, value: Any) -> None:
        """
        Set a tag of the run.
        """
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """
        Set several tags of the run in one event.
        """
        tags = check.check_tags(tags)
        self.registry._run_command(self.id, lambda run: [ev.RunTagsSet(run_id=run.run_id, tags=tags)] if tags else [])

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """
        Store a file (or a folder's files) in the artifact store and record it on the run.

        Args:
            path: the local file or folder.
            artifact_path: a folder name to put it under in the run's artifacts.
        """
        prefix = _artifact_prefix(artifact_path)
        entries = self.registry._store_path(path, prefix)
        self.registry._run_command(self.id, lambda run: [ev.RunArtifactsLogged(run_id=run.run_id, artifacts=entries)])

    def log_model(self, model: Any, artifact_path: str = "model", *, flavor: str | None = None) -> None:
        """
        Save a model object with its framework's flavor and record it as the run's model.

        Args:
            model: the trained object (a scikit-learn estimator, ...).
            artifact_path: the folder in the run's artifacts.
            flavor: force a flavor instead of detecting it.
        """
        from eventreg.flavors import store_model

        prefix = _artifact_prefix(artifact_path) or "model"
        manifest, info = store_model(self.registry._artifact_store(), model, prefix, flavor=flavor)
        entries = {path: ArtifactEntry(sha256=e.sha256, size=e.size) for path, e in manifest.items()}
        info = check.check_json_blob({k: v for k, v in info.items() if k != "path"}, "flavor info") or {}
        framework = framework_of(model)
        if framework and "module" not in info:
            info = {**info, "module": framework}
        self.registry._run_command(self.id, lambda run: [ev.RunModelLogged(
            run_id=run.run_id, path=prefix, flavor=info, artifacts=entries)])

    def end(self, status: str = FINISHED, *, error: str | None = None) -> None:
        """
        End the run with ``status`` (FINISHED, FAILED or KILLED); ending twice changes nothing.
        """
        if status not in RUN_END_STATUSES:
            raise ValidationError(f"status must be one of {', '.join(RUN_END_STATUSES)}, not {status!r}")
        self.registry._end_run(self.id, status, error)


def _artifact_prefix(artifact_path: str | None) -> str | None:
    if artifact_path is None or artifact_path.strip("/") == "":
        return None
    parts = artifact_path.strip("/").split("/")
    return "/".join(check.check_name(part, "artifact path part") for part in parts)


def _same(a: Any, b: Any) -> bool:
    """
    Whether two param values are the same (NaN is NaN; True is not 1).
    """
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)
