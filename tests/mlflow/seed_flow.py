"""
The seed flow, as an MLflow user writes it: only mlflow, mlflow.sklearn and MlflowClient.
Run with MLFLOW_TRACKING_URI=eventreg+<log url>; prints one JSON line of what it saw.
"""

import json

import mlflow
import mlflow.sklearn
from mlflow import MlflowClient
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

X, y = load_iris(return_X_y=True)
mlflow.set_experiment("iris-exp")
with mlflow.start_run() as run:
    mlflow.log_param("n_estimators", 10)
    for step in range(3):
        mlflow.log_metric("accuracy", 0.9 + step / 100, step=step)
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    mlflow.sklearn.log_model(model, "model")
mv1 = mlflow.register_model(f"runs:/{run.info.run_id}/model", "iris")
mv2 = mlflow.register_model(f"runs:/{run.info.run_id}/model", "iris")
client = MlflowClient()
client.set_registered_model_alias("iris", "production", mv1.version)
client.set_registered_model_alias("iris", "production", mv2.version)
loaded = mlflow.pyfunc.load_model("models:/iris@production")
history = client.get_metric_history(run.info.run_id, "accuracy")
runs = mlflow.search_runs(experiment_names=["iris-exp"])
print(json.dumps({
    "run_id": run.info.run_id,
    "versions": [mv1.version, mv2.version],
    "predictions": loaded.predict(X[:5]).tolist(),
    "expected": model.predict(X[:5]).tolist(),
    "history": [[m.step, m.value] for m in history],
    "search": runs["run_id"].tolist(),
    "n_estimators": runs["params.n_estimators"].tolist(),
}))
