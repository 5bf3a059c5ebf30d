"""
MLflow plugin stores: unchanged MLflow code on an eventreg registry.

``eventreg+<log url>`` (``eventreg+sqlite:///reg.db``, ``eventreg+postgresql+psycopg://...``)
selects :class:`~eventreg.mlflow.tracking_store.EventregTrackingStore` and
:class:`~eventreg.mlflow.registry_store.EventregRegistryStore` through MLflow's entry points,
and :class:`~eventreg.mlflow.artifacts.EventregArtifactRepository` for the artifact URIs the
stores hand out. Each store method translates MLflow's entities to one eventreg call and
back; what eventreg cannot record yet raises ``MlflowException`` naming the missing feature.
"""

from eventreg.mlflow.artifacts import EventregArtifactRepository
from eventreg.mlflow.registry_store import EventregRegistryStore
from eventreg.mlflow.tracking_store import EventregTrackingStore

__all__ = ["EventregArtifactRepository", "EventregRegistryStore", "EventregTrackingStore"]
