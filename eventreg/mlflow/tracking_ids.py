"""
MLflow experiment ids of eventreg experiments: an experiment's number (the log position of
its ``experiment.created``), ``"0"`` for ``Default``.
"""

from __future__ import annotations

from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

__all__ = ["DEFAULT_ID", "DEFAULT_NAME", "experiment_id", "parse_experiment_id"]

DEFAULT_ID, DEFAULT_NAME = "0", "Default"


def parse_experiment_id(experiment_id: Any) -> int:
    """
    An MLflow experiment id as eventreg's experiment number (``0``: ``Default``).
    """
    if isinstance(experiment_id, bool) or not isinstance(experiment_id, (str, int)):
        raise MlflowException(f"Invalid experiment ID '{experiment_id}'. Experiment ID must be a valid integer.",
                              INVALID_PARAMETER_VALUE)
    try:
        return int(experiment_id)
    except ValueError:
        raise MlflowException(f"Invalid experiment ID '{experiment_id}'. Experiment ID must be a valid integer.",
                              INVALID_PARAMETER_VALUE) from None


def experiment_id(e: Any) -> str:
    """
    The MLflow id of an eventreg experiment: its number (the log position that created
    it), ``"0"`` for ``Default``.
    """
    return DEFAULT_ID if e.name == DEFAULT_NAME else str(e.id)
