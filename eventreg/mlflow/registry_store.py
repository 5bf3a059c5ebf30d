"""
MLflow's model-registry store on eventreg: each MLflow call becomes one registry command.

Registered models are eventreg models, versions are versions (a run's params, metrics and
artifacts are copied into the version by ``register_version``), aliases are promotions.
MLflow's source, run link and model id of a version have no field in eventreg yet; they are
kept as the version tags ``mlflow.source``, ``mlflow.runLink`` and ``mlflow.modelId`` (and
``mlflow.runId`` for a run that is not in this log), which the store hides from MLflow's
tag list.
"""

from __future__ import annotations

import functools
from typing import Any

from mlflow.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)
from mlflow.entities.model_registry.model_version_stages import (
    ALL_STAGES,
    DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS,
    STAGE_ARCHIVED,
    STAGE_DELETED_INTERNAL,
    STAGE_NONE,
    STAGE_PRODUCTION,
    STAGE_STAGING,
    get_canonical_stage,
)
from mlflow.entities.model_registry.model_version_status import ModelVersionStatus
from mlflow.entities.webhook import Webhook, WebhookEvent, WebhookStatus
from mlflow.exceptions import MlflowException
from mlflow.prompt.registry_utils import add_prompt_filter_string, handle_resource_already_exist_error, has_prompt_tag
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_ALREADY_EXISTS, RESOURCE_DOES_NOT_EXIST
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry.abstract_store import AbstractStore
from mlflow.utils.validation import (
    _validate_model_alias_name,
    _validate_model_alias_name_reserved,
    _validate_model_name,
    _validate_model_version,
    _validate_model_version_tag,
    _validate_registered_model_tag,
    _validate_tag_name,
    _validate_webhook_events,
    _validate_webhook_name,
    _validate_webhook_url,
)
from mlflow.utils.search_utils import SearchModelUtils, SearchModelVersionUtils, SearchUtils

from eventreg.errors import NotFound
from eventreg.mlflow import _common
from eventreg.mlflow._common import millis, translated, unsupported

#: Version tags that carry MLflow fields eventreg has no field for yet (hidden from MLflow).
SOURCE, RUN_ID, RUN_LINK, MODEL_ID = "mlflow.source", "mlflow.runId", "mlflow.runLink", "mlflow.modelId"
_HIDDEN = (SOURCE, RUN_ID, RUN_LINK, MODEL_ID)
#: eventreg's status of a version for each MLflow stage, and back (DEPRECATED shows as "None")
_STATUS_OF = {STAGE_NONE: "READY", STAGE_STAGING: "STAGING", STAGE_PRODUCTION: "PRODUCTION", STAGE_ARCHIVED: "ARCHIVED"}
_STAGE_OF = {status: stage for stage, status in _STATUS_OF.items()}
_MAX_RESULTS = 1000  # SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD / ..._MODEL_VERSION_...
_MAX_VERSION_RESULTS = 200_000


