"""
Factories for running MLflow's own store tests against the eventreg stores.

MLflow's store tests build ``SqlAlchemyStore("sqlite:///<per-test file>")``; the peer-test
kit's switch (``MLFLOW_PEER_STORE=eventreg.mlflow.testing:registry_store``,
``MLFLOW_PEER_TRACKING_STORE=eventreg.mlflow.testing:tracking_store``) calls these instead,
which put an eventreg log in that file.
"""

from __future__ import annotations

from eventreg.mlflow import _common
from eventreg.mlflow.registry_store import EventregRegistryStore
from eventreg.mlflow.tracking_store import EventregTrackingStore


def _eventreg_uri(db_uri: str) -> str:
    return db_uri if db_uri.startswith(_common.PREFIX) else _common.PREFIX + db_uri


def registry_store(db_uri: str) -> EventregRegistryStore:
    """
    The eventreg registry store on the log at ``db_uri`` (a ``sqlite:///`` URI).
    """
    return EventregRegistryStore(_eventreg_uri(db_uri))


def tracking_store(db_uri: str, default_artifact_root: str | None = None) -> EventregTrackingStore:
    """
    The eventreg tracking store on the log at ``db_uri``.
    """
    return EventregTrackingStore(_eventreg_uri(db_uri), default_artifact_root)
