"""
The MLflow store an import reads, through MLflow's own client: any tracking and registry
URI MLflow supports (a SQLite or other SQL database, a file store, a tracking server).

Everything is read page by page with MLflow's public ``MlflowClient``; artifacts are
downloaded by MLflow's own artifact repositories. ``artifacts_from`` serves an MLflow
store whose artifact folder moved: a location under an experiment's recorded
``artifact_location`` is read from ``<artifacts_from>/<experiment id>/...`` instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from eventreg.config import redact_url
from eventreg.errors import BackendUnavailable, ConfigurationError, NotFound

_PAGE = 1000


def check_uri(uri: str, what: str) -> str:
    """
    A source URI as MLflow takes it; a SQLite database that does not exist is an error
    (MLflow would create an empty one).

    Raises:
        ConfigurationError: not a string, or an ``eventreg+`` URI (use ``eventreg copy``).
        NotFound: a ``sqlite:///`` file or a local folder that does not exist.
        BackendUnavailable: a PostgreSQL or MySQL server that does not answer or refuses the login.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise ConfigurationError(f"{what} must be an MLflow tracking URI such as sqlite:///mlflow.db")
    if uri.startswith("eventreg+"):
        raise ConfigurationError(f"{what} {uri!r} is already an eventreg registry: copy it with `eventreg copy`")
    parts = urlsplit(uri)
    if parts.scheme == "sqlite":
        path = uri[len("sqlite:///"):] if uri.startswith("sqlite:///") else ""
        if path in ("", ":memory:") or not Path(path if path.startswith("/") else os.path.abspath(path)).is_file():
            raise NotFound(f"no MLflow database at {uri!r}")
    elif parts.scheme in ("", "file") and not Path(parts.path or uri).exists():
        raise NotFound(f"no MLflow store at {uri!r}")
    elif parts.scheme.split("+")[0] in _SERVER_DATABASES:
        _reachable(uri)
    return uri


# MLflow's SQL store retries a database it cannot reach ten times over about 100 s, logging
# each attempt: an import checks once, with a short timeout, before MLflow opens it.
_SERVER_DATABASES = ("postgresql", "mysql", "mariadb")


def _reachable(uri: str) -> None:
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(uri, connect_args={"connect_timeout": 10})
    except ImportError as e:
        raise ConfigurationError(f"MLflow's database {redact_url(uri)!r} needs a driver that is not installed: {e}") from None
    except sqlalchemy.exc.ArgumentError as e:
        raise ConfigurationError(f"not a database URL MLflow can open: {redact_url(uri)!r} ({e})") from None
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.SQLAlchemyError as e:
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise BackendUnavailable(f"cannot reach MLflow's database {redact_url(uri)!r}: {reason}") from None
    finally:
        engine.dispose()


class MlflowSource:
    """
    What an MLflow store holds, read with MLflow's client.

    Args:
        tracking_uri: MLflow's tracking URI (``sqlite:///mlflow.db``, ``http://host:5000`` ...).
        registry_uri: its model-registry URI (default: the tracking URI).
        artifacts_from: a local folder that now holds the store's artifact root.
    """

    def __init__(self, tracking_uri: str, registry_uri: str | None = None, artifacts_from: str | None = None) -> None:
        self.tracking_uri = check_uri(tracking_uri, "the MLflow tracking URI")
        self.registry_uri = check_uri(registry_uri, "the MLflow registry URI") if registry_uri else tracking_uri
        if artifacts_from is not None and not Path(artifacts_from).is_dir():
            raise NotFound(f"no folder at {artifacts_from!r} (--artifacts-from)")
        self.artifacts_from = artifacts_from
        try:
            self.client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)
        except MlflowException as e:
            raise ConfigurationError(f"MLflow cannot open {tracking_uri!r}: {e.message}") from None
        self._locations: dict[str, str] = {}

    # -- tracking ---------------------------------------------------------------------------

    def experiments(self) -> list[Any]:
        """
        Every experiment, deleted ones too, oldest first.
        """
        found = list(_pages(lambda token: self.client.search_experiments(
            view_type=ViewType.ALL, max_results=_PAGE, page_token=token, order_by=["creation_time ASC"])))
        for e in found:
            self._locations[e.experiment_id] = e.artifact_location or ""
        return found

    def runs(self, experiment_id: str) -> list[Any]:
        """
        Every run of an experiment, deleted ones too, oldest first.
        """
        return list(_pages(lambda token: self.client.search_runs(
            [experiment_id], run_view_type=ViewType.ALL, max_results=_PAGE, page_token=token,
            order_by=["attributes.start_time ASC", "attributes.run_id ASC"])))

    def metric_history(self, run_id: str, key: str) -> list[Any]:
        """
        Every point of a run's metric, in MLflow's order.
        """
        return list(self.client.get_metric_history(run_id, key))

    def logged_models(self, experiment_id: str) -> list[Any]:
        """
        The logged models (MLflow 3) of an experiment.
        """
        try:
            return list(_pages(lambda token: self.client.search_logged_models(
                experiment_ids=[experiment_id], max_results=100, page_token=token)))
        except (MlflowException, NotImplementedError):  # a store from before MLflow 3
            return []

    # -- registry ---------------------------------------------------------------------------

    def registered_models(self) -> list[Any]:
        """
        Every registered model, by name.
        """
        found = list(_pages(lambda token: self.client.search_registered_models(max_results=_PAGE, page_token=token)))
        return sorted(found, key=lambda m: m.name)

    def versions(self, name: str) -> list[Any]:
        """
        Every version of a registered model, by number.
        """
        quoted = name.replace("'", "\\'")
        found = list(_pages(lambda token: self.client.search_model_versions(
            f"name='{quoted}'", max_results=_PAGE, page_token=token)))
        return sorted(found, key=lambda v: int(v.version))

    # -- artifacts --------------------------------------------------------------------------

    def local(self, uri: str) -> str:
        """
        An artifact location, moved under ``artifacts_from`` when it lies under an
        experiment's recorded artifact location.
        """
        if not self.artifacts_from or not uri:
            return uri
        for experiment_id, location in self._locations.items():
            if location and (uri == location or uri.startswith(location.rstrip("/") + "/")):
                rest = uri[len(location):].lstrip("/")
                return str(Path(self.artifacts_from, experiment_id, rest))
        return uri

    def download(self, uri: str, into: str) -> str | None:
        """
        Download the files at an artifact location into a folder; None if there are none.
        """
        from mlflow.artifacts import download_artifacts

        uri = self.local(uri)
        path = urlsplit(uri).path if uri.startswith("file:") else uri
        if "://" not in uri and not Path(path).exists():
            return None  # MLflow made no folder for a run that logged no artifacts
        try:
            out = download_artifacts(artifact_uri=uri, dst_path=into, tracking_uri=self.tracking_uri)
        except (MlflowException, OSError) as e:
            raise NotFound(f"cannot read MLflow's artifacts at {uri!r}: {e} (--artifacts-from names a "
                           "folder that now holds MLflow's artifact root)") from None
        return out if any(files for _, _, files in os.walk(out)) else None

    def version_uri(self, name: str, version: str) -> str:
        """
        Where MLflow keeps a version's files.
        """
        return self.client.get_model_version_download_uri(name, version)


def _pages(call: Any) -> Iterator[Any]:
    token = None
    while True:
        page = call(token)
        yield from page
        token = page.token
        if not token:
            return