class EventregRegistryStore(AbstractStore):
    """
    MLflow's ``AbstractStore`` for the model registry, on an eventreg log.

    Args:
        store_uri: ``eventreg+<log url>``, e.g. ``eventreg+sqlite:///reg.db``.
        tracking_uri: MLflow's tracking URI (unused: runs are read from the same log).
    """

    #: Methods of the base class whose inherited body works on top of this class's methods.
    INHERITED = (
        "copy_model_version", "create_prompt", "search_prompts", "delete_prompt", "set_prompt_tag",
        "delete_prompt_tag", "get_prompt", "create_prompt_version", "get_prompt_version",
        "delete_prompt_version", "get_prompt_version_by_alias", "set_prompt_alias", "delete_prompt_alias",
        "search_prompt_versions", "set_prompt_version_tag", "delete_prompt_version_tag",
        "link_prompt_version_to_model", "link_prompt_version_to_run", "link_prompts_to_trace",
        "supports_workspaces",
    )

    def __init__(self, store_uri: str | None = None, tracking_uri: str | None = None) -> None:
        super().__init__(store_uri, tracking_uri)
        self.store_uri = store_uri
        self.url = _common.log_url(store_uri)
        self.registry = _common.registry(self.url)

    # -- translation ------------------------------------------------------------------------

    def _model(self, model: Any) -> RegisteredModel:
        latest = list(self._latest_by_stage(model.name).values()) if model.latest_version else []
        return RegisteredModel(
            name=model.name, creation_timestamp=millis(model.created_at),
            last_updated_timestamp=millis(model.updated_at), description=model.description,
            latest_versions=latest, tags=[RegisteredModelTag(k, v) for k, v in model.tags.items()],
            aliases=[RegisteredModelAlias(a, v) for a, v in sorted(model.aliases.items())],
        )

    def _version(self, version: Any) -> ModelVersion:
        tags = version.tags
        return ModelVersion(
            name=version.name, version=version.version, creation_timestamp=millis(version.created_at),
            last_updated_timestamp=millis(version.updated_at), description=version.description,
            user_id=version.actor, current_stage=_STAGE_OF.get(version.status, STAGE_NONE),
            source=tags.get(SOURCE, ""), run_id=version.run_id or tags.get(RUN_ID),
            status=ModelVersionStatus.to_string(ModelVersionStatus.READY),
            tags=[ModelVersionTag(k, v) for k, v in tags.items() if k not in _HIDDEN],
            run_link=tags.get(RUN_LINK), aliases=list(version.aliases), model_id=tags.get(MODEL_ID),
        )

    # -- registered models --------------------------------------------------------------------

    def create_registered_model(self, name, tags=None, description=None, deployment_job_id=None):
        if deployment_job_id:
            raise unsupported("deployment jobs", "a Databricks feature")
        _name(name)
        for t in tags or ():
            _validate_registered_model_tag(t.key, t.value)
        with translated():
            existing = next((m for m in self.registry.list_models() if m.name == name), None)
            if existing is not None:
                handle_resource_already_exist_error(name, has_prompt_tag(existing.tags), has_prompt_tag(tags))
            return self._model(self.registry.create_model(
                _name(name), description=description, tags={t.key: t.value for t in tags or ()}))

    def update_registered_model(self, name, description, deployment_job_id=None):
        if deployment_job_id:
            raise unsupported("deployment jobs", "a Databricks feature")
        with translated():
            return self._model(self.registry.update_model(self._get_model(name).name, description=description))

    def rename_registered_model(self, name, new_name):
        raise unsupported("renaming a registered model", "eventreg has no model.renamed event yet")

    def delete_registered_model(self, name):
        with translated():
            self.registry.delete_model(self._get_model(name).name)

    def search_registered_models(self, filter_string=None, max_results=None, order_by=None, page_token=None):
        max_results = _max_results(max_results, _MAX_RESULTS, 100)
        with translated():
            models = [self._model(m) for m in self.registry.list_models()]
        for clause in order_by or ():
            SearchUtils.parse_order_by_for_search_registered_models(clause)
        filter_string = add_prompt_filter_string(filter_string, is_prompt=False)
        hits = SearchModelUtils.sort(SearchModelUtils.filter(models, filter_string), order_by)
        return _page(hits, page_token, max_results)

    def get_registered_model(self, name):
        return self._model(self._get_model(name))

    def _get_model(self, name: Any) -> Any:
        try:
            return self.registry.get_model(_name(name))
        except NotFound:
            raise MlflowException(f"Registered Model with name={name} not found", RESOURCE_DOES_NOT_EXIST) from None

    def _get_version(self, name: Any, version: Any) -> Any:
        number = _number(version)
        try:
            return self.registry.get_version(_name(name), number)
        except NotFound:
            raise MlflowException(f"Model Version (name={name}, version={version}) not found",
                                  RESOURCE_DOES_NOT_EXIST) from None

    def _latest_by_stage(self, name: str) -> dict[str, ModelVersion]:
        with translated():
            versions = self.registry.list_versions(name)
        latest: dict[str, ModelVersion] = {}
        for v in versions:
            mv = self._version(v)
            latest[mv.current_stage] = mv
        return latest

    def get_latest_versions(self, name, stages=None):
        latest = self._latest_by_stage(self._get_model(name).name)
        if not stages:
            return list(latest.values())
        wanted = {s.lower() for s in stages}
        return [mv for stage, mv in latest.items() if stage.lower() in wanted]

    def set_registered_model_tag(self, name, tag):
        _name(name)
        _validate_registered_model_tag(tag.key, tag.value)
        with translated():
            self.registry.set_model_tag(self._get_model(name).name, tag.key, tag.value)

    def delete_registered_model_tag(self, name, key):
        _name(name)
        _validate_tag_name(key)
        with translated():
            model = self._get_model(name)
            if key in model.tags:
                self.registry.delete_model_tag(model.name, key)

    # -- versions ---------------------------------------------------------------------------

    def create_model_version(self, name, source, run_id=None, tags=None, run_link=None, description=None,
                             local_model_path=None, model_id=None):
        reg = self.registry
        _name(name)
        for t in tags or ():
            _validate_model_version_tag(t.key, t.value)
        extra = {t.key: t.value for t in tags or ()}
        hidden = {SOURCE: source or "", RUN_LINK: run_link, MODEL_ID: model_id}
        with translated():
            model = reg.get_model(_name(name))
            run = None
            if run_id:
                try:
                    run = reg.get_run(run_id)
                except Exception:  # noqa: BLE001 - a run of another tracking store
                    hidden[RUN_ID] = run_id
            artifacts = local_model_path or _local_source(source)
            version = reg.register_version(
                model.name, run=run.id if run is not None else None, artifacts=artifacts, code=None,
                description=description, tags={**extra, **{k: v for k, v in hidden.items() if v}})
            return self._version(version)

    def update_model_version(self, name, version, description):
        with translated():
            v = self._get_version(name, version)
            return self._version(self.registry.update_version(v.name, v.version, description=description))

    def transition_model_version_stage(self, name, version, stage, archive_existing_versions):
        canonical = get_canonical_stage(stage)
        if archive_existing_versions and canonical not in DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS:
            raise MlflowException(f"Model version transition cannot archive existing model versions because "
                                  f"'{stage}' is not an Active stage. Valid stages are "
                                  f"{DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS}")
        with translated():
            v = self._get_version(name, version)
            self.registry.set_version_stage(v.name, v.version, _STATUS_OF[canonical],
                                            archive_existing=bool(archive_existing_versions))
            return self._version(self._get_version(v.name, v.version))

    def delete_model_version(self, name, version):
        with translated():
            found = self._get_version(name, version)
            self.registry.delete_version(found.name, found.version)

    def get_model_version(self, name, version):
        with translated():
            return self._version(self._get_version(name, version))

    def get_model_version_download_uri(self, name, version):
        with translated():
            found = self._get_version(name, version)
        source = found.tags.get(SOURCE, "")
        prefix = _model_prefix(source, found)
        uri = f"{_common.PREFIX}{self.url}{_common.SEP}models/{found.name}/versions/{found.version}"
        if found.artifacts:
            return f"{uri}/{prefix}" if prefix else uri
        copied = _version_source(source)
        if copied is not None and copied != (found.name, found.version):
            return self.get_model_version_download_uri(*copied)  # a copy reads its source's files
        return source

    def search_model_versions(self, filter_string=None, max_results=None, order_by=None, page_token=None):
        max_results = _max_results(max_results, _MAX_VERSION_RESULTS, 10_000)
        # MLflow's filter and order_by parsers (sqlparse) cost more than the search itself: parse
        # each distinct string once; a ``name = '...'`` clause reads only that model's versions
        clauses = _version_filter(add_prompt_filter_string(filter_string, is_prompt=False))
        sort_key = _version_order(tuple(order_by or _VERSION_ORDER))
        names = {c["value"] for c in clauses if c.get("type") == "attribute" and c.get("key") == "name"
                 and c.get("comparator") == "="}
        with translated():
            if len(names) == 1:
                versions = [_Sortable(self, v) for v in self._versions_of(next(iter(names)))]
            else:
                versions = [_Sortable(self, v) for m in self.registry.list_models()
                            for v in self.registry.list_versions(m.name)]
        match = SearchModelVersionUtils._does_model_version_match_clauses
        hits = [v for v in versions if v.current_stage != STAGE_DELETED_INTERNAL and all(match(v, c) for c in clauses)]
        if not order_by and all(v.last_updated_timestamp is not None and isinstance(v.version, int) for v in hits):
            sort_key = _default_version_order  # the same order as MLflow's key, without its wrappers
        hits.sort(key=sort_key)
        page = _page(hits, page_token, max_results)
        return PagedList([v.entity for v in page], page.token)

    def _versions_of(self, name: str) -> list[Any]:
        try:
            return self.registry.list_versions(name)
        except NotFound:
            return []

    def set_model_version_tag(self, name, version, tag):
        _name(name)
        _number(version)
        _validate_model_version_tag(tag.key, tag.value)
        _visible(tag.key)
        with translated():
            v = self._get_version(name, version)
            self.registry.set_version_tag(v.name, v.version, tag.key, tag.value)

    def delete_model_version_tag(self, name, version, key):
        _name(name)
        _number(version)
        _validate_tag_name(key)
        _visible(key)
        with translated():
            found = self._get_version(name, version)
            if key in found.tags:
                self.registry.delete_version_tag(found.name, found.version, key)

    def get_model_version_stages(self, name, version):
        return ALL_STAGES

    # -- aliases ----------------------------------------------------------------------------

    def set_registered_model_alias(self, name, alias, version):
        _name(name)
        _validate_model_alias_name(alias)
        _validate_model_alias_name_reserved(alias)
        _number(version)
        with translated():
            v = self._get_version(name, version)
            self.registry.promote(v.name, v.version, alias=alias)

    def delete_registered_model_alias(self, name, alias):
        _name(name)
        _validate_model_alias_name(alias)
        with translated():
            model = self._get_model(name)
            if alias in model.aliases:
                self.registry.remove_alias(model.name, alias)

    def get_model_version_by_alias(self, name, alias):
        with translated():
            model = self._get_model(name)
            if alias not in model.aliases:
                raise MlflowException(f"Registered model alias {alias} not found.", INVALID_PARAMETER_VALUE)
            return self._version(self.registry.get_version(model.name, model.aliases[alias]))


    # -- webhooks ----------------------------------------------------------------------------
    # Each is an eventreg webhook (events webhook.created/updated/deleted on its own stream);
    # MLflow's server delivers them, asking list_webhooks_by_event after each registry write.

    def _webhook(self, hook: Any) -> Webhook:
        return Webhook(webhook_id=hook.id, name=hook.name, url=hook.url,
                       events=[WebhookEvent.from_str(e) for e in hook.events],
                       creation_timestamp=millis(hook.created_at), last_updated_timestamp=millis(hook.updated_at),
                       description=hook.description, status=WebhookStatus(hook.status),
                       secret=None if hook.secret is None else _cipher().decrypt(hook.secret.encode()).decode())

    def _get_webhook(self, webhook_id: Any) -> Any:
        try:
            return self.registry.get_webhook(webhook_id)
        except NotFound:
            raise MlflowException(f"Webhook with ID {webhook_id} not found.", RESOURCE_DOES_NOT_EXIST) from None

    def create_webhook(self, name, url, events, description=None, secret=None, status=None):
        _validate_webhook_name(name)
        _validate_webhook_url(url)
        _validate_webhook_events(events)
        with translated():
            return self._webhook(self.registry.create_webhook(
                name, url, [str(e) for e in events], description=description, secret=_seal(secret),
                status=(status or WebhookStatus.ACTIVE).value))

    def get_webhook(self, webhook_id):
        with translated():
            return self._webhook(self._get_webhook(webhook_id))

    def list_webhooks(self, max_results=None, page_token=None):
        return self._list_webhooks(None, max_results, page_token)

    def list_webhooks_by_event(self, event, max_results=None, page_token=None):
        return self._list_webhooks(str(event), max_results, page_token)

    def _list_webhooks(self, event: str | None, max_results: Any, page_token: Any) -> PagedList:
        max_results = max_results or 100
        if max_results < 1 or max_results > 1000:
            raise MlflowException("max_results must be between 1 and 1000.", INVALID_PARAMETER_VALUE)
        with translated():
            hooks = self.registry.list_webhooks(event)
        return _page([self._webhook(h) for h in hooks], page_token, max_results)

    def update_webhook(self, webhook_id, name=None, description=None, url=None, events=None, secret=None,
                       status=None):
        with translated():
            self._get_webhook(webhook_id)
            if name is not None:
                _validate_webhook_name(name)
            if url is not None:
                _validate_webhook_url(url)
            if events is not None:
                _validate_webhook_events(events)
            return self._webhook(self.registry.update_webhook(
                webhook_id, name=name, url=url, events=None if events is None else [str(e) for e in events],
                description=description, secret=_seal(secret), status=None if status is None else status.value))

    def delete_webhook(self, webhook_id):
        with translated():
            self._get_webhook(webhook_id)
            self.registry.delete_webhook(webhook_id)


