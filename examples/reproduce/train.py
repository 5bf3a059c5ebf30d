"""
Train a seeded iris classifier and register it as a version of "iris".

    EVENTREG_URL=sqlite:///eventreg.db python examples/reproduce/train.py

Everything ``eventreg reproduce iris 1`` needs is recorded on the way: the code (git
commit and uncommitted diff, or this file), the environment, the dataset's digest, the
seed, the params, metrics and model, and the model's predictions on a probe set.
``--unseeded`` leaves the split and the forest to chance, to show what a
non-reproducible run looks like.
"""

import csv
import sys
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

import eventreg

DATA = Path(__file__).resolve().parent / "iris.csv"
SEEDED = "--unseeded" not in sys.argv[1:]


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    features = np.array([[float(r[k]) for k in ("sepal_length", "sepal_width", "petal_length", "petal_width")]
                         for r in rows])
    return features, np.array([r["species"] for r in rows])


with eventreg.open() as reg, reg.start_run("iris-training", registered_model_name="iris") as run:
    seed = eventreg.seed_everything(42)["seed"] if SEEDED else None
    run.log_dataset(DATA, name="iris", context="train")
    X, y = load(DATA)
    params = {"n_estimators": 50, "max_depth": 4, "test_size": 0.3, "seed": seed}
    run.log_params(params)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=params["test_size"], random_state=seed)
    model = RandomForestClassifier(n_estimators=params["n_estimators"], max_depth=params["max_depth"],
                                   max_features=2, random_state=seed).fit(X_train, y_train)
    predicted = model.predict(X_test)
    run.log_metrics({"accuracy": accuracy_score(y_test, predicted),
                     "f1_macro": f1_score(y_test, predicted, average="macro"),
                     "mean_confidence": float(model.predict_proba(X_test).max(axis=1).mean())})
    version = run.log_model(model, probe=X_test[:10])  # predictions on these are compared too
    if version is not None:
        print(f"registered {version.name} version {version.version}")
