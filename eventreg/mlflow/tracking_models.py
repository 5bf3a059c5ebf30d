"""
MLflow 3's logged models on eventreg: a logged model is a folder of its run's artifacts
named after the model, recorded by the run tag ``mlflow.loggedModel.<name>`` (JSON: status,
type, creation time, tags, params); its id is ``m-<run id>-<name>``.

:class:`LoggedModels` is held by the tracking store, which delegates its logged-model
methods to it.
"""

from __future__ import annotations

import json
import time
from typing import Any

from mlflow.entities import LoggedModel, LoggedModelStatus, ViewType
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST
from mlflow.store.entities.paged_list import PagedList
from mlflow.utils.search_utils import SearchLoggedModelsUtils, SearchUtils

import eventreg
from eventreg.mlflow._common import millis, translated, unsupported
from eventreg.mlflow.tracking_ids import experiment_id

__all__ = ["LOGGED_MODEL_TAG", "LoggedModels", "logged_names", "model_id", "page", "parse_model_id"]

#: Run tag prefix recording a logged model (MLflow 3) of the run.
LOGGED_MODEL_TAG = "mlflow.loggedModel."


def model_id(run_id: str, name: str) -> str:
    """
    The MLflow id of the logged model ``name`` of a run.
    """
    return f"m-{run_id}-{name}"


def parse_model_id(value: Any) -> tuple[str, str]:
    """
    The run id and model name in a logged model's id.
    """
    if not isinstance(value, str) or not value.startswith("m-") or len(value) < 36 or value[34] != "-":
        raise MlflowException(f"Logged model with ID '{value}' not found.", RESOURCE_DOES_NOT_EXIST)
    return value[2:34], value[35:]


def logged_names(run: Any) -> list[str]:
    """
    The names of a run's logged models.
    """
    return [k[len(LOGGED_MODEL_TAG):] for k in run.tags if k.startswith(LOGGED_MODEL_TAG)]


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
        run_id, name = parse_model_id(model_id)
        run = self._store._get(run_id)
        raw = run.tags.get(LOGGED_MODEL_TAG + name)
        if raw is None:
            raise MlflowException(f"Logged model with ID '{model_id}' not found.", RESOURCE_DOES_NOT_EXIST)
        return run, name, json.loads(raw)

    def entity(self, run: Any, name: str, record: dict[str, Any], experiment: Any = None) -> LoggedModel:
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
            eventreg.ActiveRun(self._store.registry, run.id, run.experiment, after_end=True).set_tag(LOGGED_MODEL_TAG + name, text)

    def create(self, name: Any, source_run_id: Any, tags: Any, params: Any, model_type: Any) -> LoggedModel:
        if not source_run_id:
            raise unsupported("a logged model outside a run", "eventreg keeps a model in the run that logged it")
        run = self._store._active(source_run_id)
        name = name or "model"
        if LOGGED_MODEL_TAG + name in run.info.tags:
            raise unsupported(f"a second logged model named {name!r} in run {run.id}",
                              "eventreg names a run's model folder by the model's name")
        record = {"status": str(LoggedModelStatus.PENDING), "type": model_type, "created": int(time.time() * 1000),
                  "tags": {t.key: t.value for t in tags or ()}, "params": {p.key: p.value for p in params or ()}}
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
        for output in models:
            owner, name = parse_model_id(output.model_id)
            if owner != run.id or LOGGED_MODEL_TAG + name not in run.tags:
                raise unsupported(f"model {output.model_id} as an output of run {run_id}",
                                  "eventreg records a model as an output of the run that logged it only")

    def search(self, experiment_ids: Any, filter_string: Any, datasets: Any, max_results: Any, order_by: Any,
               page_token: Any) -> Any:
        models = []
        for run, e in self._store._runs_of(experiment_ids, ViewType.ACTIVE_ONLY):
            for model in logged_names(run):
                models.append(self.entity(run, model, json.loads(run.tags[LOGGED_MODEL_TAG + model]), e))
        hits = SearchLoggedModelsUtils.filter_logged_models(models, filter_string, datasets)
        hits = SearchLoggedModelsUtils.sort(hits, order_by)
        return page(hits, page_token, max_results or 100)

    def record_logged_model(self, run_id: str, mlflow_model: Any) -> None:
        run = self._store._active(run_id)
        history = json.loads(self._store._get(run_id).tags.get("mlflow.log-model.history", "[]"))
        history.append(mlflow_model.get_tags_dict())
        with translated():
            run.set_tag("mlflow.log-model.history", json.dumps(history))