_common.complete(EventregRegistryStore, AbstractStore)
_CIPHER: list[Any] = []


def _cipher() -> Any:
    """
    The Fernet key webhook secrets are sealed with, as MLflow's SQL store does:
    ``MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY``, else one made for this process (the log
    keeps only ciphertext, so a secret sealed with a lost key cannot be read back).
    """
    if not _CIPHER:
        from cryptography.fernet import Fernet
        from mlflow.environment_variables import MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY

        _CIPHER.append(Fernet(MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY.get() or Fernet.generate_key()))
    return _CIPHER[0]


def _seal(secret: str | None) -> str | None:
    return None if secret is None else _cipher().encrypt(secret.encode()).decode()



def _version_source(source: Any) -> tuple[str, int] | None:
    """
    The (model, version) a ``models:/<name>/<version>`` source names (a copied version).
    """
    if not isinstance(source, str) or not source.startswith("models:/"):
        return None
    name, _, version = source[len("models:/"):].rpartition("/")
    return (name, int(version)) if name and version.isdigit() else None


def _name(name: Any) -> str:
    _validate_model_name(name)
    return name


def _number(version: Any) -> int:
    return _validate_model_version(version)


def _visible(key: str) -> None:
    if key in _HIDDEN:
        raise MlflowException(f"tag {key!r} is reserved by eventreg's MLflow store", INVALID_PARAMETER_VALUE)


