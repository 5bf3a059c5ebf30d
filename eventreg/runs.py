"""
Recording a training run: the :class:`ActiveRun` handle that ``Registry.start_run`` returns.

Each call validates its input, then goes through the registry's one command path
(catch up, decide, append with the run stream's expected version), so a run's events
are ordered and a run that has ended takes no more.
"""

from __future__ import annotations

import atexit
import sys
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventreg.artifacts import normalize_artifact_path
from eventreg.capture import reproducing
from eventreg.domain import events as ev
from eventreg.domain import validation as check
from eventreg.domain.entities import FAILED, FINISHED, KILLED, RUN_END_STATUSES, RUNNING
from eventreg.domain.events import ArtifactEntry, MetricPoint
from eventreg.domain.queries import _run, check_label_free
from eventreg.domain.views import ModelVersion, Run
from eventreg.environment import framework_of
from eventreg.errors import InvalidTransition, NotFound, ValidationError
from eventreg.log import now
from eventreg.writer import Plan

if TYPE_CHECKING:
    from eventreg.registry import Registry


def _points(metrics: Mapping[str, Any], step: Any, timestamp: datetime | None = None) -> list[MetricPoint]:
    if not isinstance(metrics, Mapping):
        raise ValidationError(f"metrics must be a mapping, not {type(metrics).__name__}")
    step = check.check_step(step)
    stamp = timestamp or now()
    return [MetricPoint(key=check.check_metric_key(k), value=check.check_metric_value(k, v),
                        step=step, timestamp=stamp) for k, v in metrics.items()]


def run_command(registry: Registry, run_id: str, build: Callable[[Any], list[Any]], *,
                after_end: bool = False) -> None:
    """
    Append what ``build(run)`` returns to a running run's stream (through the registry's
    writer); with ``after_end``, also to a run that has ended (MLflow's semantics).

    Raises:
        NotFound: there is no such run.
        InvalidTransition: the run has ended (and not ``after_end``), or is deleted.
    """
    def decide(state: Any) -> Plan:
        run = _run(state, run_id)
        if run.status != RUNNING and not after_end:
            raise InvalidTransition(f"run {run_id!r} has ended ({run.status})")
        if run.run_id in state.experiments[run.experiment].deleted_runs:
            raise InvalidTransition(f"run {run_id!r} is deleted (restore_run brings it back)")
        return Plan(ev.run_stream(run_id), build(run))

    registry._execute(decide)


def end_run(registry: Registry, run_id: str, status: str, error: str | None,
            ended_at: datetime | None = None) -> None:
    """
    Record the end of a run (at ``ended_at`` if it ended earlier); ending twice changes nothing.
    """
    def decide(state: Any) -> Plan:
        run = _run(state, run_id)
        if run.status != RUNNING:
            return Plan(ev.run_stream(run_id), [])
        return Plan(ev.run_stream(run_id), [ev.RunFinished(run_id=run_id, status=status, error=error,
                                                           ended_at=ended_at)])

    registry._execute(decide)


def _chunks(points: list[MetricPoint]) -> list[tuple[MetricPoint, ...]]:
    size = check.MAX_METRIC_POINTS_PER_EVENT
    return [tuple(points[i:i + size]) for i in range(0, len(points), size)]


