"""
MLflow's run inputs on eventreg: dataset inputs (``log_inputs(datasets=...)``) and model
inputs (``log_inputs(models=...)``).

A dataset input is the run's ``run.dataset_logged`` event, as ``ActiveRun.log_dataset``
records one: its record holds MLflow's dataset (name, digest, source type, source, schema,
profile) and the input's tags (``mlflow.data.context`` is eventreg's ``context``). A schema
or profile over 64 KiB (MLflow allows a 16 MiB profile; an event holds at most 8 MiB) is
kept in eventreg's artifact store, the record holding its digest under ``stored``. MLflow
keeps one input per (name, digest) and ignores a second one; so does this. A model input
is the hidden run tag ``mlflow.modelInputs`` (the ids, in order).
"""

from __future__ import annotations

import json
from typing import Any

from mlflow.entities import Dataset, DatasetInput, InputTag, LoggedModelInput
from mlflow.entities.dataset_summary import _DatasetSummary
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT
from mlflow.utils.validation import _validate_dataset_inputs

from eventreg.artifacts import ArtifactStore
from eventreg.domain.repro_events import RunDatasetLogged
from eventreg.manifest import ManifestEntry
from eventreg.mlflow._common import translated
from eventreg.runs import run_command

__all__ = ["MODEL_INPUTS_TAG", "dataset_inputs", "dataset_summaries", "log_inputs", "model_inputs"]

#: Hidden run tag holding the ids of the logged models a run used, as JSON.
MODEL_INPUTS_TAG = "mlflow.modelInputs"
#: The record ``kind`` of a dataset MLflow logged.
KIND = "mlflow"
#: A schema or profile longer than this goes to the artifact store, not into the event.
_INLINE = 64 * 1024


def _store(registry: Any) -> ArtifactStore:
    return ArtifactStore(registry.artifacts_url, **registry.artifact_options)


def _record(item: DatasetInput, registry: Any) -> dict[str, Any]:
    d = item.dataset
    tags = {t.key: t.value for t in item.tags or ()}
    record = {"kind": KIND, "name": d.name, "digest": d.digest, "source_type": d.source_type, "source": d.source,
              "schema": d.schema, "profile": d.profile, "tags": tags}
    if tags.get(MLFLOW_DATASET_CONTEXT):
        record["context"] = tags[MLFLOW_DATASET_CONTEXT]
    stored = {}
    for field in ("schema", "profile"):
        text = record[field]
        if isinstance(text, str) and len(text) > _INLINE:
            with translated():
                entry = _store(registry).put_bytes(text.encode("utf-8"), progress=False)
            stored[field] = {"sha256": entry.sha256, "size": entry.size}  # found by eventreg copy --artifacts
            record[field] = None
    if stored:
        record["stored"] = stored
    return record


def _key(name: str, digest: str, taken: dict[str, Any]) -> str:
    """
    The dataset's name in the run: MLflow's name, with its digest when the name is taken.
    """
    return name if name not in taken else f"{name}@{digest}"


def log_inputs(registry: Any, run_id: str, datasets: Any, models: Any) -> None:
    """
    Record MLflow dataset and model inputs of a run (already found and active); an input
    the run holds already (same dataset name and digest, same model) is left as it is.

    Raises:
        MlflowException: an input is invalid (MLflow's own checks and messages).
    """
    if datasets is not None:
        if not isinstance(datasets, list):
            raise TypeError(f"Argument 'datasets' should be a list, got '{type(datasets)}'")
        _validate_dataset_inputs(datasets)
    new_datasets = list(datasets or ())
    new_models = [m.model_id for m in models or ()]
    with translated():
        run = registry.get_run(run_id)
    held = {(r.get("name"), r.get("digest")) for r in run.datasets.values() if r.get("kind") == KIND}
    records = {(item.dataset.name, item.dataset.digest): _record(item, registry) for item in new_datasets
               if (item.dataset.name, item.dataset.digest) not in held}

    def build(run: Any) -> list[Any]:
        events: list[Any] = []
        held = {(r.get("name"), r.get("digest")) for r in run.datasets.values() if r.get("kind") == KIND}
        taken = dict(run.datasets)
        for item in new_datasets:
            if (item.dataset.name, item.dataset.digest) in held:
                continue
            held.add((item.dataset.name, item.dataset.digest))
            key = _key(item.dataset.name, item.dataset.digest, taken)
            taken[key] = True
            events.append(RunDatasetLogged(run_id=run.run_id, name=key, dataset=records[item.dataset.name,
                                                                                         item.dataset.digest]))
        if new_models:
            ids = json.loads(run.tags.get(MODEL_INPUTS_TAG, "[]"))
            added = [m for m in dict.fromkeys(new_models) if m not in ids]
            if added:
                from eventreg.domain.events import RunTagsSet

                events.append(RunTagsSet(run_id=run.run_id, tags={MODEL_INPUTS_TAG: json.dumps(ids + added)}))
        return events

    with translated():
        run_command(registry, run_id, build, after_end=True)


def dataset_inputs(run: Any, registry: Any = None) -> list[DatasetInput]:
    """
    The MLflow dataset inputs of an eventreg run (datasets eventreg logged itself are
    shown with their fingerprint's digest and kind as the source type). A schema or profile
    kept in the artifact store is read from it (checked against its digest) when
    ``registry`` is given.
    """
    found = []
    for name, record in run.datasets.items():
        if record.get("kind") == KIND:
            fields = {field: record.get(field) for field in ("schema", "profile")}
            for field, entry in (record.get("stored") or {}).items():
                if registry is not None:
                    with translated():
                        data = _store(registry).get_bytes(ManifestEntry(sha256=entry["sha256"], size=entry["size"]))
                    fields[field] = data.decode("utf-8")
            dataset = Dataset(name=record["name"], digest=record["digest"], source_type=record.get("source_type"),
                              source=record.get("source"), **fields)
            tags = [InputTag(k, v) for k, v in (record.get("tags") or {}).items()]
        else:
            dataset = Dataset(name=name, digest=str(record.get("digest", "")), source_type=str(record.get("kind")),
                              source=str(record.get("uri", "")))
            tags = [InputTag(MLFLOW_DATASET_CONTEXT, record["context"])] if record.get("context") else []
        found.append(DatasetInput(dataset, tags))
    return found


def model_inputs(run: Any) -> list[LoggedModelInput]:
    """
    The MLflow model inputs of an eventreg run.
    """
    return [LoggedModelInput(model_id) for model_id in json.loads(run.tags.get(MODEL_INPUTS_TAG, "[]"))]


def dataset_summaries(runs: list[tuple[Any, str]], limit: int = 1000) -> list[_DatasetSummary]:
    """
    MLflow's dataset summaries (experiment id, name, digest, context) of ``(run,
    experiment id)`` pairs, each distinct one once, at most ``limit``.
    """
    seen: dict[tuple[str, str, str, str | None], None] = {}
    for run, experiment_id in runs:
        for item in dataset_inputs(run):
            context = next((t.value for t in item.tags if t.key == MLFLOW_DATASET_CONTEXT), None)
            seen.setdefault((experiment_id, item.dataset.name, item.dataset.digest, context), None)
            if len(seen) >= limit:
                break
    return [_DatasetSummary(experiment_id=e, name=n, digest=d, context=c) for e, n, d, c in seen]
