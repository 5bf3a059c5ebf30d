"""
The registry users call: commands that become events, and queries over the projection.

Every command follows one path: catch up with the log -> validate against the current
state -> build events -> ``append(stream, events, expected_version)``. If another writer
appended to the same stream first, the log raises ``ConcurrencyConflict``; the registry
catches up and decides again, a bounded number of times. So version numbers stay
1, 2, 3 ... and every alias move records the true previous holder, across processes.

Queries (in :class:`~eventreg.domain.queries.RegistryQueries`) catch up with the log and
answer from the in-memory projection.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from eventreg import snapshots
from eventreg.audit import AuditMixin
from eventreg.config import open_log, redact_url, resolve_settings
from eventreg.domain import events as ev
from eventreg.domain import validation as check
from eventreg.domain.codec import to_new_event
from eventreg.domain.events import ArtifactEntry, MetricPoint
from eventreg.domain.queries import RegistryQueries, VersionRef, _model, _run, _version
from eventreg.domain.references import ModelReference
from eventreg.domain.state import (
    ARCHIVED,
    DEPRECATED,
    RUNNING,
    RegistryState,
    apply,
    fold,
    snapshot_digest,
)
from eventreg.domain.views import Alias, Model, ModelVersion
from eventreg.environment import capture_code, capture_environment
from eventreg.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    InvalidTransition,
    NotFound,
    ValidationError,
)
from eventreg.gates import GateMixin
from eventreg.log import RecordedEvent, now
from eventreg.runs import ActiveRun, _chunks, _points
from eventreg.timetravel import bulk

#: How many times a command decides again after a concurrent writer got there first.
MAX_RETRIES = 50
#: Default number of new events after which closing the registry saves a snapshot.
SNAPSHOT_EVERY = 1000
#: A registry also saves one while open, once this many times ``snapshot_every`` events
#: (and at least a tenth of the projection's size in objects) have been written since
#: the last: a periodic save costs in proportion to the projection, so it stays a small
#: share of the cost of the commands, and an open replays at most that many events.
PERIODIC_FACTOR = 10


#: Events a command folds as the objects it appended (their fields are immutable, or JSON
#: the command normalised as decoding would: check_json_blob, check_params, check_tags).
_FOLD_AS_IS = (ev.RunMetricsLogged, ev.VersionMetricsLogged, ev.VersionRegistered)


def _code_version() -> str:
    from eventreg import __version__

    return __version__


@attrs.frozen
class _Plan:
    """
    What a command decided: events for one stream and how to build its return value.
    """

    stream: str
    events: list[Any]
    #: called with the state after the append and the events this command recorded
    result: Callable[[RegistryState, list[RecordedEvent]], Any] | None = None


def open(url: str | None = None, artifacts: str | None = None, actor: str | None = None, *,
         snapshot_every: int = SNAPSHOT_EVERY, artifact_options: Mapping[str, Any] | None = None,
         **log_options: Any) -> Registry:
    """
    Open the registry whose log is at ``url`` and whose artifacts are at ``artifacts``.

    Args:
        url: the log's URL (``sqlite:///eventreg.db``, ``postgresql+psycopg://...``,
            ``file:///dir``, ``memory://``); default ``EVENTREG_URL``, else
            ``sqlite:///./eventreg.db``.
        artifacts: the artifact store's URL (``file://...``, ``s3://bucket/prefix`` ...);
            default ``EVENTREG_ARTIFACTS``, else ``file://./eventreg-artifacts``.
        actor: who is acting, recorded on every event; default ``EVENTREG_ACTOR``, else
            the operating-system user.
        snapshot_every: save a projection snapshot on close when at least this many
            events were read or written since the last one, and while open after
            ``PERIODIC_FACTOR`` times as many (0: never).
        artifact_options: passed to the artifact store's filesystem (``endpoint_url``,
            ``key``/``secret`` ...).
        **log_options: passed to the log backend.

    Returns:
        A :class:`Registry`, also usable as a context manager.
    """
    url, artifacts, actor = resolve_settings(url, artifacts, actor)
    return Registry(open_log(url, **log_options), artifacts=artifacts, actor=actor,
                    snapshot_every=snapshot_every, artifact_options=artifact_options)


class Registry(AuditMixin, GateMixin, RegistryQueries):
    """
    Models, versions, runs and aliases over an event log. Thread-safe.

    Build one with :func:`eventreg.open`.
    """

    def __init__(self, log: Any, *, artifacts: str, actor: str, snapshot_every: int = SNAPSHOT_EVERY,
                 artifact_options: Mapping[str, Any] | None = None) -> None:
        check.check_text(actor, "actor", 200, allow_none=False)
        self.log = log
        self.actor = actor
        self.artifacts_url = artifacts
        self.artifact_options = dict(artifact_options or {})
        self.snapshot_every = snapshot_every
        self._store: Any = None
        self._lock = threading.RLock()
        self._state = RegistryState()
        self._snapshot_position = 0
        self._closed = False
        with bulk():  # a load or a long catch-up builds many objects that all stay alive
            self._load_snapshot()
            self._catch_up()

    # -- plumbing -------------------------------------------------------------------------

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Registry {redact_url(self.log.url)} actor={self.actor!r}>"

    def close(self) -> None:
        """
        Save a snapshot if many events were folded since the last one, then close the log.
        """
        with self._lock:
            if self._closed:
                return
            due = self._state.position - self._snapshot_position >= self.snapshot_every
            if self.snapshot_every and due and getattr(self.log, "persistent", True):
                self.save_snapshot()
            self._closed = True
            self.log.close()

    @property
    def position(self) -> int:
        """
        The last log position this registry has folded into its projection.
        """
        return self._state.position

    def save_snapshot(self) -> int:
        """
        Store the projection in the log's backend, so the next open reads only newer events.

        The snapshot's sha256 is appended to the log (a ``projection.snapshot_saved``
        event), so the hash chain vouches for it: a snapshot whose bytes the log does not
        vouch for is never used.

        Returns:
            The position the snapshot is valid at.
        """
        with self._lock:
            self._catch_up()
            position = self._state.position
            if position:
                data = snapshots.dump(self._state, _code_version())
                self.log.save_snapshot(position, data)
                saved = ev.SnapshotSaved(position=position, digest=snapshot_digest(data),
                                         format=snapshots.EVENT_FORMAT, code_version=_code_version())
                self.log.append(ev.SNAPSHOT_STREAM, [to_new_event(saved, actor=self.actor)])
                self._catch_up()
            self._snapshot_position = self._state.position
            return position

    def _load_snapshot(self) -> None:
        state = load_trusted_snapshot(self.log, _code_version())
        if state is not None:
            self._state = state
            self._snapshot_position = state.position

    def _catch_up(self) -> None:
        state = self._state
        unchanged = getattr(self.log, "unchanged_since", None)
        if unchanged is not None and unchanged(state.position):
            return  # the backend knows cheaply that nothing was appended after it
        fold(self.log.read_all(from_position=state.position + 1), state)

    def _save_periodic_snapshot(self) -> None:
        """
        Save a snapshot while open; a failure warns and never fails the command that
        triggered it (a snapshot only makes the next open faster).
        """
        try:
            self.save_snapshot()
        except Exception as e:  # noqa: BLE001 - reported, and tried again a period later
            self._snapshot_position = self._state.position
            warnings.warn(f"eventreg: saving a projection snapshot failed: {e}", RuntimeWarning, stacklevel=3)

    def _snapshot_due(self) -> bool:
        """
        Whether to save a snapshot now, while open (see :data:`PERIODIC_FACTOR`).
        """
        if not self.snapshot_every or not getattr(self.log, "persistent", True):
            return False
        state = self._state
        size = len(state.models) + len(state.runs) + sum(len(m.versions) for m in state.models.values()) \
            if state.position - self._snapshot_position >= self.snapshot_every * PERIODIC_FACTOR else 0
        return size > 0 and state.position - self._snapshot_position >= max(
            self.snapshot_every * PERIODIC_FACTOR, size // 10)

    def _read_state(self) -> RegistryState:
        self._catch_up()
        return self._state

    @contextmanager
    def _reading(self) -> Iterator[RegistryState]:
        with self._lock:
            self._catch_up()
            yield self._state

    def _execute(self, decide: Callable[[RegistryState], _Plan]) -> Any:
        """
        Catch up, decide, append with the stream's expected version; retry on conflict.
        """
        for attempt in range(MAX_RETRIES + 1):
            with self._lock:
                if self._closed:
                    raise InvalidTransition("the registry is closed")
                self._catch_up()
                plan = decide(self._state)
                if plan.events:
                    expected = self._state.streams.get(plan.stream, 0)
                    news = [to_new_event(e, actor=self.actor) for e in plan.events]
                    try:
                        recorded = self.log.append(plan.stream, news, expected)
                    except ConcurrencyConflict:
                        recorded = None
                    if recorded is not None:
                        if recorded and recorded[0].position == self._state.position + 1:
                            for item, event in zip(recorded, plan.events):
                                # metric points are immutable and the most numerous: fold the
                                # objects just appended instead of decoding their payloads again
                                apply(self._state, item, event if type(event) in _FOLD_AS_IS else None)
                        else:
                            self._catch_up()
                        outcome = plan.result(self._state, recorded) if plan.result else None
                        if self._snapshot_due():
                            self._save_periodic_snapshot()
                        return outcome
                else:
                    return plan.result(self._state, []) if plan.result else None
            time.sleep(random.uniform(0, min(0.002 * 2 ** min(attempt, 6), 0.1)))
        raise ConcurrencyConflict(
            f"gave up after {MAX_RETRIES} retries: other writers keep changing {plan.stream!r}",
            stream_id=plan.stream,
        )

    def _artifact_store(self) -> Any:
        if self._store is None:
            from eventreg.artifacts import ArtifactStore

            self._store = ArtifactStore(self.artifacts_url, **self.artifact_options)
        return self._store

    # -- models ---------------------------------------------------------------------------

    def create_model(self, name: str, *, description: str | None = None,
                     tags: Mapping[str, Any] | None = None) -> Model:
        """
        Register a new model name.

        Raises:
            AlreadyExists: a model of that name exists.
            ValidationError: the name, description or a tag is invalid.
        """
        name = check.check_name(name, "model name")
        description = check.check_text(description, "description", check.MAX_DESCRIPTION_LENGTH)
        tags = check.check_tags(tags)

        def decide(state: RegistryState) -> _Plan:
            if name in state.models:
                raise AlreadyExists(f"model {name!r} already exists")
            return _Plan(ev.model_stream(name),
                         [ev.ModelCreated(model=name, description=description, tags=tags)],
                         lambda s, _: Model.of(s.models[name]))

        return self._execute(decide)

    def update_model(self, name: str, *, description: str | None) -> Model:
        """
        Change a model's description.

        Raises:
            NotFound: there is no such model.
        """
        description = check.check_text(description, "description", check.MAX_DESCRIPTION_LENGTH)
        return self._model_command(name, lambda m: [ev.ModelUpdated(model=m.name, description=description)])

    def set_model_tag(self, name: str, key: str, value: Any) -> Model:
        """
        Set one tag of a model (strings; numbers are converted).
        """
        key = check.check_name(key, "tag key")
        value = check.check_tag_value(value, f"tag {key!r}")

        def build(model: Any) -> list[Any]:
            if key not in model.tags and len(model.tags) >= check.MAX_TAGS:
                raise ValidationError(f"model {name!r} has {check.MAX_TAGS:,} tags, the limit")
            return [ev.ModelTagSet(model=model.name, key=key, value=value)]

        return self._model_command(name, build)

    def delete_model_tag(self, name: str, key: str) -> Model:
        """
        Remove a tag from a model.

        Raises:
            NotFound: the model or tag does not exist.
        """

        def build(model: Any) -> list[Any]:
            if key not in model.tags:
                raise NotFound(f"model {name!r} has no tag {key!r}")
            return [ev.ModelTagDeleted(model=model.name, key=key)]

        return self._model_command(name, build)

    def archive_model(self, name: str, *, reason: str | None = None) -> Model:
        """
        Archive a model: it stays readable, takes no new versions, and its versions
        cannot be promoted without ``force=True``. Archiving twice changes nothing.
        """
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)
        return self._model_command(
            name, lambda m: [] if m.status == ARCHIVED else [ev.ModelArchived(model=m.name, reason=reason)]
        )

    def _model_command(self, name: str, build: Callable[[Any], list[Any]]) -> Model:
        def decide(state: RegistryState) -> _Plan:
            model = _model(state, name)
            return _Plan(ev.model_stream(model.name), build(model), lambda s, _: Model.of(s.models[model.name]))

        return self._execute(decide)

    # -- versions -------------------------------------------------------------------------

    def register_version(
        self,
        model: str,
        *,
        run: str | Any = None,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        artifacts: str | Path | None = None,
        data: Mapping[str, Any] | None = None,
        code: str | Mapping[str, Any] | None = "auto",
        architecture: Mapping[str, Any] | None = None,
        label: str | None = None,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        parents: Iterable[VersionRef] = (),
    ) -> ModelVersion:
        """
        Record a new version of ``model`` (created if it does not exist yet).

        Args:
            model: the model's name.
            run: a run (id or object) to take params, metrics (with history), artifacts,
                the logged model, environment and code from; explicit arguments add to them.
            params: hyperparameters.
            metrics: evaluation metrics, ``{"accuracy": 0.97}``.
            artifacts: a file or folder to store and record (path -> sha256, size).
            data: the training data, e.g. ``{"uri": "s3://b/iris.csv", "digest": "sha256:..."}``.
            code: ``"auto"`` (git repo, commit, dirty flag of the working directory, if it
                is a checkout), a mapping given by you, or None.
            architecture: e.g. ``{"flavor": "sklearn", "class": "RandomForestClassifier"}``.
            label: a human name unique within the model, e.g. ``"v1.1"``.
            description: free text.
            tags: string tags.
            parents: versions of this model it derives from.

        Returns:
            The new :class:`ModelVersion`, numbered one above the model's last.

        Raises:
            ValidationError: an argument is invalid or over a limit; nothing is written.
            AlreadyExists: the label is taken.
            InvalidTransition: the model is archived.
            NotFound: the run or a parent does not exist.
        """
        name = check.check_name(model, "model name")
        if label is not None:
            label = check.check_version_name(label, "label")
        description = check.check_text(description, "description", check.MAX_DESCRIPTION_LENGTH)
        tags = check.check_tags(tags)
        params = check.check_params(params)
        stamp = now()
        points = [MetricPoint(key=check.check_name(k, "metric key"), value=check.check_metric_value(k, v),
                              step=None, timestamp=stamp) for k, v in (metrics or {}).items()]
        data = check.check_json_blob(data, "data")
        architecture = check.check_json_blob(architecture, "architecture")
        if isinstance(code, str):
            if code != "auto":
                raise ValidationError(f"code must be 'auto', a mapping or None, not {code!r}")
            code_info = capture_code()
        else:
            code_info = check.check_json_blob(code, "code")
        parent_refs = list(parents or ())
        if len(parent_refs) > check.MAX_PARENTS:
            raise ValidationError(f"{len(parent_refs)} parents; the limit is {check.MAX_PARENTS}")
        stored = self._store_path(artifacts) if artifacts is not None else {}
        run_id = getattr(run, "id", run)

        def decide(state: RegistryState) -> _Plan:
            found = state.models.get(name)
            if found is not None and found.status == ARCHIVED:
                raise InvalidTransition(f"model {name!r} is archived and takes no new versions")
            all_params: dict[str, Any] = {}
            all_points: list[MetricPoint] = []
            all_artifacts: dict[str, ArtifactEntry] = {}
            model_info = None
            environment = None
            run_code = None
            source_id = None
            if run_id is not None:
                source = _run(state, run_id)
                source_id = source.run_id
                all_params.update(source.params)
                for history in source.metric_history.values():
                    all_points.extend(history)
                all_artifacts.update(source.artifacts)
                model_info = source.model_info
                environment = source.environment or None
                run_code = source.code
            all_params.update(params)
            if len(all_params) > check.MAX_PARAMS:
                raise ValidationError(f"{len(all_params):,} params; the limit is {check.MAX_PARAMS:,}")
            all_points.extend(points)
            all_artifacts.update(stored)
            arch = architecture
            if arch is None and model_info is not None:
                flavor = model_info.get("flavor") or {}
                arch = {k: flavor[k] for k in ("flavor", "class", "module") if k in flavor} or None
            frameworks = _frameworks(arch, model_info)
            env = capture_environment(frameworks)
            if environment:  # the run's, from the training process, completed with ours
                env = {**env, **environment,
                       "packages": {**env.get("packages", {}), **environment.get("packages", {})}}
            version_code = run_code if (code == "auto" and run_code) else code_info
            number = len(found.versions) + 1 if found is not None else 1
            parent_numbers = []
            for ref in parent_refs:
                if found is None:
                    raise NotFound(f"model {name!r} has no version {ref!r} to be a parent")
                parent_numbers.append(_version(found, ref).version)
            if found is not None and label is not None:
                if label in found.labels:
                    raise AlreadyExists(
                        f"label {label!r} is already version {found.labels[label]} of {name!r}"
                    )
                if label in found.aliases:
                    raise ValidationError(f"label {label!r} is already an alias of {name!r}")
            new: list[Any] = [] if found is not None else [ev.ModelCreated(model=name)]
            chunks = _chunks(all_points) or [()]
            new.append(ev.VersionRegistered(
                model=name, version=number, label=label, description=description,
                params=all_params, metrics=chunks[0], tags=tags,
                artifacts=all_artifacts, model_info=model_info, data=data, code=version_code,
                environment=env, architecture=arch, run_id=source_id, parents=tuple(parent_numbers),
            ))
            # a long metric history follows in bounded events of the same atomic append
            new.extend(ev.VersionMetricsLogged(model=name, version=number, points=chunk) for chunk in chunks[1:])
            return _Plan(ev.model_stream(name), new,
                         lambda s, _: ModelVersion.of(s.models[name], s.models[name].versions[number]))

        return self._execute(decide)

    def update_version(self, model: str, version: VersionRef, *, description: str | None) -> ModelVersion:
        """
        Change a version's description.
        """
        description = check.check_text(description, "description", check.MAX_DESCRIPTION_LENGTH)
        return self._version_command(
            model, version, lambda v: [ev.VersionUpdated(model=v.model, version=v.version, description=description)]
        )

    def log_metric(self, model: str, version: VersionRef, key: str, value: float,
                   step: int | None = None) -> ModelVersion:
        """
        Add a point to a version's metric (e.g. an evaluation after registration).
        """
        return self.log_metrics(model, version, {key: value}, step=step)

    def log_metrics(self, model: str, version: VersionRef, metrics: Mapping[str, float],
                    step: int | None = None) -> ModelVersion:
        """
        Add one point to each of several metrics of a version, in one event.
        """
        points = _points(metrics, step)
        return self._version_command(
            model, version, lambda v: [ev.VersionMetricsLogged(model=v.model, version=v.version, points=chunk)
                                       for chunk in _chunks(points)]
        )

    def set_version_tag(self, model: str, version: VersionRef, key: str, value: Any) -> ModelVersion:
        """
        Set one tag of a version.
        """
        key = check.check_name(key, "tag key")
        value = check.check_tag_value(value, f"tag {key!r}")

        def build(v: Any) -> list[Any]:
            if key not in v.tags and len(v.tags) >= check.MAX_TAGS:
                raise ValidationError(f"version {v.version} of {v.model!r} has {check.MAX_TAGS:,} tags, the limit")
            return [ev.VersionTagSet(model=v.model, version=v.version, key=key, value=value)]

        return self._version_command(model, version, build)

    def delete_version_tag(self, model: str, version: VersionRef, key: str) -> ModelVersion:
        """
        Remove a tag from a version.

        Raises:
            NotFound: the version or tag does not exist.
        """

        def build(v: Any) -> list[Any]:
            if key not in v.tags:
                raise NotFound(f"version {v.version} of {v.model!r} has no tag {key!r}")
            return [ev.VersionTagDeleted(model=v.model, version=v.version, key=key)]

        return self._version_command(model, version, build)

    def deprecate_version(self, model: str, version: VersionRef, *, reason: str | None = None) -> ModelVersion:
        """
        Mark a version deprecated: still readable, not promotable without ``force=True``.

        Raises:
            InvalidTransition: the version is archived.
        """
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)

        def build(v: Any) -> list[Any]:
            if v.status == ARCHIVED:
                raise InvalidTransition(f"version {v.version} of {v.model!r} is archived")
            if v.status == DEPRECATED:
                return []
            return [ev.VersionDeprecated(model=v.model, version=v.version, reason=reason)]

        return self._version_command(model, version, build)

    def archive_version(self, model: str, version: VersionRef, *, reason: str | None = None) -> ModelVersion:
        """
        Mark a version archived: still readable, not promotable without ``force=True``.
        """
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)
        return self._version_command(
            model, version,
            lambda v: [] if v.status == ARCHIVED else [ev.VersionArchived(model=v.model, version=v.version, reason=reason)],
        )

    def _version_command(self, model: str, version: VersionRef, build: Callable[[Any], list[Any]]) -> ModelVersion:
        def decide(state: RegistryState) -> _Plan:
            found = _model(state, model)
            target = _version(found, version)
            number = target.version
            name = found.name
            return _Plan(ev.model_stream(name), build(target),
                         lambda s, _: ModelVersion.of(s.models[name], s.models[name].versions[number]))

        return self._execute(decide)

    # -- aliases --------------------------------------------------------------------------

    def promote(self, model: str, version: VersionRef, *, alias: str, reason: str | None = None,
                force: bool = False) -> Alias:
        """
        Point ``alias`` at ``version``, recording the version it replaces and why.

        Promoting the version that already holds the alias changes nothing.

        Raises:
            NotFound: the model or version does not exist.
            InvalidTransition: the version is deprecated or archived (or the model is
                archived) and ``force`` is false.
            ValidationError: the alias name is invalid or is a label of the model.
        """
        alias = check.check_version_name(alias, "alias")
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)

        def decide(state: RegistryState) -> _Plan:
            found = _model(state, model)
            name = found.name
            target = _version(found, version)
            if alias in found.labels:
                raise ValidationError(f"alias {alias!r} is already a label of {name!r}")
            current = found.aliases.get(alias)
            result = _alias_move(name, alias)
            if current == target.version:
                return _Plan(ev.model_stream(name), [], result)
            forced = _check_promotable(found, target, force, "promote")
            return _Plan(ev.model_stream(name), [ev.AliasPromoted(
                model=name, alias=alias, version=target.version, previous=current,
                reason=reason, forced=forced)], result)

        return self._execute(decide)

    def rollback(self, model: str, *, alias: str, reason: str | None = None,
                 to: VersionRef | None = None, force: bool = False) -> Alias:
        """
        Move ``alias`` back to the version that held it before the current one.

        A second rollback goes one further back through the alias's own history.

        Args:
            model: the model's name.
            alias: the alias to move back.
            reason: why, recorded in the log.
            to: an earlier holder of the alias to return to directly.
            force: allow returning to a deprecated or archived version.

        Raises:
            NotFound: the model or alias does not exist.
            InvalidTransition: the alias has no earlier holder, ``to`` never held it, or
                the target is deprecated/archived and ``force`` is false.
        """
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)

        def decide(state: RegistryState) -> _Plan:
            found = _model(state, model)
            name = found.name
            if alias not in found.aliases:
                raise NotFound(f"model {model!r} has no alias {alias!r}")
            stack = found.alias_stacks[alias]
            current = stack[-1]
            if to is None:
                if len(stack) < 2:
                    raise InvalidTransition(
                        f"alias {alias!r} of {model!r} has no earlier holder to roll back to "
                        f"(version {current} is its first)"
                    )
                target = found.versions[stack[-2]]
            else:
                target = _version(found, to)
                if target.version == current:
                    raise InvalidTransition(f"alias {alias!r} of {model!r} already points at version {current}")
                if target.version not in stack[:-1]:
                    raise InvalidTransition(
                        f"version {target.version} is not an earlier holder of alias {alias!r} "
                        f"of {model!r}; use promote to move it there"
                    )
            forced = _check_promotable(found, target, force, "roll back to")
            return _Plan(ev.model_stream(name), [ev.AliasRolledBack(
                model=name, alias=alias, version=target.version, previous=current,
                reason=reason, forced=forced)], _alias_move(name, alias))

        return self._execute(decide)

    def alias_holders(self, model: str, alias: str) -> list[Alias]:
        """
        Every move of an alias, oldest first (the full history is ``history`` of issue 5).
        """
        with self._reading() as state:
            found = _model(state, model)
            if alias not in found.alias_history:
                raise NotFound(f"model {model!r} has no alias {alias!r}")
            return list(found.alias_history[alias])

    # -- runs -----------------------------------------------------------------------------

    def start_run(self, experiment: str | None = None, *, name: str | None = None,
                  tags: Mapping[str, Any] | None = None, code: str | Mapping[str, Any] | None = "auto") -> ActiveRun:
        """
        Start a run in ``experiment`` (created if needed; default ``"Default"``).

        Use it as a context manager: leaving the block records ``FINISHED``, or
        ``FAILED`` with the exception type when the block raises.

        Returns:
            An :class:`ActiveRun` with ``log_param``, ``log_metric``, ``log_model`` ...
        """
        experiment = check.check_name(experiment if experiment is not None else "Default", "experiment")
        if name is not None:
            check.check_text(name, "run name", check.MAX_NAME_LENGTH, allow_none=False)
        tags = check.check_tags(tags)
        if isinstance(code, str):
            if code != "auto":
                raise ValidationError(f"code must be 'auto', a mapping or None, not {code!r}")
            code_info = capture_code()
        else:
            code_info = check.check_json_blob(code, "code")
        environment = capture_environment()
        run_id = uuid.uuid4().hex

        def ensure_experiment(state: RegistryState) -> _Plan:
            exists = ev.experiment_stream(experiment) in state.streams
            return _Plan(ev.experiment_stream(experiment), [] if exists else [ev.ExperimentCreated(experiment=experiment)])

        self._execute(ensure_experiment)
        self._execute(lambda state: _Plan(ev.run_stream(run_id), [ev.RunStarted(
            run_id=run_id, experiment=experiment, name=name, tags=tags, environment=environment,
            code=code_info)]))
        return ActiveRun(self, run_id, experiment)

    def _run_command(self, run_id: str, build: Callable[[Any], list[Any]]) -> None:
        def decide(state: RegistryState) -> _Plan:
            run = _run(state, run_id)
            if run.status != RUNNING:
                raise InvalidTransition(f"run {run_id!r} has ended ({run.status})")
            return _Plan(ev.run_stream(run_id), build(run))

        self._execute(decide)

    def _end_run(self, run_id: str, status: str, error: str | None) -> None:
        def decide(state: RegistryState) -> _Plan:
            run = _run(state, run_id)
            if run.status != RUNNING:
                return _Plan(ev.run_stream(run_id), [])  # ending twice changes nothing
            return _Plan(ev.run_stream(run_id), [ev.RunFinished(run_id=run_id, status=status, error=error)])

        self._execute(decide)

    # -- artifacts ------------------------------------------------------------------------

    def _store_path(self, path: str | Path, prefix: str | None = None) -> dict[str, ArtifactEntry]:
        """
        Store a file or a folder's files; return their entries keyed by relative path.
        """
        if not Path(path).exists():
            raise NotFound(f"no file or folder at {str(path)!r}")
        manifest = self._artifact_store().put_tree(path, prefix=prefix)
        if len(manifest) > check.MAX_ARTIFACT_FILES:
            raise ValidationError(f"{len(manifest):,} files; the limit is {check.MAX_ARTIFACT_FILES:,}")
        return {rel: ArtifactEntry(sha256=entry.sha256, size=entry.size) for rel, entry in manifest.items()}

    def _manifest(self, entries: Mapping[str, ArtifactEntry]) -> Any:
        from eventreg.artifacts import Manifest

        return Manifest.from_json({path: {"sha256": e.sha256, "size": e.size} for path, e in entries.items()})

    def download(self, model: str, version: VersionRef, dest: str | Path) -> Path:
        """
        Download a version's artifacts into ``dest`` (each file checked against its digest).

        Returns:
            The destination folder.

        Raises:
            NotFound: the model or version does not exist.
            ArtifactIntegrityError: a stored file does not match its recorded digest.
        """
        found = self.get_version(model, version)
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        self._artifact_store().download(self._manifest(found.artifacts), dest)
        return dest

    def load_model(self, reference: str | ModelReference | ModelVersion) -> Any:
        """
        Load the model object of a version, e.g. ``load_model("models:/iris@production")``.

        The files are checked against their recorded digests before anything is unpickled.

        Raises:
            NotFound: the version does not exist or has no logged model.
            ArtifactIntegrityError: a stored file does not match its recorded digest.
        """
        from eventreg.flavors import fetch_model

        found = reference if isinstance(reference, ModelVersion) else self.resolve(reference)
        if not found.model_info:
            raise NotFound(f"version {found.version} of {found.name!r} has no logged model")
        info = {**found.model_info["flavor"], "path": found.model_info["path"]}
        return fetch_model(self._artifact_store(), self._manifest(found.artifacts), info)


def load_trusted_snapshot(log: Any, code_version: str) -> RegistryState | None:
    """
    The projection in the log's latest snapshot, if it can be trusted; else None.

    Trusted means: this state format and ``code_version``, its position and hash are
    those of the log, and a ``projection.snapshot_saved`` event in the log records the
    sha256 of its exact bytes. Anything else is ignored and the caller folds the log.
    """
    snapshot = log.latest_snapshot()
    if snapshot is None:
        return None
    state = snapshots.load(snapshot.data, code_version)
    if state is None or state.position != snapshot.position:
        return None  # another format or code version, or damaged
    at = next(iter(log.read_all(from_position=state.position, limit=1)), None)
    if at is None or at.hash != state.last_hash:
        return None  # it does not describe this log
    digest = snapshot_digest(snapshot.data)
    for recorded in reversed(log.read_stream(ev.SNAPSHOT_STREAM)):
        if recorded.payload.get("position") == state.position and recorded.payload.get("digest") == digest:
            return state
    return None  # the log does not vouch for these bytes


def _alias_move(model: str, alias: str) -> Callable[[RegistryState, list[RecordedEvent]], Alias]:
    """
    The result of promote/rollback: the move this command recorded (other writers may
    have moved the alias again before the registry caught up), or the current one.
    """

    def result(state: RegistryState, recorded: list[RecordedEvent]) -> Alias:
        history = state.models[model].alias_history[alias]
        if recorded:
            position = recorded[-1].position
            for move in reversed(history):
                if move.position == position:
                    return move
        return history[-1]

    return result


def _check_promotable(model: Any, version: Any, force: bool, verb: str) -> bool:
    """
    Whether the move needs ``force`` (recorded as ``forced``); raise if it is not given.
    """
    blocked = None
    if version.status in (DEPRECATED, ARCHIVED):
        blocked = f"version {version.version} of {model.name!r} is {version.status.lower()}"
    elif model.status == ARCHIVED:
        blocked = f"model {model.name!r} is archived"
    if blocked is None:
        return False
    if not force:
        raise InvalidTransition(f"cannot {verb} it: {blocked} (pass force=True to do it anyway)")
    return True


def _frameworks(architecture: Mapping[str, Any] | None, model_info: Mapping[str, Any] | None) -> tuple[str, ...]:
    names = []
    for source in (architecture or {}, (model_info or {}).get("flavor") or {}):
        for key in ("flavor", "module", "framework"):
            value = source.get(key)
            if isinstance(value, str) and value:
                names.append(value.split(".", 1)[0])
    return tuple(dict.fromkeys(names))