class ActiveRun:
    """
    A run being recorded; returned by :meth:`Registry.start_run`.
    """

    def __init__(self, registry: Registry, run_id: str, experiment: str, *,
                 registered_model_name: str | None = None, label: str | None = None,
                 after_end: bool = False) -> None:
        self.registry = registry
        self.id = run_id
        self.experiment = experiment
        #: whether this handle logs to the run also after it ended, as MLflow allows
        #: (eventreg's own handles refuse: a finished run's record is complete)
        self.after_end = after_end
        #: the model and label ``log_model`` registers a version under by default
        self.registered_model_name = registered_model_name
        self.label = label
        self._buffers: weakref.WeakSet[MetricBuffer] = weakref.WeakSet()

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

        run_command(self.registry, self.id, build, after_end=self.after_end)

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """
        Record a metric value (NaN allowed), optionally at a training step.
        """
        self.log_metrics({key: value}, step=step)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None, *,
                    timestamp: datetime | None = None) -> None:
        """
        Record several metric values in one append.

        Args:
            metrics: ``{key: value}``.
            step: the training step, or None.
            timestamp: when the values were measured, if not now (a timezone-aware
                ``datetime``; an import or a client with its own clock); history shows it.
        """
        points = _points(metrics, step, check.check_moment(timestamp, "timestamp"))
        run_command(
            self.registry, self.id, lambda run: [ev.RunMetricsLogged(run_id=run.run_id, points=c) for c in _chunks(points)],
            after_end=self.after_end,
        )

    def metric_buffer(self, *, max_points: int = 10_000, max_seconds: float = 5.0) -> MetricBuffer:
        """
        A buffer for a training loop's metrics: points are written many per append.

        It writes when it holds ``max_points`` points, when ``max_seconds`` have passed
        since its oldest unwritten point (checked on each call), on ``flush()``, on
        leaving its ``with`` block, when the run ends, and when the process exits
        normally; so no point is lost unless the process is killed.

        Raises:
            ValidationError: a bound is not positive.
        """
        buffer = MetricBuffer(self, max_points=max_points, max_seconds=max_seconds)
        self._buffers.add(buffer)
        return buffer

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
        run_command(self.registry, self.id, lambda run: [ev.RunTagsSet(run_id=run.run_id, tags=tags)] if tags else [],
                    after_end=self.after_end)

    def delete_tag(self, key: str) -> None:
        """
        Remove a tag from the run.

        Raises:
            NotFound: the run has no such tag.
        """
        def build(run: Any) -> list[Any]:
            if key not in run.tags:
                raise NotFound(f"run {run.run_id!r} has no tag {key!r}")
            return [ev.RunTagDeleted(run_id=run.run_id, key=key)]

        run_command(self.registry, self.id, build, after_end=self.after_end)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """
        Store a file (or a folder's files) in the artifact store and record it on the run.

        Args:
            path: the local file or folder.
            artifact_path: a folder name to put it under in the run's artifacts.
        """
        prefix = _artifact_prefix(artifact_path)
        entries = self.registry._store_path(path, prefix)
        run_command(self.registry, self.id, lambda run: [ev.RunArtifactsLogged(run_id=run.run_id, artifacts=entries)],
                    after_end=self.after_end)

    def log_dataset(self, source: Any, name: str | None = None, *, context: str | None = None,
                    storage_options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """
        Record the fingerprint of data the run uses; it becomes lineage of the version.

        Args:
            source: a local or fsspec path or URL (file or folder), a pandas or polars
                DataFrame, or a numpy array (see :mod:`eventreg.capture.datasets`).
            name: the dataset's name in the run (default: the file or folder name).
            context: what it was used for, e.g. ``"train"``, ``"test"``.
            storage_options: passed to fsspec for a remote URL.

        Returns:
            The recorded fingerprint (kind, ``digest``, size, files or schema and rows).

        Raises:
            NotFound: no file or folder at ``source``.
            ValidationError: a source that cannot be fingerprinted, or a bad name.
        """
        from eventreg.capture.datasets import fingerprint
        from eventreg.capture.lineage import _name_of
        from eventreg.domain.repro_events import RunDatasetLogged

        name = check.check_name(name if name is not None else _name_of(source, 0), "dataset name")
        context = check.check_text(context, "context", check.MAX_NAME_LENGTH)
        found = fingerprint(source, storage_options=dict(storage_options or {}))
        record = {"name": name, **({"context": context} if context else {}), **found}
        code = self.info.code or {}
        if found.get("uri") and code.get("root"):
            root = Path(code["root"])
            try:
                record["path"] = Path(found["uri"]).relative_to(root).as_posix()
            except ValueError:
                pass
        record = check.check_json_blob(record, "dataset") or {}
        run_command(self.registry, self.id, lambda run: [RunDatasetLogged(run_id=run.run_id, name=name, dataset=record)],
                    after_end=self.after_end)
        return record

    def log_model(self, model: Any, artifact_path: str = "model", *, flavor: str | None = None,
                  registered_model_name: str | None = None, label: str | None = None,
                  probe: Any = None) -> ModelVersion | None:
        """
        Save a model object with its framework's flavor and record it as the run's model.

        Args:
            model: the trained object (a scikit-learn estimator, ...).
            artifact_path: the folder in the run's artifacts.
            flavor: force a flavor instead of detecting it.
            registered_model_name: also register a version of this model from the run
                (params, metrics, artifacts, the model, code and environment), as
                MLflow's ``log_model(..., registered_model_name=...)``; default: the
                one given to ``start_run``.
            label: the new version's label (default: the one given to ``start_run``);
                checked before the model is stored.
            probe: a few inputs (array or DataFrame) stored with the model, with its
                predictions on them: ``eventreg reproduce`` compares predictions when the
                model's files are not byte-stable (:mod:`eventreg.capture.probe`).

        Returns:
            The registered :class:`ModelVersion`, or None when nothing was registered.

        Raises:
            AlreadyExists: ``label`` is already a label of the model (nothing is stored).
        """
        from eventreg.capture.probe import record_probe
        from eventreg.flavors import store_model

        register = registered_model_name if registered_model_name is not None else self.registered_model_name
        if reproducing():  # a re-run by ``eventreg reproduce`` is compared, not registered
            register = label = None
        label = label if label is not None else (self.label if register == self.registered_model_name else None)
        if label is not None:
            if register is None:
                raise ValidationError("label= needs registered_model_name=, the model the label belongs to")
            register = check.check_name(register, "model name")
            label = check.check_version_name(label, "label")
            with self.registry._reading() as state:
                check_label_free(state, register, label)
        prefix = _artifact_prefix(artifact_path) or "model"
        manifest, info = store_model(self.registry._artifact_store(), model, prefix, flavor=flavor)
        info = {k: v for k, v in info.items() if k != "path"}
        if probe is not None:
            probe_files, info["probe"] = record_probe(self.registry, model, probe, prefix)
            manifest = {**dict(manifest.items()), **probe_files}
        entries = {path: ArtifactEntry(sha256=e.sha256, size=e.size) for path, e in manifest.items()}
        info = check.check_json_blob(info, "flavor info") or {}
        framework = framework_of(model)
        if framework and "module" not in info:
            info = {**info, "module": framework}
        run_command(self.registry, self.id, lambda run: [ev.RunModelLogged(
            run_id=run.run_id, path=prefix, flavor=info, artifacts=entries)])
        if register is None:
            return None
        return self.registry.register_version(register, run=self.id, label=label)

    def end(self, status: str = FINISHED, *, error: str | None = None, ended_at: datetime | None = None) -> None:
        """
        End the run with ``status`` (FINISHED, FAILED or KILLED); ending twice changes nothing.

        ``ended_at`` (a timezone-aware ``datetime``) records when the run really ended, if
        not now; the event's append time is kept as well.
        """
        if status not in RUN_END_STATUSES:
            raise ValidationError(f"status must be one of {', '.join(RUN_END_STATUSES)}, not {status!r}")
        ended_at = check.check_moment(ended_at, "ended_at")
        for buffer in list(self._buffers):
            buffer.flush()
        end_run(self.registry, self.id, status, error, ended_at)


class MetricBuffer:
    """
    Metric points of a run held in memory and written many per append; returned by
    :meth:`ActiveRun.metric_buffer`. Thread-safe; a context manager that flushes on exit.
    """

    def __init__(self, run: ActiveRun, *, max_points: int, max_seconds: float) -> None:
        if max_points < 1 or not max_seconds > 0:
            raise ValidationError("max_points and max_seconds must be positive")
        self.run = run
        self.max_points = min(max_points, check.MAX_METRIC_POINTS_PER_EVENT * 10)
        self.max_seconds = max_seconds
        self._points: list[MetricPoint] = []
        self._oldest = 0.0
        self._keys: dict[Any, str] = {}  # as given -> as checked
        self._lock = threading.Lock()
        _LIVE.add(self)

    def __enter__(self) -> MetricBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()

    def __len__(self) -> int:
        return len(self._points)

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """
        Buffer one metric value (NaN allowed), optionally at a training step.
        """
        self.log_metrics({key: value}, step=step)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None, *,
                    timestamp: datetime | None = None) -> None:
        """
        Buffer several metric values taken at the same moment.

        Args:
            timestamp: when the values were measured, if not now (a timezone-aware
                ``datetime``: an import, a client with its own clock).

        Raises:
            ValidationError: a key, value, step or timestamp is invalid (nothing of this call is kept).
        """
        if not isinstance(metrics, Mapping):
            raise ValidationError(f"metrics must be a mapping, not {type(metrics).__name__}")
        step = check.check_step(step)
        stamp = now() if timestamp is None else check.check_moment(timestamp, "timestamp")
        keys = self._keys
        points = []
        for key, value in metrics.items():
            if key not in keys:
                key = keys[key] = check.check_metric_key(key)
            else:
                key = keys[key]
            if type(value) is not float:  # a float is a valid value as it is
                value = check.check_metric_value(key, value)
            points.append(MetricPoint(key=key, value=value, step=step, timestamp=stamp))
        with self._lock:
            if not self._points:
                self._oldest = time.monotonic()
            self._points.extend(points)
            due = len(self._points) >= self.max_points or time.monotonic() - self._oldest >= self.max_seconds
        if due:
            self.flush()

    def flush(self) -> None:
        """
        Write every buffered point now (in one append; nothing if the buffer is empty).
        """
        with self._lock:
            points, self._points = self._points, []
            if not points:
                return
            try:
                run_command(
                    self.run.registry, self.run.id,
                    lambda run: [ev.RunMetricsLogged(run_id=run.run_id, points=c) for c in _chunks(points)])
            except BaseException:
                self._points[:0] = points  # kept for another try
                raise


#: Buffers not yet collected, flushed when the interpreter exits normally.
_LIVE: weakref.WeakSet[MetricBuffer] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for buffer in list(_LIVE):
        try:
            buffer.flush()
        except Exception as e:  # noqa: BLE001 - say so; raising at exit helps nobody
            print(f"eventreg: {len(buffer)} buffered metric points of run {buffer.run.id} "
                  f"could not be written at exit: {e}", file=sys.stderr)


def _artifact_prefix(artifact_path: str | None) -> str | None:
    """
    A run's ``artifact_path``: relative (absolute paths and ``..`` raise UnsafePath, as
    in the store), each part a valid name.
    """
    if artifact_path is None or artifact_path == "":
        return None
    parts = normalize_artifact_path(artifact_path).split("/")
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
