"""
MLflow's tracking calls that need eventreg's tracking events (renames, a run's status after
it ended, logging to a finished run, dataset inputs) and the artifact locations the plugin
hands out: through an unchanged ``MlflowClient``, each checked in eventreg's own log.
"""

from __future__ import annotations

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric

import eventreg
from eventreg.mlflow import _common
from eventreg.mlflow.testing import tracking_store


@pytest.fixture
def client(tmp_path):
    uri = f"eventreg+sqlite:///{tmp_path / 'reg.db'}"
    yield MlflowClient(tracking_uri=uri, registry_uri=uri), f"sqlite:///{tmp_path / 'reg.db'}"
    _common.forget(f"sqlite:///{tmp_path / 'reg.db'}")


def test_renames_restarts_and_late_logging_are_events(client, tmp_path):
    mlflow_client, url = client
    exp = mlflow_client.create_experiment("churn")
    run = mlflow_client.create_run(exp, run_name="first")
    mlflow_client.set_terminated(run.info.run_id, "FINISHED")
    mlflow_client.log_metric(run.info.run_id, "loss", 0.5, step=1)  # after the end, as MLflow allows
    mlflow_client.log_text(run.info.run_id, "late notes", "notes.txt")  # artifacts too
    mlflow_client.log_metric(run.info.run_id, "loss", 0.5, step=1, timestamp=1000)
    mlflow_client.log_batch(run.info.run_id, metrics=[Metric("loss", 0.5, 1000, 1)])  # the same point again
    mlflow_client.rename_experiment(exp, "churn-2024")
    mlflow_client.update_run(run.info.run_id, status="RUNNING", name="second")  # MLflow restarts it
    mlflow_client.log_inputs(run.info.run_id, datasets=[DatasetInput(
        Dataset(name="train", digest="abc", source_type="local", source="/data/train.csv"),
        [InputTag("mlflow.data.context", "training")])])
    found = mlflow_client.get_run(run.info.run_id)
    assert (found.info.status, found.info.run_name, found.data.tags["mlflow.runName"]) == ("RUNNING", "second",
                                                                                          "second")
    assert mlflow_client.get_experiment(exp).name == "churn-2024"
    assert [(d.dataset.name, d.dataset.digest) for d in found.inputs.dataset_inputs] == [("train", "abc")]
    assert len(mlflow_client.get_metric_history(run.info.run_id, "loss")) == 2
    with pytest.raises(mlflow.MlflowException, match="Default experiment"):
        mlflow_client.rename_experiment("0", "other")
    with eventreg.open(url, artifacts=f"file://{tmp_path / 'artifacts'}") as reg:
        types = [e.type for e in reg.events()]
        assert {"experiment.renamed", "run.renamed", "run.status_set", "run.dataset_logged"} <= set(types)
        assert reg.get_run(run.info.run_id).datasets["train"]["context"] == "training"
        assert "notes.txt" in reg.get_run(run.info.run_id).artifacts
        assert reg.verify().ok


def test_artifacts_go_to_eventreg_unless_an_artifact_root_or_location_is_chosen(tmp_path):
    db = f"sqlite:///{tmp_path / 'reg.db'}"
    try:
        served = tracking_store(db, "mlflow-artifacts:/")  # mlflow server's own default: eventreg's store
        run = served.create_run(served.create_experiment("a"), "u", 0, [], "r")
        assert run.info.artifact_uri.startswith("eventreg+sqlite:///")
        rooted = tracking_store(db, "s3://bucket/root")  # --default-artifact-root: MLflow's layout
        exp = rooted.create_experiment("b")
        assert rooted.get_experiment(exp).artifact_location == f"s3://bucket/root/{exp}"
        run = rooted.create_run(exp, "u", 0, [], "r")
        assert run.info.artifact_uri == f"s3://bucket/root/{exp}/{run.info.run_id}/artifacts"
        own = served.create_experiment("c", artifact_location="s3://other/place")
        assert served.get_experiment(own).artifact_location == "s3://other/place"
        assert served.get_experiment(own).tags == {}  # the location's hidden tag is not an MLflow tag
    finally:
        _common.forget(db)


def test_a_model_logged_outside_a_run_is_recorded_on_its_experiment(client, tmp_path):
    mlflow_client, url = client
    exp = mlflow_client.create_experiment("agents")
    model = mlflow_client.create_logged_model(exp, name="agent-v1")
    assert (model.source_run_id, model.name) == (None, "agent-v1")
    mlflow_client.finalize_logged_model(model.model_id, "READY")
    run = mlflow_client.create_run(exp)
    mlflow_client.log_outputs(run.info.run_id, [mlflow.entities.LoggedModelOutput(model.model_id, 3)])
    assert mlflow_client.get_run(run.info.run_id).outputs.model_outputs == [
        mlflow.entities.LoggedModelOutput(model.model_id, 3)]
    assert [m.model_id for m in mlflow_client.search_logged_models([exp])] == [model.model_id]
    assert str(mlflow_client.get_logged_model(model.model_id).status) == "READY"
    assert mlflow_client.get_experiment(exp).tags == {}  # the record is a hidden tag
    with pytest.raises(mlflow.MlflowException, match="not found"):
        mlflow_client.log_outputs(run.info.run_id, [mlflow.entities.LoggedModelOutput("m-" + "0" * 32, 0)])


def test_a_large_dataset_profile_is_kept_in_the_artifact_store(client, tmp_path):
    from eventreg.transfer import referenced_objects

    mlflow_client, url = client
    run = mlflow_client.create_run(mlflow_client.create_experiment("big"))
    profile = "p" * 200_000  # MLflow allows 16 MiB; an event holds 8 MiB
    mlflow_client.log_inputs(run.info.run_id, datasets=[DatasetInput(
        Dataset(name="train", digest="abc", source_type="local", source="/d", profile=profile), [])])
    assert mlflow_client.get_run(run.info.run_id).inputs.dataset_inputs[0].dataset.profile == profile
    with eventreg.open(url, artifacts=f"file://{tmp_path / 'eventreg-artifacts'}") as reg:
        logged = [e for e in reg.events() if e.type == "run.dataset_logged"]
        assert logged[0].payload["dataset"]["profile"] is None
        assert len(referenced_objects(logged)) == 1  # eventreg copy --artifacts takes it along
