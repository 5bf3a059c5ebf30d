"""
The seed example: train a RandomForest on iris, log it, register it, promote it, roll back.

Runs against the embedded default (``./eventreg.db`` and ``./eventreg-artifacts`` in the
current folder, or whatever ``EVENTREG_URL`` / ``EVENTREG_ARTIFACTS`` say). Needs
scikit-learn: ``pip install 'eventreg[sklearn]'``. Run it twice and it simply adds
versions 3 and 4.

    python examples/quickstart.py
"""

from __future__ import annotations

from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

import eventreg

EXPERIMENT = "iris_classifier_project"


def train(reg: eventreg.Registry, n_estimators: int) -> eventreg.ModelVersion:
    """
    Train one RandomForest in a run, log it, and register it as a version of ``iris``.
    """
    features, labels = load_iris(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=0.3, random_state=42, stratify=labels)
    with reg.start_run(experiment=EXPERIMENT) as run:
        model = RandomForestClassifier(n_estimators=n_estimators, random_state=42)
        model.fit(x_train, y_train)
        accuracy = accuracy_score(y_test, model.predict(x_test))
        run.log_param("n_estimators", n_estimators)
        run.log_metric("accuracy", accuracy)
        run.log_model(model, "model")
    return reg.register_version("iris", run=run.id, description=f"RandomForest, {n_estimators} trees")


def main() -> None:
    with eventreg.open() as reg:  # the embedded default, or EVENTREG_URL / EVENTREG_ARTIFACTS
        first = train(reg, n_estimators=10)
        print(f"registered iris version {first.version}: accuracy {first.metrics['accuracy']:.3f}")
        reg.promote("iris", first.version, alias="production", reason="first model")

        second = train(reg, n_estimators=100)
        print(f"registered iris version {second.version}: accuracy {second.metrics['accuracy']:.3f}")
        reg.promote("iris", second.version, alias="production", reason="more trees")

        serving = reg.load_model("models:/iris@production")
        print("production serves", type(serving).__name__, "version", reg.resolve("models:/iris@production").version)

        back = reg.rollback("iris", alias="production", reason="latency regression")
        print(f"rolled production back from version {back.previous} to version {back.version}")

        for move in reg.alias_holders("iris", "production"):
            before = f"version {move.previous}" if move.previous else "(none)"
            print(f"  #{move.position} {move.action:8} {before} -> version {move.version} "
                  f"by {move.actor}: {move.reason}")
        print(reg.compare("iris", [first.version, second.version]))


if __name__ == "__main__":
    main()
