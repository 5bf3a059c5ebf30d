"""
``eventreg+<log url>`` URIs: which log they name, and that MLflow finds every plugin part.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException

from eventreg.mlflow._common import log_url

ROOT = Path(__file__).resolve().parents[2]


def test_log_url_makes_relative_paths_absolute(tmp_path):
    assert log_url("eventreg+sqlite:///reg.db") == f"sqlite:///{tmp_path}/reg.db"
    assert log_url("eventreg+file://logdir") == f"file://{tmp_path}/logdir"
    assert log_url("eventreg+postgresql+psycopg://u@h:5432/db") == "postgresql+psycopg://u@h:5432/db"


def test_log_url_of_an_artifact_uri_survives_a_dropped_slash():
    # MLflow's URI joins turn sqlite:////abs into sqlite://abs
    assert log_url("eventreg+sqlite://tmp/x/reg.db/-/runs/abc/artifacts/model") == "sqlite:////tmp/x/reg.db"
    assert log_url("eventreg+sqlite:////tmp/x/reg.db/-/runs/abc/artifacts") == "sqlite:////tmp/x/reg.db"


def test_other_uris_are_refused():
    with pytest.raises(MlflowException, match="not an eventreg store URI"):
        log_url("sqlite:///reg.db")


@pytest.mark.parametrize("first", ["eventreg.mlflow", "mlflow"])
def test_mlflow_resolves_every_scheme_whatever_is_imported_first(first):
    code = (f"import {first}\n"
            "from importlib.metadata import entry_points\n"
            "from mlflow import MlflowClient\n"
            "from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository\n"
            "for group in ('mlflow.tracking_store', 'mlflow.model_registry_store', 'mlflow.artifact_repository'):\n"
            "    names = {e.name for e in entry_points(group=group)}\n"
            "    for scheme in ('eventreg+sqlite', 'eventreg+postgresql', 'eventreg+postgresql+psycopg',\n"
            "                   'eventreg+mysql+pymysql', 'eventreg+file'):\n"
            "        assert scheme in names, (group, scheme)\n"
            "uri = 'eventreg+sqlite:///' + __import__('tempfile').mkdtemp() + '/reg.db'\n"
            "client = MlflowClient(tracking_uri=uri, registry_uri=uri)\n"
            "print(type(client._tracking_client.store).__name__, type(client._get_registry_client().store).__name__)\n"
            "repo = get_artifact_repository(uri + '/-/runs/abc/artifacts')  # a private log, not a shared /tmp path\n"
            "print(type(repo).__name__)\n")
    done = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["EventregTrackingStore", "EventregRegistryStore", "EventregArtifactRepository"]
