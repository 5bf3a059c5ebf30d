"""
MLflow's tracking store on eventreg: experiments, runs, params, metrics, tags, logged models.

An MLflow experiment id is the eventreg experiment's number (``"0"`` is ``Default``, see
:mod:`eventreg.mlflow.tracking_ids`); a run id is the eventreg run id; a run's artifact URI
is served by :class:`~eventreg.mlflow.artifacts.EventregArtifactRepository` (or, for an
experiment with its own artifact location, by MLflow's artifact repositories). Logged models
(MLflow 3) are in :mod:`eventreg.mlflow.tracking_models`, run inputs in
:mod:`eventreg.mlflow.tracking_inputs`. Searches load eventreg's runs as MLflow entities and
apply MLflow's own filter, order and page-token code to them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlflow.entities import (
    Experiment,
    ExperimentTag,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunOutputs,
    RunStatus,
    RunTag,
    ViewType,
)
from mlflow.entities.metric import MetricWithRunId
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, INVALID_STATE, RESOURCE_DOES_NOT_EXIST
from mlflow.store.tracking import DEFAULT_ARTIFACTS_URI
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.tracking.abstract_store import AbstractStore
from mlflow.utils.name_utils import _generate_random_name
from mlflow.utils.uri import append_to_uri_path, resolve_uri_if_local
from mlflow.utils.search_utils import SearchExperimentsUtils, SearchUtils
from mlflow.utils.validation import (
    _validate_experiment_artifact_location_length,
    _validate_batch_log_data,
    _validate_batch_log_limits,
    _validate_experiment_name,
    _validate_experiment_tag,
    _validate_metric,
    _validate_param,
    _validate_tag,
    _validate_param_keys_unique,
    _validate_run_id,
)

import eventreg
from eventreg.mlflow import _common, tracking_inputs
from eventreg.mlflow.tracking_ids import DEFAULT_ID, DEFAULT_NAME, experiment_id, parse_experiment_id
from eventreg.mlflow.tracking_models import (
    LOGGED_MODEL_TAG,
    MODEL_OUTPUTS_TAG,
    LoggedModels,
    model_outputs,
    page,
    parse_model_id,
)
from eventreg.mlflow._common import millis, moment, translated, unsupported

#: Hidden run tag: the user id MLflow's ``create_run`` was given (when no ``mlflow.user`` tag says it).
USER_TAG = "mlflow.eventreg.userId"
#: Hidden experiment tag: the experiment's artifact location, when MLflow's artifact repositories
#: (not eventreg's store) hold its runs' artifacts.
ARTIFACT_LOCATION_TAG = "mlflow.eventreg.artifactLocation"
_HIDDEN_RUN_TAGS = (USER_TAG, tracking_inputs.MODEL_INPUTS_TAG, MODEL_OUTPUTS_TAG)
_SEARCH_MAX = 50_000


class EventregTrackingStore(AbstractStore):
    """
    MLflow's tracking ``AbstractStore`` on an eventreg log.

    Args:
        store_uri: ``eventreg+<log url>``.
        artifact_uri: MLflow's default artifact root. None, or ``mlflow server``'s own
            ``mlflow-artifacts:/``: runs' artifacts go to eventreg's content-addressed store.
            Any other root: experiments created here keep their runs' artifacts under
            ``<root>/<experiment id>``, through MLflow's artifact repositories, as in MLflow.
    """

    DEFAULT_EXPERIMENT_ID = DEFAULT_ID
    INHERITED = ("search_runs", "get_metric_history_bulk_interval",
                 "end_async_logging", "flush_async_logging", "log_batch_async", "log_metric_async",
                 "log_param_async", "set_tag_async", "shut_down_async_logging", "supports_workspaces")

    def __init__(self, store_uri: str | None = None, artifact_uri: str | None = None) -> None:
        super().__init__()
        self.store_uri = store_uri
        self.url = _common.log_url(store_uri)
        self.artifact_root_uri = artifact_uri
        #: MLflow's artifact root when one was chosen (``mlflow server --default-artifact-root``,
        #: MLflow's test fixtures): experiments created here keep their runs' artifacts under
        #: it, as in MLflow. None (in-process clients, and the server's own proxied default):
        #: artifacts go to eventreg's content-addressed store.
        self._root = (resolve_uri_if_local(artifact_uri)
                      if artifact_uri and artifact_uri.rstrip("/") != DEFAULT_ARTIFACTS_URI.rstrip("/") else None)
        self.registry = _common.registry(self.url)
        self._models = LoggedModels(self)
        if not any(e.name == DEFAULT_NAME for e in self.registry.list_experiments(deleted=None)):
            try:  # MLflow's default experiment always exists, as in its SQL store
                tags = {ARTIFACT_LOCATION_TAG: append_to_uri_path(self._root, DEFAULT_ID)} if self._root else None
                with translated():
                    self.registry.create_experiment(DEFAULT_NAME, tags=tags)
            except MlflowException:
                pass  # another store on this log created it first

    # -- translation ------------------------------------------------------------------------

    def _uri(self, *parts: str) -> str:
        return f"{_common.PREFIX}{self.url}{_common.SEP}" + "/".join(parts)

    def _experiment(self, e: Any) -> Experiment:
        return Experiment(experiment_id(e), e.name, _artifact_location(e) or self._uri("experiments", e.name),
                          LifecycleStage.DELETED if e.deleted else LifecycleStage.ACTIVE,
                          tags=[ExperimentTag(k, v) for k, v in e.tags.items()
                                if k != ARTIFACT_LOCATION_TAG and not k.startswith(LOGGED_MODEL_TAG)],
                          creation_time=millis(e.created_at), last_update_time=millis(e.updated_at or e.created_at))

    def _find(self, experiment_id: Any) -> Any:
        """
        The eventreg experiment an MLflow experiment id names (deleted ones too).
        """
        number = parse_experiment_id(DEFAULT_ID if experiment_id is None else experiment_id)
        with translated():
            for e in self.registry.list_experiments(deleted=None):
                if (e.name == DEFAULT_NAME and number == 0) or (e.name != DEFAULT_NAME and e.id == number):
                    return e
        raise MlflowException(f"No Experiment with id={experiment_id} exists", RESOURCE_DOES_NOT_EXIST)

    def _stage(self, run: Any, experiment: Any = None) -> str:
        e = experiment if experiment is not None else self._experiment_of(run)
        return LifecycleStage.DELETED if e.deleted or run.id in e.deleted_run_ids else LifecycleStage.ACTIVE

    def _experiment_of(self, run: Any) -> Any:
        with translated():
            return next(e for e in self.registry.list_experiments(deleted=None) if e.name == run.experiment)

    def _info(self, run: Any, experiment: Any = None) -> RunInfo:
        e = experiment if experiment is not None else self._experiment_of(run)
        location = _artifact_location(e)
        return RunInfo(run_id=run.id, experiment_id=experiment_id(e),
                       user_id=run.tags.get(USER_TAG) or run.tags.get("mlflow.user") or run.actor or "",
                       status=run.status, start_time=millis(run.started_at), end_time=millis(run.ended_at),
                       lifecycle_stage=self._stage(run, e),
                       artifact_uri=(append_to_uri_path(location, run.id, "artifacts") if location
                                     else self._uri("runs", run.id, "artifacts")),
                       run_name=run.name)

    def _check_active(self, run: Any) -> None:
        stage = self._stage(run)
        if stage != LifecycleStage.ACTIVE:
            raise MlflowException(f"The run {run.id} must be in the 'active' state. Current state is {stage}.",
                                  INVALID_PARAMETER_VALUE)

    def _run(self, run: Any, experiment: Any = None, *, metrics: bool = True) -> Run:
        """
        The MLflow run of an eventreg run (``metrics=False``: without its metrics, which
        cost a history read per key; a search that neither filters nor orders by metrics
        pages on those and builds the page's runs whole).
        """
        latest = [self._latest(run.id, key) for key in run.metrics] if metrics else []
        params = [Param(k, _param(v)) for k, v in run.params.items()]
        tags = [RunTag(k, v) for k, v in run.tags.items()
                if not k.startswith(LOGGED_MODEL_TAG) and k not in _HIDDEN_RUN_TAGS]
        outputs = model_outputs(run)
        inputs = RunInputs(dataset_inputs=tracking_inputs.dataset_inputs(run, self.registry),
                           model_inputs=tracking_inputs.model_inputs(run))
        return Run(self._info(run, experiment), RunData(metrics=latest, params=params, tags=tags),
                   inputs, RunOutputs(model_outputs=outputs))

    def _history(self, run_id: str, key: str, min_step: int | None = None,
                 max_step: int | None = None) -> list[Metric]:
        with translated():
            points = self.registry.get_run_metric_history(run_id, key, min_step=min_step, max_step=max_step)
        return [Metric(key, p.value, millis(p.timestamp), p.step or 0) for p in points]

    def _latest(self, run_id: str, key: str) -> Metric:
        """
        MLflow's latest value of a metric: the point of the highest step, then timestamp,
        then value (a key with one point is read from its summary, without its history).
        """
        with translated():
            summary = self.registry.get_run_metric_summary(run_id, key)
        if summary.count == 1:
            return Metric(key, summary.value, millis(summary.timestamp), summary.step or 0)
        return max(self._history(run_id, key), key=lambda m: (m.step, m.timestamp, m.value))

    def _get(self, run_id: str) -> Any:
        _validate_run_id(run_id)
        try:
            return self.registry.get_run(run_id)
        except eventreg.NotFound:
            raise MlflowException(f"Run with id={run_id} not found", RESOURCE_DOES_NOT_EXIST) from None

    def _active(self, run_id: str) -> eventreg.ActiveRun:
        """
        A handle that logs to the run, also after it ended (MLflow allows it); the run must
        not be deleted.
        """
        run = self._get(run_id)
        self._check_active(run)
        return eventreg.ActiveRun(self.registry, run.id, run.experiment, after_end=True)

    # -- experiments ------------------------------------------------------------------------

    def create_experiment(self, name, artifact_location=None, tags=None):
        _validate_experiment_name(name)
        if artifact_location:
            artifact_location = resolve_uri_if_local(artifact_location)
            _validate_experiment_artifact_location_length(artifact_location)
        for t in tags or ():
            _validate_experiment_tag(t.key, t.value)
        if self.get_experiment_by_name(name) is not None:
            raise MlflowException(f"Experiment(name={name}) already exists.", _common.RESOURCE_ALREADY_EXISTS)
        tag_map = {t.key: t.value for t in tags or ()}
        if artifact_location:  # the caller's own location: MLflow's artifact repositories serve it
            tag_map[ARTIFACT_LOCATION_TAG] = artifact_location
        with translated():
            created = self.registry.create_experiment(name, tags=tag_map)
            if self._root and not artifact_location:  # under MLflow's artifact root, by its id
                self.registry.set_experiment_tag(
                    name, ARTIFACT_LOCATION_TAG, append_to_uri_path(self._root, experiment_id(created)))
        return experiment_id(created)

    def get_experiment(self, experiment_id):
        return self._experiment(self._find(experiment_id))

    def get_experiment_by_name(self, experiment_name):
        with translated():
            found = [e for e in self.registry.list_experiments(deleted=None) if e.name == experiment_name]
        return self._experiment(found[0]) if found else None

    def search_experiments(self, view_type=ViewType.ACTIVE_ONLY, max_results=1000, filter_string=None,
                           order_by=None, page_token=None):
        _check_max(max_results, _SEARCH_MAX, allow_none=False)
        deleted = {ViewType.ACTIVE_ONLY: False, ViewType.DELETED_ONLY: True}.get(view_type)
        with translated():
            found = [self._experiment(e) for e in self.registry.list_experiments(deleted=deleted)]
        hits = SearchExperimentsUtils.sort(SearchExperimentsUtils.filter(found, filter_string),
                                           order_by or ["creation_time DESC", "experiment_id ASC"])
        return page(hits, page_token, max_results)

    def delete_experiment(self, experiment_id):
        e = self._find(experiment_id)
        if e.deleted:
            raise MlflowException(f"No Experiment with id={experiment_id} exists", RESOURCE_DOES_NOT_EXIST)
        with translated():
            self.registry.delete_experiment(e.name)

    def restore_experiment(self, experiment_id):
        e = self._find(experiment_id)
        if not e.deleted:
            raise MlflowException(f"No Experiment with id={experiment_id} exists", RESOURCE_DOES_NOT_EXIST)
        with translated():
            self.registry.restore_experiment(e.name)

    def rename_experiment(self, experiment_id, new_name):
        _validate_experiment_name(new_name)
        e = self._find(experiment_id)
        if e.deleted:
            raise MlflowException("Cannot rename a non-active experiment.", INVALID_STATE)
        if e.name == DEFAULT_NAME and new_name != DEFAULT_NAME:
            raise MlflowException(f"Cannot rename the {DEFAULT_NAME} experiment (its id {DEFAULT_ID} goes with "
                                  "its name).", INVALID_PARAMETER_VALUE)
        with translated():
            self.registry.rename_experiment(e.name, new_name)

    def set_experiment_tag(self, experiment_id, tag):
        _validate_experiment_tag(tag.key, tag.value)
        e = self._find(experiment_id)
        if e.deleted:
            raise MlflowException(f"The experiment {experiment_id} must be in the 'active' state. "
                                  "Current state is deleted.", INVALID_PARAMETER_VALUE)
        with translated():
            self.registry.set_experiment_tag(e.name, tag.key, tag.value)

    def delete_experiment_tag(self, experiment_id, key):
        e = self._find(experiment_id)
        if e.deleted:
            raise MlflowException(f"The experiment {experiment_id} must be in the 'active' state. "
                                  "Current state is deleted.", INVALID_PARAMETER_VALUE)
        if key not in e.tags:
            raise MlflowException(f"No tag with name: {key} in experiment with id {experiment_id}",
                                  RESOURCE_DOES_NOT_EXIST)
        with translated():
            self.registry.delete_experiment_tag(e.name, key)

    # -- runs -------------------------------------------------------------------------------

    def create_run(self, experiment_id, user_id, start_time, tags, run_name):
        started_at = moment(start_time, "run start time")
        e = self._find(experiment_id)
        if e.deleted:
            raise MlflowException(f"The experiment {experiment_id} must be in the 'active' state. "
                                  "Current state is deleted.", INVALID_PARAMETER_VALUE)
        name = e.name
        tag_map = {t.key: t.value for t in tags or ()}
        if user_id and tag_map.get("mlflow.user") != user_id:
            tag_map[USER_TAG] = user_id
        tagged = tag_map.get("mlflow.runName")
        if run_name and tagged and run_name != tagged:
            raise MlflowException("Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
                                  f"different values (run_name='{run_name}', mlflow.runName='{tagged}').",
                                  INVALID_PARAMETER_VALUE)
        run_name = run_name or tagged or _generate_random_name()
        tag_map["mlflow.runName"] = run_name
        with translated():
            active = self.registry.start_run(name, name=run_name, tags=tag_map, code=None, started_at=started_at)
        return self._run(self._get(active.id))

    def get_run(self, run_id):
        return self._run(self._get(run_id))

    def update_run_info(self, run_id, run_status, end_time, run_name):
        run = self._get(run_id)
        self._check_active(run)
        ended_at = moment(end_time, "run end time")
        with translated():
            if run_status is not None:
                status = RunStatus.to_string(run_status) if isinstance(run_status, int) else str(run_status)
                if run.status == "RUNNING" and status in ("FINISHED", "FAILED", "KILLED") and ended_at is not None:
                    eventreg.ActiveRun(self.registry, run.id, run.experiment).end(status, ended_at=ended_at)
                else:  # restarted, scheduled, ended without an end time, or a finished run's status changed
                    self.registry.set_run_status(run.id, status, ended_at=ended_at)
            elif ended_at is not None:
                self.registry.set_run_status(run.id, run.status, ended_at=ended_at)
            if run_name:
                self.registry.rename_run(run.id, run_name)
                if run.tags.get("mlflow.runName") != run_name:
                    self._active(run.id).set_tag("mlflow.runName", run_name)
        return self._info(self._get(run_id))

    def delete_run(self, run_id):
        with translated():
            self.registry.delete_run(self._get(run_id).id)

    def restore_run(self, run_id):
        with translated():
            self.registry.restore_run(self._get(run_id).id)

    def _runs_of(self, experiment_ids: Any, view_type: Any) -> list[tuple[Any, Any]]:
        """
        ``(run, experiment)`` of the runs of these MLflow experiments in MLflow's view type.
        """
        wanted = {str(parse_experiment_id(eid)) for eid in experiment_ids or ()}
        found = []
        with translated():
            for e in self.registry.list_experiments(deleted=None):
                if experiment_id(e) not in wanted:
                    continue
                for run in self.registry.search_runs(e.name, deleted=None):
                    active = self._stage(run, e) == LifecycleStage.ACTIVE
                    if view_type == ViewType.ALL or active is (view_type != ViewType.DELETED_ONLY):
                        found.append((run, e))
        return found

    def _get_deleted_runs(self, older_than=0):
        """
        The runs ``mlflow gc`` may remove (it cannot: eventreg erases nothing, see docs/mlflow.md).
        """
        with translated():
            return [r for e in self.registry.list_experiments(deleted=None) for r in e.deleted_run_ids]

    def _search_runs(self, experiment_ids, filter_string, run_view_type, max_results, order_by, page_token):
        _check_max(max_results, _SEARCH_MAX)
        found = self._runs_of(experiment_ids, run_view_type)
        if not filter_string and not order_by:  # MLflow's natural order: page on the raw runs
            found.sort(key=lambda pair: (-millis(pair[0].started_at), pair[0].id))
            if max_results is None:
                page, token = found[SearchUtils.parse_start_offset_from_page_token(page_token):], None
            else:
                page, token = SearchUtils.paginate(found, page_token, max_results)
            return [self._run(run, e) for run, e in page], token
        whole = _mentions_metrics(filter_string, order_by)
        runs = [self._run(run, e, metrics=whole) for run, e in found]
        hits = SearchUtils.sort(SearchUtils.filter(runs, filter_string), order_by)
        if max_results is None:
            page, token = hits[SearchUtils.parse_start_offset_from_page_token(page_token):], None
        else:
            page, token = SearchUtils.paginate(hits, page_token, max_results)
        if not whole:  # the page's runs with their metrics
            by_id = {run.id: (run, e) for run, e in found}
            page = [self._run(*by_id[hit.info.run_id]) for hit in page]
        return page, token

    def _search_datasets(self, experiment_ids):
        found = [(run, experiment_id(e)) for run, e in self._runs_of(experiment_ids, ViewType.ALL)]
        return tracking_inputs.dataset_summaries(found)

    # -- params, metrics, tags -------------------------------------------------------------

    def log_batch(self, run_id, metrics, params, tags):
        _validate_run_id(run_id)
        metrics, params, tags = _validate_batch_log_data(list(metrics or ()), list(params or ()), list(tags or ()))
        _validate_batch_log_limits(metrics, params, tags)
        _validate_param_keys_unique(params)
        if any(getattr(m, "model_id", None) for m in metrics):
            metrics = self._unlinked(run_id, metrics)
        for m in metrics:
            if getattr(m, "model_id", None) or getattr(m, "dataset_name", None):
                raise unsupported("metrics linked to a logged model or dataset", "eventreg has no such link yet")
            moment(m.timestamp, "metric timestamp")
        run = self._active(run_id)
        info = run.info
        metrics = self._new_points(info, metrics)
        logged = info.params
        changed = [p for p in params if p.key in logged and _param(logged[p.key]) != p.value]
        if changed:
            p = changed[0]
            raise MlflowException(
                f"Changing param values is not allowed. Param with key='{p.key}' was already logged with "
                f"value='{_param(logged[p.key])}' for run ID='{run_id}'. Attempted logging new value '{p.value}'.",
                INVALID_PARAMETER_VALUE)
        with translated():
            if params:
                run.log_params({p.key: p.value for p in params})
            if tags:
                tag_map = {t.key: t.value for t in tags}
                run.set_tags(tag_map)
                name = tag_map.get("mlflow.runName")
                if name and name != info.name:  # MLflow's run name follows its tag
                    self.registry.rename_run(run.id, name)
            for (step, stamp), group in _by_step(metrics):
                run.log_metrics(group, step=step, timestamp=moment(stamp, "metric timestamp"))

    def _new_points(self, run: Any, metrics: list[Metric]) -> list[Metric]:
        """
        The metric points that are not logged already (in this batch or before): MLflow
        keeps a point (key, step, timestamp, value) once. Only a key whose new points are
        not all later than its latest timestamp has its history read.
        """
        seen: set[tuple[str, int, int, float]] = set()
        fresh = []
        for m in metrics:
            point = (m.key, int(m.step or 0), int(m.timestamp), m.value)
            if point not in seen:
                seen.add(point)
                fresh.append(m)
        earliest: dict[str, int] = {}
        for m in fresh:
            if m.key in run.metrics:
                earliest[m.key] = min(earliest.get(m.key, m.timestamp), int(m.timestamp))
        held: set[tuple[str, int, int, float]] = set()
        for key, first in earliest.items():
            with translated():
                latest = millis(self.registry.get_run_metric_summary(run.id, key).last_timestamp)
            if first <= latest:
                held.update((key, h.step, h.timestamp, h.value) for h in self._history(run.id, key))
        if not held:
            return fresh
        return [m for m in fresh if (m.key, int(m.step or 0), int(m.timestamp), m.value) not in held]

    def _unlinked(self, run_id: str, metrics: list[Metric]) -> list[Metric]:
        """
        Drop the points MLflow logs again with a logged model's id (``log_model`` links the
        run's metrics to the model): the run holds them already, and its model is in it.
        """
        kept = []
        for m in metrics:
            if getattr(m, "model_id", None):
                owner, _ = parse_model_id(m.model_id)
                history = {(h.key, h.step, h.value) for h in self._history(run_id, m.key)} \
                    if owner == run_id and m.key in self._get(run_id).metrics else set()
                if (m.key, int(m.step or 0), m.value) in history:
                    continue
            kept.append(m)
        return kept

    def log_metric(self, run_id, metric):
        _validate_metric(metric.key, metric.value, metric.timestamp, metric.step)
        self.log_batch(run_id, metrics=[metric], params=[], tags=[])

    def log_param(self, run_id, param):
        _validate_param(param.key, param.value)
        self.log_batch(run_id, metrics=[], params=[param], tags=[])

    def set_tag(self, run_id, tag):
        _validate_tag(tag.key, tag.value)
        self.log_batch(run_id, metrics=[], params=[], tags=[tag])

    def delete_tag(self, run_id, key):
        run = self._get(run_id)
        self._check_active(run)
        if key not in run.tags:
            raise MlflowException(f"No tag with name: {key} in run with id {run_id}", RESOURCE_DOES_NOT_EXIST)
        with translated():
            self._active(run_id).delete_tag(key)

    def get_metric_history(self, run_id, metric_key, max_results=None, page_token=None):
        run = self._get(run_id)
        history = self._history(run.id, metric_key) if metric_key in run.metrics else []
        if max_results is None:
            start = SearchUtils.parse_start_offset_from_page_token(page_token)  # refuses a bad token
            return PagedList(history[start:], None)
        return page(history, page_token, max_results)

    def get_metric_history_bulk_interval_from_steps(self, run_id, metric_key, steps, max_results):
        run = self._get(run_id)
        wanted = {int(step) for step in steps}
        if metric_key not in run.metrics or not wanted:
            return []
        low = min(wanted)  # a point without a step is MLflow's step 0: then read them all
        history = (self._history(run.id, metric_key) if low <= 0
                   else self._history(run.id, metric_key, min_step=low, max_step=max(wanted)))
        chosen = sorted((m for m in history if m.step in wanted), key=lambda m: (m.step, m.timestamp))
        return [MetricWithRunId(run_id=run.id, metric=m) for m in chosen[:max_results]]

    def log_inputs(self, run_id, datasets=None, models=None):
        _validate_run_id(run_id)
        self._check_active(self._get(run_id))
        tracking_inputs.log_inputs(self.registry, run_id, datasets, models)

    def link_traces_to_run(self, trace_ids, run_id):
        raise unsupported("traces", "eventreg records no traces")

    # -- logged models (MLflow 3): eventreg/mlflow/tracking_models.py ------------------------

    def create_logged_model(self, experiment_id=DEFAULT_ID, name=None, source_run_id=None, tags=None,
                            params=None, model_type=None):
        return self._models.create(experiment_id, name, source_run_id, tags, params, model_type)

    def finalize_logged_model(self, model_id, status):
        return self._models.finalize(model_id, status)

    def get_logged_model(self, model_id, allow_deleted=False):
        return self._models.get(model_id)

    def set_logged_model_tags(self, model_id, tags):
        self._models.set_tags(model_id, tags)

    def log_outputs(self, run_id, models):
        self._models.log_outputs(run_id, models)

    def search_logged_models(self, experiment_ids, filter_string=None, datasets=None, max_results=None,
                             order_by=None, page_token=None):
        return self._models.search(experiment_ids, filter_string, datasets, max_results, order_by, page_token)

    def record_logged_model(self, run_id, mlflow_model):
        self._models.record_logged_model(run_id, mlflow_model)


_common.complete(EventregTrackingStore, AbstractStore)


def _mentions_metrics(filter_string: str | None, order_by: Any) -> bool:
    """
    Whether a search's filter or order names a metric (then every run needs its metrics).
    """
    clauses = SearchUtils.parse_search_filter(filter_string) if filter_string else []
    if any(c.get("type") == "metric" for c in clauses):
        return True
    return any(SearchUtils.parse_order_by_for_search_runs(o)[0] == "metric" for o in order_by or ())


def _artifact_location(e: Any) -> str | None:
    """
    An experiment's own artifact location (MLflow's artifact repositories hold its runs'
    artifacts), or None: eventreg's content-addressed store holds them.
    """
    return e.tags.get(ARTIFACT_LOCATION_TAG)


def _param(value: Any) -> str:
    """
    A param value as MLflow's string (MLflow's clients send strings; eventreg keeps types).
    """
    return value if isinstance(value, str) else "None" if value is None else str(value)


def _by_step(metrics: Iterable[Metric]) -> list[tuple[tuple[int, Any], dict[str, float]]]:
    """
    Metrics grouped into calls of one step and timestamp each, a key at most once per call, in order.
    """
    groups: list[tuple[tuple[int, Any], dict[str, float]]] = []
    for m in metrics:
        step = (int(m.step or 0), m.timestamp)
        for s, group in groups:
            if s == step and m.key not in group:
                group[m.key] = m.value
                break
        else:
            groups.append((step, {m.key: m.value}))
    return groups


def _check_max(value: Any, limit: int, *, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, int) or value < 1:
        raise MlflowException(f"Invalid value {value} for parameter 'max_results' supplied. It must be a positive "
                              "integer", INVALID_PARAMETER_VALUE)
    if value > limit:
        raise MlflowException(f"Invalid value {value} for parameter 'max_results' supplied. It must be at most "
                              f"{limit}", INVALID_PARAMETER_VALUE)
