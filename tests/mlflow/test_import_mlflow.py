"""
``eventreg import-mlflow``: an MLflow SQLite store made by the seed flow (three versions, a
moved alias, a stage, a deleted run) reads the same through MLflow's client after the import
into eventreg, its models predict identically, a second import adds nothing, and an import
killed midway completes when run again.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import ViewType
from sklearn.datasets import load_iris

import eventreg
from eventreg.mlflow import _common
from eventreg.mlflow.importer import RUN_TAG, VERSION_TAG, import_mlflow

ROOT = Path(__file__).resolve().parents[2]
SEED = Path(__file__).with_name("seed_three.py")
EVENTREG = [sys.executable, "-c", "from eventreg.cli import main; main()"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "EVENTREG_"))}
    return {**env, "MLFLOW_ENABLE_TELEMETRY": "false", "EVENTREG_ACTOR": "importer",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])), **extra}


@pytest.fixture(scope="module")
def mlflow_db(tmp_path_factory) -> str:
    """
    MLflow's own SQLite store after the seed flow and more (made once: it takes ~30 s).
    """
    where = tmp_path_factory.mktemp("mlflow-source")
    uri = f"sqlite:///{where}/mlflow.db"
    done = subprocess.run([sys.executable, str(SEED)], cwd=where, env=_env(MLFLOW_TRACKING_URI=uri),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return uri


def _picture(tracking_uri: str) -> dict:
    """
    What MLflow's client reads from a store: experiments, runs (by MLflow run id), their
    params, tags, metric histories, models, versions, stages and aliases.
    """
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiments = {e.name: (e.lifecycle_stage, dict(e.tags))
                   for e in client.search_experiments(view_type=ViewType.ALL)}
    ids = {e.experiment_id: e.name for e in client.search_experiments(view_type=ViewType.ALL)}
    runs, names = {}, {}
    for run in client.search_runs(list(ids), run_view_type=ViewType.ALL):
        tags = dict(run.data.tags)
        original = tags.pop(RUN_TAG, run.info.run_id)
        names[run.info.run_id] = original
        info = run.info
        runs[original] = {
            "experiment": ids[info.experiment_id], "name": info.run_name, "status": info.status,
            "user": info.user_id, "stage": info.lifecycle_stage, "start": info.start_time, "end": info.end_time,
            "params": dict(run.data.params), "tags": tags,
            "history": {key: [(m.step, m.timestamp, m.value) for m in client.get_metric_history(info.run_id, key)]
                        for key in run.data.metrics},
        }
    models = {}
    for m in client.search_registered_models():
        versions = {}
        for found in client.search_model_versions(f"name='{m.name}'"):
            v = client.get_model_version(m.name, found.version)  # MLflow's search leaves aliases out
            tags = dict(v.tags)
            tags.pop(VERSION_TAG, None)
            versions[int(v.version)] = {"run": names.get(v.run_id, v.run_id), "stage": v.current_stage,
                                        "aliases": sorted(v.aliases), "description": v.description, "tags": tags}
        models[m.name] = {"aliases": dict(m.aliases), "tags": dict(m.tags), "description": m.description,
                          "versions": versions}
    return {"experiments": experiments, "runs": runs, "models": models}


def _same(a: dict, b: dict) -> None:
    assert a["experiments"] == b["experiments"]
    assert a["runs"].keys() == b["runs"].keys()
    for run_id, run in a["runs"].items():
        assert run == b["runs"][run_id]
    assert a["models"].keys() == b["models"].keys()
    for name, model in a["models"].items():
        for number, version in model["versions"].items():
            assert (name, number, version) == (name, number, b["models"][name]["versions"].get(number))
        assert model == b["models"][name]


def _predictions(tracking_uri: str) -> list[list[int]]:
    X, _ = load_iris(return_X_y=True)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    try:
        return [mlflow.pyfunc.load_model(f"models:/iris/{n}").predict(X).tolist() for n in (1, 2, 3)] + [
            mlflow.pyfunc.load_model("models:/iris@production").predict(X).tolist()]
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)


def _events(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as c:
            return c.execute("select count(*) from eventreg_events").fetchone()[0]
    except sqlite3.OperationalError:  # the importer has not created its tables yet
        return 0


def test_import_gives_the_same_store_and_models(mlflow_db, tmp_path):
    url = f"sqlite:///{tmp_path}/reg.db"
    lines: list[str] = []
    summary = import_mlflow(mlflow_db, to=url, actor="importer", progress=lines.append)
    assert (summary.experiments, summary.runs, summary.models, summary.versions, summary.aliases) == (2, 2, 1, 3, 2)
    assert summary.metric_points == 4 and summary.files == 6
    assert any("alias history starts at the import" in n for n in summary.notes)
    assert "version iris 3" in lines

    source, imported = _picture(mlflow_db), _picture(f"eventreg+{url}")
    _same(imported, source)
    assert source["models"]["iris"]["aliases"] == {"production": 2, "staging": 3}
    assert source["models"]["iris"]["versions"][1]["stage"] == "Archived"
    assert [s for s in (r["stage"] for r in source["runs"].values())].count("deleted") == 1
    seed = next(r for r in source["runs"].values() if r["name"] != "abandoned")
    assert [p[0::2] for p in seed["history"]["accuracy"]] == [(0, 0.9), (1, 0.91), (2, 0.92)]

    assert _predictions(f"eventreg+{url}") == _predictions(mlflow_db)

    with eventreg.open(url, artifacts=_common.artifacts_url(url)) as reg:
        head = reg.log.head()
        assert reg.verify().ok
        run = reg.get_version("iris", 1).run_id
        assert reg.get_run(run).actor == seed["user"]  # the MLflow user acted, not the importer
        assert reg.get_run(run).started_at.timestamp() * 1000 == seed["start"]  # MLflow's time, not the import's
        assert reg.history("iris")[0].actor == "importer"  # MLflow names no user for a model
    again = import_mlflow(mlflow_db, to=url)
    assert (again.experiments, again.runs, again.versions, again.aliases, again.skipped) == (0, 0, 0, 0, 5)
    with eventreg.open(url, artifacts=_common.artifacts_url(url)) as reg:
        assert reg.log.head() == head  # a second import adds no event


def test_killed_import_completes_when_run_again(mlflow_db, tmp_path):
    whole = tmp_path / "whole"
    whole.mkdir()
    import_mlflow(mlflow_db, to=f"sqlite:///{whole}/reg.db")
    db = tmp_path / "reg.db"
    command = [*EVENTREG, "import-mlflow", mlflow_db, "--to", f"sqlite:///{db}"]
    proc = subprocess.Popen(command, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while _events(db) == 0:  # poll, not a timer: stop it as soon as it has written something
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "the import wrote no event in 300 s"
            time.sleep(0.002)
        proc.send_signal(signal.SIGSTOP)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    before = _events(db)
    assert before > 0

    done = subprocess.run([*command[:-2], "--to", f"sqlite:///{db}"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    assert _events(db) > before  # the re-run wrote what the killed import had not
    _same(_picture(f"eventreg+sqlite:///{db}"), _picture(f"eventreg+sqlite:///{whole}/reg.db"))
    assert _predictions(f"eventreg+sqlite:///{db}") == _predictions(mlflow_db)
    again = subprocess.run([*EVENTREG, "--json", "import-mlflow", mlflow_db, "--to", f"sqlite:///{db}"],
                           cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-4000:]
    assert json.loads(again.stdout)["skipped"] == 5


def test_cli_errors_are_one_line_with_documented_codes(tmp_path):
    missing = subprocess.run([*EVENTREG, "import-mlflow", f"sqlite:///{tmp_path}/nope.db", "--to",
                              f"sqlite:///{tmp_path}/reg.db"], cwd=tmp_path, env=_env(), capture_output=True,
                             text=True, timeout=300)
    assert missing.returncode == 3
    assert missing.stderr.strip().splitlines() == [f"error: no MLflow database at 'sqlite:///{tmp_path}/nope.db'"]
    assert not (tmp_path / "nope.db").exists()  # MLflow was not allowed to create an empty one
    none = subprocess.run([*EVENTREG, "import-mlflow"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert none.returncode == 2 and len(none.stderr.strip().splitlines()) == 1


def test_an_unreachable_mlflow_database_is_one_line_and_exit_5_at_once(tmp_path):
    # MLflow's own SQL store would retry for about 100 s, logging each attempt, then the
    # import ended with exit 70 ("internal error"); the timeout below is far under that
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    uri = f"postgresql+psycopg://mlflow:s3cret@127.0.0.1:{port}/mlflow"
    down = subprocess.run([*EVENTREG, "import-mlflow", uri, "--to", f"sqlite:///{tmp_path}/reg.db"], cwd=tmp_path,
                          env=_env(), capture_output=True, text=True, timeout=60)
    assert down.returncode == 5, down.stderr
    [line] = down.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot reach MLflow's database 'postgresql+psycopg://mlflow:***@127.0.0.1:{port}/mlflow'")
    assert "s3cret" not in down.stderr + down.stdout


class _Interrupted(Exception):
    pass


@pytest.mark.parametrize("stop_after", ["run ", "version iris 2"])
def test_interrupted_import_is_completed_by_the_next(mlflow_db, tmp_path, stop_after):
    """
    An import stopped right after it started a run (nothing logged to it yet) or in the
    middle of a model's versions: the next import completes the run and the model.
    """
    url = f"sqlite:///{tmp_path}/reg.db"

    def stop(line: str) -> None:
        if line.startswith(stop_after):
            raise _Interrupted(line)

    with pytest.raises(_Interrupted):
        import_mlflow(mlflow_db, to=url, progress=stop)
    resumed = import_mlflow(mlflow_db, to=url)
    if stop_after == "run ":
        assert resumed.runs_completed == 1 and resumed.runs == 1  # the started run, then the deleted one
    else:
        assert (resumed.runs, resumed.versions, resumed.skipped) == (0, 1, 4)
    _same(_picture(f"eventreg+{url}"), _picture(mlflow_db))


def test_a_run_still_running_in_mlflow_is_brought_up_to_date(mlflow_db, tmp_path):
    import shutil

    source = tmp_path / "mlflow.db"
    shutil.copy(mlflow_db[len("sqlite:///"):], source)
    uri, url = f"sqlite:///{source}", f"sqlite:///{tmp_path}/reg.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.get_experiment_by_name("iris-exp").experiment_id
    live = client.create_run(experiment, run_name="still-training")
    client.log_metric(live.info.run_id, "loss", 0.9, step=0)
    import_mlflow(uri, to=url)
    client.log_metric(live.info.run_id, "loss", 0.7, step=1)
    client.log_param(live.info.run_id, "lr", "0.1")
    later = import_mlflow(uri, to=url)
    assert (later.runs, later.metric_points) == (0, 1)
    imported = _picture(f"eventreg+{url}")["runs"][live.info.run_id]
    assert imported["status"] == "RUNNING" and imported["params"] == {"lr": "0.1"}
    assert [p[0::2] for p in imported["history"]["loss"]] == [(0, 0.9), (1, 0.7)]
    _same(_picture(f"eventreg+{url}"), _picture(uri))


def test_import_into_postgresql(mlflow_db, postgres_url, tmp_path, monkeypatch):
    monkeypatch.setenv("EVENTREG_ARTIFACTS", f"file://{tmp_path}/artifacts")  # where the plugin reads them too
    summary = import_mlflow(mlflow_db, to=postgres_url, actor="importer")
    assert (summary.runs, summary.versions, summary.aliases) == (2, 3, 2)
    _same(_picture(f"eventreg+{postgres_url}"), _picture(mlflow_db))
    assert _predictions(f"eventreg+{postgres_url}") == _predictions(mlflow_db)
    assert import_mlflow(mlflow_db, to=postgres_url).skipped == 5
