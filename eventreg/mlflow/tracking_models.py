"""
MLflow 3's logged models on eventreg: a logged model is a folder of its run's artifacts
named after the model, recorded by the run tag ``mlflow.loggedModel.<name>`` (JSON: status,
type, creation time, tags, params); its id is ``m-<run id>-<name>``. A logged model created
outside a run (``create_logged_model`` without ``source_run_id``) is recorded by the hidden
experiment tag ``mlflow.loggedModel.<id>``, its id ``m-<32 hex digits>``; it holds no files.
A run's outputs are the models it logged, at step 0, and those ``log_outputs`` named (the
hidden run tag ``mlflow.modelOutputs``).

:class:`LoggedModels` is held by the tracking store, which delegates its logged-model
methods to it.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from mlflow.entities import LoggedModel, LoggedModelOutput, LoggedModelStatus, ViewType
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST
from mlflow.store.entities.paged_list import PagedList
from mlflow.utils.name_utils import _generate_random_name
from mlflow.utils.search_utils import SearchLoggedModelsUtils, SearchUtils

import eventreg
from eventreg.mlflow._common import millis, translated, unsupported
from eventreg.mlflow.tracking_ids import experiment_id

__all__ = ["LOGGED_MODEL_TAG", "MODEL_OUTPUTS_TAG", "LoggedModels", "logged_names", "model_id", "model_outputs",
           "page", "parse_model_id"]

#: Run (or experiment) tag prefix recording a logged model (MLflow 3) of the run (or experiment).
LOGGED_MODEL_TAG = "mlflow.loggedModel."
#: Hidden run tag: models the run output that it did not log itself, JSON ``[[id, step], ...]``.
MODEL_OUTPUTS_TAG = "mlflow.modelOutputs"
_HEX = frozenset("0123456789abcdef")


def model_id(run_id: str, name: str) -> str:
    """
    The MLflow id of the logged model ``name`` of a run.
    """
    return f"m-{run_id}-{name}"


def parse_model_id(value: Any) -> tuple[str | None, str]:
    """
    The run id and model name in a logged model's id; ``(None, id)`` for a model logged
    outside a run.
    """
    if isinstance(value, str) and len(value) == 34 and value.startswith("m-") and set(value[2:]) <= _HEX:
        return None, value
    if not isinstance(value, str) or not value.startswith("m-") or len(value) < 36 or value[34] != "-":
        raise MlflowException(f"Logged model with ID '{value}' not found.", RESOURCE_DOES_NOT_EXIST)
    return value[2:34], value[35:]


def logged_names(run: Any) -> list[str]:
    """
    The names of a run's logged models.
    """
    return [k[len(LOGGED_MODEL_TAG):] for k in run.tags if k.startswith(LOGGED_MODEL_TAG)]


def model_outputs(run: Any) -> list[LoggedModelOutput]:
    """
    A run's model outputs: the models it logged (step 0), then those ``log_outputs`` named.
    """
    own = [LoggedModelOutput(model_id(run.id, name), 0) for name in logged_names(run)]
    named = [LoggedModelOutput(m, step) for m, step in json.loads(run.tags.get(MODEL_OUTPUTS_TAG, "[]"))]
    return own + named


def page(hits: list[Any], page_token: str | None, max_results: int) -> PagedList:
    """
    One page of ``hits`` by MLflow's offset page token.
    """
    start = SearchUtils.parse_start_offset_from_page_token(page_token)
    end = start + max_results
    return PagedList(hits[start:end], SearchUtils.create_page_token(end) if end < len(hits) else None)


class LoggedModels:
    """
    The logged-model methods of one tracking store (``store``: its runs and registry).
    """

    def __init__(self, store: Any) -> None:
        self._store = store

    def logged(self, model_id: str) -> tuple[Any, str, dict[str, Any]]:
        """
        ``(holder, name, record)`` of a logged model: its run and name, or, for a model
        logged outside a run, its experiment and id.
        """
        run_id, name = parse_model_id(model_id)
        if run_id is None:
            with translated():
                found = [e for e in self._store.registry.list_experiments(deleted=None)
                         if LOGGED_MODEL_TAG + name in e.tags]
            holder, raw = (found[0], found[0].tags[LOGGED_MODEL_TAG + name]) if found else (None, None)
        else:
            holder = self._store._get(run_id)
            raw = holder.tags.get(LOGGED_MODEL_TAG + name)
        if raw is None:
            raise MlflowException(f"Logged model with ID '{model_id}' not found.", RESOURCE_DOES_NOT_EXIST)
        return holder, name, json.loads(raw)

    def entity(self, run: Any, name: str, record: dict[str, Any], experiment: Any = None) -> LoggedModel:
        if _is_experiment(run):  # a model logged outside a run: ``name`` is its id
            return LoggedModel(
                experiment_id=experiment_id(run), model_id=name, name=record.get("name") or name,
                artifact_location=self._store._uri("experiments", run.name, "models", name),
                creation_timestamp=record.get("created"), last_updated_timestamp=record.get("created"),
                model_type=record.get("type"), source_run_id=None, status=LoggedModelStatus(record["status"]),
                tags=record.get("tags") or {}, params=record.get("params") or {})
        return LoggedModel(
            experiment_id=experiment_id(experiment if experiment is not None else self._store._experiment_of(run)),
            model_id=model_id(run.id, name), name=name,
            artifact_location=self._store._uri("runs", run.id, "artifacts", name),
            creation_timestamp=record.get("created") or millis(run.started_at),
            last_updated_timestamp=record.get("created") or millis(run.started_at),
            model_type=record.get("type"), source_run_id=run.id, status=LoggedModelStatus(record["status"]),
            tags=record.get("tags") or {}, params=record.get("params") or {})

    def _record(self, run: Any, name: str, record: dict[str, Any]) -> None:
        text = json.dumps(record, sort_keys=True)
        with translated():
            if _is_experiment(run):
                self._store.registry.set_experiment_tag(run.name, LOGGED_MODEL_TAG + name, text)
                return
            eventreg.ActiveRun(self._store.registry, run.id, run.experiment, after_end=True).set_tag(LOGGED_MODEL_TAG + name, text)

    def create(self, experiment_id: Any, name: Any, source_run_id: Any, tags: Any, params: Any,
               model_type: Any) -> LoggedModel:
        record = {"status": str(LoggedModelStatus.PENDING), "type": model_type, "created": int(time.time() * 1000),
                  "tags": {t.key: t.value for t in tags or ()}, "params": {p.key: p.value for p in params or ()}}
        if not source_run_id:  # recorded on its experiment
            e = self._store._find(experiment_id)
            if e.deleted:
                raise MlflowException(f"The experiment {experiment_id} must be in the 'active' state. "
                                      "Current state is deleted.", INVALID_PARAMETER_VALUE)
            new_id = f"m-{uuid.uuid4().hex}"
            record["name"] = name or _generate_random_name()
            self._record(e, new_id, record)
            return self.get(new_id)
        run = self._store._active(source_run_id)
        name = name or "model"
        if LOGGED_MODEL_TAG + name in run.info.tags:
            raise unsupported(f"a second logged model named {name!r} in run {run.id}",
                              "eventreg names a run's model folder by the model's name")
        found = self._store._get(run.id)
        self._record(found, name, record)
        return self.entity(self._store._get(run.id), name, record)

    def finalize(self, model_id: str, status: Any) -> LoggedModel:
        run, name, record = self.logged(model_id)
        status = str(LoggedModelStatus(status))
        if record["status"] == status:
            return self.get(model_id)
        record["status"] = status
        self._record(run, name, record)  # also after its run ended, as MLflow allows
        return self.get(model_id)

    def get(self, model_id: str) -> LoggedModel:
        return self.entity(*self.logged(model_id))

    def set_tags(self, model_id: str, tags: Any) -> None:
        run, name, record = self.logged(model_id)
        record["tags"] = {**record.get("tags", {}), **{t.key: t.value for t in tags}}
        self._record(run, name, record)

    def log_outputs(self, run_id: str, models: Any) -> None:
        run = self._store._get(run_id)
        held = [[m.model_id, m.step] for m in model_outputs(run)]
        named = json.loads(run.tags.get(MODEL_OUTPUTS_TAG, "[]"))
        for output in models:
            self.logged(output.model_id)  # it must exist
            if [output.model_id, int(output.step or 0)] not in held:
                held.append([output.model_id, int(output.step or 0)])
                named.append([output.model_id, int(output.step or 0)])
        if named != json.loads(run.tags.get(MODEL_OUTPUTS_TAG, "[]")):
            with translated():
                self._store._active(run.id).set_tag(MODEL_OUTPUTS_TAG, json.dumps(named))

    def search(self, experiment_ids: Any, filter_string: Any, datasets: Any, max_results: Any, order_by: Any,
               page_token: Any) -> Any:
        models = []
        for run, e in self._store._runs_of(experiment_ids, ViewType.ACTIVE_ONLY):
            for model in logged_names(run):
                models.append(self.entity(run, model, json.loads(run.tags[LOGGED_MODEL_TAG + model]), e))
        for eid in experiment_ids or ():  # models logged outside a run
            e = self._store._find(eid)
            models += [self.entity(e, key[len(LOGGED_MODEL_TAG):], json.loads(value))
                       for key, value in e.tags.items() if key.startswith(LOGGED_MODEL_TAG) and not e.deleted]
        hits = SearchLoggedModelsUtils.filter_logged_models(models, filter_string, datasets)
        hits = SearchLoggedModelsUtils.sort(hits, order_by)
        return page(hits, page_token, max_results or 100)

    def record_logged_model(self, run_id: str, mlflow_model: Any) -> None:
        run = self._store._active(run_id)
        history = json.loads(self._store._get(run_id).tags.get("mlflow.log-model.history", "[]"))
        history.append(mlflow_model.get_tags_dict())
        with translated():
            run.set_tag("mlflow.log-model.history", json.dumps(history))


def _is_experiment(holder: Any) -> bool:
    return hasattr(holder, "run_ids")  # an eventreg Experiment view (a Run view has none)
