"""
The MLflow plugin's tests need MLflow (the ``mlflow`` extra, part of ``test``): without it
they skip locally and fail under CI=true, where the project's own files install it.
"""

from __future__ import annotations

import os

import pytest

from tests.fixtures.services import REQUIRE_SERVICES

try:
    import mlflow  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    if REQUIRE_SERVICES:
        raise RuntimeError("CI=true: the MLflow plugin tests need `pip install -e '.[test]'` (mlflow extra)") from e
    collect_ignore_glob = ["test_*.py"]


_SETTINGS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "EVENTREG_ARTIFACTS", "EVENTREG_URL")


@pytest.fixture(autouse=True)
def _mlflow_clean(monkeypatch, tmp_path):
    """
    Each test in its own directory, with no MLflow or eventreg settings from outside, and
    none left behind: ``mlflow.set_registry_uri(None)`` keeps the MLFLOW_REGISTRY_URI it
    exported, which later tests' subprocesses (the docs' examples) would inherit.
    """
    for var in _SETTINGS:
        monkeypatch.setenv(var, "")  # recorded, so the teardown restores what was there (or nothing)
        monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
    yield