def _max_results(value: Any, limit: int, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, (int, float)) and value > limit and limit == _MAX_RESULTS:
        raise MlflowException(f"Invalid value for request parameter max_results. It must be at most {limit}, "
                              f"but got value {value}", INVALID_PARAMETER_VALUE)
    if not isinstance(value, int) or value < 1:
        raise MlflowException(f"Invalid value for max_results. It must be a positive integer, but got {value}",
                              INVALID_PARAMETER_VALUE)
    if value > limit:
        raise MlflowException(f"Invalid value for request parameter max_results. It must be at most {limit}, "
                              f"but got value {value}", INVALID_PARAMETER_VALUE)
    return value


class _Sortable:
    """
    A version as MLflow's search filters and sorts it: the fields they read, made from the
    eventreg version without building MLflow's entity (built for the page, or for any other
    field asked).
    """

    def __init__(self, store: EventregRegistryStore, version: Any) -> None:
        self._store, self._domain = store, version
        tags = version.tags
        self.name, self.version = version.name, version.version
        self.creation_timestamp = millis(version.created_at)
        self.last_updated_timestamp = millis(version.updated_at)
        self.current_stage = _STAGE_OF.get(version.status, STAGE_NONE)
        self.source = tags.get(SOURCE, "")
        self.run_id = version.run_id or tags.get(RUN_ID)
        self.tags = {k: v for k, v in tags.items() if k not in _HIDDEN}

    @functools.cached_property
    def entity(self) -> ModelVersion:
        return self._store._version(self._domain)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.entity, name)


