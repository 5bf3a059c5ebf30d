"""
Every method of MLflow's store base classes works on the eventreg stores or raises
MlflowException: the base classes declare ``__metaclass__ = ABCMeta`` (Python 2 syntax), so
a method a plugin forgets returns None silently instead of failing.
"""

from __future__ import annotations

import inspect
import uuid

import pytest
from mlflow.entities import Metric, Param, RunTag
from mlflow.entities.model_registry import ModelVersionTag, RegisteredModelTag
from mlflow.exceptions import MlflowException
from mlflow.store.model_registry.abstract_store import AbstractStore as RegistryBase
from mlflow.store.tracking.abstract_store import AbstractStore as TrackingBase

from eventreg.mlflow import EventregRegistryStore, EventregTrackingStore

MISSING_RUN = "0" * 32
#: Methods whose MLflow contract is to return None for something that does not exist.
NONE_FOR_MISSING = {"get_experiment_by_name"}

#: Placeholder arguments naming things that do not exist.
ARGS = {
    "name": "no-such-model", "version": "1", "run_id": MISSING_RUN, "experiment_id": "no-such-experiment",
    "model_id": f"m-{MISSING_RUN}-model", "key": "k", "alias": "prod", "tag": RunTag("k", "v"),
    "metric": Metric("m", 1.0, 0, 0), "param": Param("p", "v"), "metric_key": "m", "new_name": "other",
    "metrics": [], "params": [], "tags": [], "source": "s3://bucket/model", "stage": "Production", "description": "d", "experiment_ids": ["no-such-experiment"],
}


def _methods(base: type) -> list[str]:
    return sorted(name for name, member in inspect.getmembers(base)
                  if inspect.isfunction(member) and (not name.startswith("_") or name == "_search_runs"))


def _call(store, name):
    method = getattr(store, name)
    args = []
    for param in inspect.signature(method).parameters.values():
        if param.default is inspect.Parameter.empty and param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            args.append(ARGS.get(param.name, "x"))
    if name in ("set_registered_model_tag",):
        args[1] = RegisteredModelTag("k", "v")
    if name in ("set_model_version_tag",):
        args[2] = ModelVersionTag("k", "v")
    return method(*args)


@pytest.fixture
def stores(tmp_path):
    uri = f"eventreg+sqlite:///{tmp_path}/reg.db"
    return EventregTrackingStore(uri), EventregRegistryStore(uri)


@pytest.mark.parametrize("base,cls", [(TrackingBase, EventregTrackingStore), (RegistryBase, EventregRegistryStore)],
                         ids=["tracking", "registry"])
def test_every_base_method_works_or_raises_mlflow_exception(base, cls):
    inherited = set(cls.INHERITED)
    silent = []
    for name in _methods(base):
        if name in inherited or name in ("supports_workspaces",):
            continue  # MLflow's own body, working through the methods checked here
        store = cls(f"eventreg+memory://walk-{uuid.uuid4().hex}")  # nothing exists in it
        try:
            result = _call(store, name)
        except MlflowException:
            continue
        except Exception as e:  # noqa: BLE001 - the point: anything but MlflowException is a bug
            silent.append(f"{name}: {type(e).__name__}: {e}")
            continue
        if result is None and name not in NONE_FOR_MISSING:
            silent.append(f"{name}: returned None for things that do not exist")
    assert not silent, "\n".join(silent)
    assert len(_methods(base)) > (100 if base is TrackingBase else 40)


def test_unsupported_methods_name_the_missing_feature(stores):
    tracking, registry = stores
    with pytest.raises(MlflowException, match="does not support renaming a registered model: eventreg has no"):
        registry.rename_registered_model("a", "b")
    with pytest.raises(MlflowException, match="does not support traces"):
        tracking.link_traces_to_run(["t"], MISSING_RUN)
    with pytest.raises(MlflowException, match="does not support start_trace"):
        tracking.start_trace(None)
