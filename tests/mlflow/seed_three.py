"""
The seed flow on MLflow's own store, and then a third version, a second alias, a stage,
a tag and a deleted run: an MLflow store for ``eventreg import-mlflow`` to import.
Run with MLFLOW_TRACKING_URI=sqlite:///mlflow.db (only mlflow and MlflowClient).
"""

import runpy
from pathlib import Path

import mlflow
from mlflow import MlflowClient

runpy.run_path(str(Path(__file__).with_name("seed_flow.py")), run_name="__main__")
client = MlflowClient()
run_id = client.get_model_version("iris", "1").run_id
third = mlflow.register_model(f"runs:/{run_id}/model", "iris", tags={"team": "vision"})
client.update_model_version("iris", third.version, description="the third")
client.set_registered_model_alias("iris", "staging", third.version)
client.transition_model_version_stage("iris", "1", "Archived")
client.set_registered_model_tag("iris", "owner", "alice")
with mlflow.start_run(run_name="abandoned") as run:
    mlflow.log_metric("train/loss", 0.5, step=1)
    mlflow.set_tag("note", "tried and dropped")
client.delete_run(run.info.run_id)