def _default_version_order(v: _Sortable) -> tuple[int, str, int]:
    return -v.last_updated_timestamp, v.name, -v.version


_VERSION_ORDER = ("last_updated_timestamp DESC", "name ASC", "version_number DESC")


@functools.lru_cache(maxsize=256)
def _version_filter(filter_string: str | None) -> list[dict[str, Any]]:
    return SearchModelVersionUtils.parse_search_filter(filter_string)


@functools.lru_cache(maxsize=256)
def _version_order(order_by: tuple[str, ...]) -> Any:
    return SearchModelVersionUtils._get_sort_key(list(order_by))


def _page(hits: list[Any], page_token: str | None, max_results: int) -> PagedList:
    start = SearchUtils.parse_start_offset_from_page_token(page_token)
    end = start + max_results
    return PagedList(hits[start:end], SearchUtils.create_page_token(end) if end < len(hits) else None)


def _local_source(source: Any) -> str | None:
    """
    A local folder a version's source names (stored digest-checked), else None.
    """
    from pathlib import Path
    from urllib.parse import urlsplit

    if not isinstance(source, str) or not source:
        return None
    path = urlsplit(source).path if source.startswith("file:") else source
    if "://" in path or ":/" in source and not source.startswith("file:"):
        return None
    return path if Path(path).is_dir() else None


def _model_prefix(source: str, version: Any) -> str:
    """
    The folder of a version's artifacts that holds its MLflow model (``MLmodel``).
    """
    if _common.SEP in source and "/artifacts/" in source:
        return source.split(_common.SEP, 1)[1].split("/artifacts/", 1)[1].strip("/")
    if source.startswith("runs:/"):
        return source[len("runs:/"):].partition("/")[2].strip("/")
    for path in version.artifacts:
        if path == "MLmodel":
            return ""
        if path.endswith("/MLmodel"):
            return path[: -len("/MLmodel")]
    return ""
