"""
The seed flow runs unchanged with MLFLOW_TRACKING_URI=eventreg+<log url>, and afterwards
eventreg's own CLI shows, verifies and rolls back what MLflow did.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from click.testing import CliRunner

import eventreg
from eventreg.cli import cli

SEED = Path(__file__).with_name("seed_flow.py")
ROOT = Path(__file__).resolve().parents[2]


def _run_seed(tmp_path: Path, url: str) -> dict:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"eventreg+{url}", "EVENTREG_ACTOR": "alice",
           "EVENTREG_ARTIFACTS": f"file://{tmp_path}/artifacts", "MLFLOW_ENABLE_TELEMETRY": "false",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, str(SEED)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _check(tmp_path: Path, url: str) -> None:
    seen = _run_seed(tmp_path, url)
    assert seen["versions"] == [1, 2]
    assert seen["predictions"] == seen["expected"]
    assert seen["history"] == [[0, 0.9], [1, 0.91], [2, 0.92]]
    assert seen["search"] == [seen["run_id"]] and seen["n_estimators"] == ["10"]

    runner = CliRunner()
    base = ["--url", url, "--artifacts", f"file://{tmp_path}/artifacts", "--actor", "bob"]
    shown = runner.invoke(cli, [*base, "--json", "history", "iris"])
    assert shown.exit_code == 0, shown.output
    events = json.loads(shown.output)
    assert [e["type"] for e in events] == ["model.created", "version.registered", "version.registered",
                                           "alias.promoted", "alias.promoted"]
    assert {e["actor"] for e in events} == {"alice"}
    assert runner.invoke(cli, [*base, "verify"]).exit_code == 0
    rolled = runner.invoke(cli, [*base, "rollback", "iris", "--alias", "production"])
    assert rolled.exit_code == 0, rolled.output
    with eventreg.open(url, artifacts=f"file://{tmp_path}/artifacts") as reg:
        assert reg.get_model("iris").aliases == {"production": 1}
        assert reg.get_version("iris", "production").run_id == seen["run_id"]
        assert reg.history("iris")[-1].actor == "bob"


def test_seed_flow_on_sqlite(tmp_path):
    _check(tmp_path, f"sqlite:///{tmp_path}/reg.db")


def test_seed_flow_on_postgresql(tmp_path, postgres_url):
    _check(tmp_path, postgres_url)


def test_slash_in_metric_key(tmp_path):
    mlflow.set_tracking_uri(f"eventreg+sqlite:///{tmp_path}/reg.db")
    try:
        with mlflow.start_run() as run:
            mlflow.log_metric("train/loss", 0.5, step=1)
            mlflow.log_metric("train/loss", 0.25, step=2)
        history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "train/loss")
        assert [(m.step, m.value) for m in history] == [(1, 0.5), (2, 0.25)]
        found = mlflow.search_runs(filter_string="metrics.`train/loss` < 0.3", output_format="list")
        assert [r.info.run_id for r in found] == [run.info.run_id]
    finally:
        mlflow.set_tracking_uri(None)
