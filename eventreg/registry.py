"""
The registry users call: a writer of commands that hands out read-only views.

:class:`Registry` owns the log through a :class:`~eventreg.writer.Writer`: every command
validates its input, decides against the caught-up projection, and appends the events
with the stream's expected version (see :mod:`eventreg.writer`). Every read is answered by
one :class:`~eventreg.view.RegistryView` over the live projection (``reg.get_version`` is
``RegistryView.get_version`` on "now"), and :meth:`Registry.as_of` hands out a view over
a past moment with the very same methods.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from eventreg import audit, commands
from eventreg import capture as repro_capture
from eventreg._version import __version__
from eventreg.config import open_log, redact_url, resolve_settings
from eventreg.domain import events as ev
from eventreg.domain import validation as check
from eventreg.domain.entities import ARCHIVED, DEPRECATED, RegistryState
from eventreg.domain.events import ArtifactEntry, MetricPoint
from eventreg.domain.queries import VersionRef, _model, _version, check_label_free
from eventreg.domain.views import Alias, ModelVersion
from eventreg.errors import InvalidTransition, NotFound, ValidationError
from eventreg.artifact_reads import ARTIFACT_READS, ArtifactReads
from eventreg.experiments import EXPERIMENT_COMMANDS, ExperimentCommands
from eventreg.gates import GateResult
from eventreg.governance import GOVERNANCE_COMMANDS, GOVERNANCE_READS, Governance
from eventreg.log import Head, RecordedEvent, now
from eventreg.model_commands import MODEL_COMMANDS, ModelCommands
from eventreg.runs import ActiveRun, _chunks, _points
from eventreg.view import RegistryView, registry_read as _read
from eventreg.webhooks import WEBHOOK_COMMANDS, WEBHOOK_READS, Webhooks
from eventreg.writer import MAX_RETRIES, PERIODIC_FACTOR, SNAPSHOT_EVERY, Plan, Writer

__all__ = ["MAX_RETRIES", "PERIODIC_FACTOR", "SNAPSHOT_EVERY", "ActiveRun", "Registry", "open"]


def _code_version() -> str:
    return __version__


def open(url: str | None = None, artifacts: str | None = None, actor: str | None = None, *,
         create: bool = True, snapshot_every: int = SNAPSHOT_EVERY,
         artifact_options: Mapping[str, Any] | None = None, signing_key: Any = None,
         key_passphrase: str | None = None, **log_options: Any) -> Registry:
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
        create: create the log's store (database file, folder, tables) if there is
            none; with False a missing store raises ``RegistryNotFound`` instead, so a
            typo in the URL never creates an empty registry.
        snapshot_every: save a projection snapshot on close when at least this many
            events were read or written since the last one, and while open after
            ``PERIODIC_FACTOR`` times as many (0: never).
        artifact_options: passed to the artifact store's filesystem (``endpoint_url``,
            ``key``/``secret`` ...).
        signing_key: sign every event appended with this key (see ``Registry.sign_with``);
            ``key_passphrase`` opens an encrypted one.
        **log_options: passed to the log backend.

    Returns:
        A :class:`Registry`, also usable as a context manager.
    """
    url, artifacts, actor = resolve_settings(url, artifacts, actor)
    registry = Registry(open_log(url, create=create, **log_options), artifacts=artifacts, actor=actor,
                        snapshot_every=snapshot_every, artifact_options=artifact_options)
    if signing_key is not None:
        registry._governance.sign_on_open(signing_key, key_passphrase)  # closes the registry if refused
    return registry


class Registry:
    """
    Models, versions, runs and aliases over an event log. Thread-safe.

    Build one with :func:`eventreg.open`. Commands append to the log; reads are those of
    :class:`~eventreg.view.RegistryView`, answered from the projection caught up "now".
    """

    def __init__(self, log: Any, *, artifacts: str, actor: str, snapshot_every: int = SNAPSHOT_EVERY,
                 artifact_options: Mapping[str, Any] | None = None) -> None:
        check.check_text(actor, "actor", 200, allow_none=False)
        self.log = log
        self.actor = actor
        self.artifacts_url = artifacts
        self.artifact_options = dict(artifact_options or {})
        self._store: Any = None
        self._writer = Writer(log, actor=actor, snapshot_every=snapshot_every)
        self._now = RegistryView(log, self._writer, artifact_store=self._artifact_store, live=True)
        self._governance = Governance(self)
        self._models = ModelCommands(self)
        self._webhooks = Webhooks(self)
        self._artifact_reads = ArtifactReads(self._now)
        self._experiments = ExperimentCommands(self)

    # -- plumbing -------------------------------------------------------------------------

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Registry {redact_url(self.log.url)} actor={self.actor!r}>"

    @property
    def snapshot_every(self) -> int:
        """
        Events after which a snapshot is saved on close (and, times ``PERIODIC_FACTOR``, while open).
        """
        return self._writer.snapshot_every

    @snapshot_every.setter
    def snapshot_every(self, value: int) -> None:
        self._writer.snapshot_every = value

    @property
    def _state(self) -> RegistryState:
        return self._writer.state

    @property
    def _snapshot_position(self) -> int:
        return self._writer.snapshot_position

    def _reading(self) -> Any:
        return self._writer.reading()

    def _read_state(self) -> RegistryState:
        with self._writer.reading() as state:
            return state

    def _execute(self, decide: Callable[[RegistryState], Plan]) -> Any:
        return self._writer.execute(decide)

    def close(self) -> None:
        """
        Save a snapshot if many events were folded since the last one, then close the log.
        """
        self._writer.close()

    @property
    def position(self) -> int:
        """
        The last log position this registry has folded into its projection.
        """
        return self._writer.state.position

    def save_snapshot(self) -> int:
        """
        Store the projection in the log's backend, so the next open reads only newer events.

        The snapshot's sha256 is appended to the log (a ``projection.snapshot_saved``
        event), so the hash chain vouches for it: a snapshot whose bytes the log does not
        vouch for is never used.

        Returns:
            The position the snapshot is valid at.
        """
        return self._writer.save_snapshot()

    def _artifact_store(self) -> Any:
        if self._store is None:
            from eventreg.artifacts import ArtifactStore

            self._store = ArtifactStore(self.artifacts_url, **self.artifact_options)
        return self._store

    # -- reads: the live view's -----------------------------------------------------------

    get_model = _read("get_model")
    list_models = _read("list_models")
    get_version = _read("get_version")
    resolve = _read("resolve")
    list_versions = _read("list_versions")
    get_metric_history = _read("get_metric_history")
    get_metric_buckets = _read("get_metric_buckets")
    get_alias = _read("get_alias")
    alias_holders = _read("alias_holders")
    search_versions = _read("search_versions")
    compare = _read("compare")
    get_run = _read("get_run")
    search_runs = _read("search_runs")
    get_run_metric_history = _read("get_run_metric_history")
    get_run_metric_buckets = _read("get_run_metric_buckets")
    get_metric_summary, get_run_metric_summary = _read("get_metric_summary"), _read("get_run_metric_summary")
    list_experiments = _read("list_experiments")
    history = _read("history")
    last_change = _read("last_change")
    alias_history = _read("alias_history")
    events = _read("events")
    head = _read("head")
    as_of = _read("as_of")
    audit_report = _read("audit_report")

    # -- the whole log: diff, proof, subscriptions, gates -----------------------------------

    def diff(self, a: Any, b: Any) -> audit.RegistryDiff:
        """
        What changed between two moments: models and versions added, aliases moved, tags,
        metrics, statuses and descriptions changed.

        Args:
            a: the earlier moment (position, datetime or ISO-8601 string).
            b: the later moment; if it is earlier than ``a``, the changes run backwards.

        Raises:
            ValidationError: a moment is not valid or lies after the head.
        """
        return audit.diff(self.log, a, b, code_version=__version__)

    def verify(self, *, expected_head: Head | tuple[int, str] | str | None = None,
               artifacts: bool = False) -> audit.VerifyReport:
        """
        Check the whole hash chain and every event's signature (one pass over the log)
        and, optionally, every artifact's stored bytes.

        Args:
            expected_head: a ``(position, hash)`` (or ``"POS:HASH"``) published earlier:
                the log must still hold exactly that hash at that position, even if it
                has grown since.
            artifacts: also re-hash every object of every version's and run's artifacts
                (slower; reads every byte).

        Returns:
            A :class:`~eventreg.audit.VerifyReport` (true when all is well).
        """
        report = audit.verify(self.log, expected_head, signatures=True)  # each against the key held then
        if not artifacts:
            return report
        with self._writer.reading() as state:
            return audit.with_artifacts(report, state, self._artifact_store())

    def subscribe(self, consumer: str, handler: Callable[[RecordedEvent], Any], types: Iterable[str] | None = None,
                  *, poll_interval: float = 0.5, stop: Any = None, timeout: float | None = None,
                  batch: int = 1000) -> int:
        """
        Deliver every new event, in order, to ``handler``, durably: a restart resumes.

        The consumer's checkpoint (the last position it has handled) is stored in the
        log's backend after ``handler`` returns, so each event is delivered at least
        once, and exactly once unless the process dies between the handler and the
        checkpoint. Blocks, polling every ``poll_interval`` seconds, until ``stop`` or
        ``timeout``.

        Args:
            consumer: the consumer's durable name, e.g. ``"deployer"``.
            handler: called with each :class:`~eventreg.log.RecordedEvent`; if it
                raises, the error propagates and the event is delivered again next time.
            types: only these event types (the checkpoint still moves past others).
            poll_interval: seconds to wait when there is nothing new.
            stop: a ``threading.Event`` or a function returning true to stop.
            timeout: stop after this many seconds (None: only ``stop`` ends it; 0: deliver
                what is there now and return).
            batch: events read per query.

        Returns:
            How many events were delivered to ``handler``.
        """
        from eventreg.subscriptions import Subscription

        subscription = Subscription(self.log, consumer, handler, types=types, batch=batch)
        return subscription.run(poll_interval=poll_interval, stop=stop, timeout=timeout)

    def check(self, model: str, version: VersionRef, *, require: Iterable[str] = (),
              better_than: Iterable[str | tuple[str, str]] = (), promote_to: str | None = None,
              reason: str | None = None) -> GateResult:
        """
        Check a version against conditions; promote it when all hold (if asked).

        ``reg.check("iris", 3, require=["metrics.accuracy >= 0.9"],
        better_than=["production:metrics.accuracy"], promote_to="production")`` is what a
        CI/CD pipeline runs (``eventreg gate`` is this call).

        Args:
            model: the model's name.
            version: number, label, alias or ``"latest"``.
            require: search filters the version must match, e.g. ``"metrics.accuracy >= 0.9"``.
            better_than: ``"ALIAS:FIELD"`` items: FIELD must be greater than on the version
                ALIAS points at (holds, with a note, when nothing holds ALIAS yet).
            promote_to: an alias to move to the version when every condition holds (protected: a request).
            reason: recorded with the promotion (default: the conditions that passed).

        Returns:
            A :class:`~eventreg.gates.GateResult`; ``promoted_to`` is set when it promoted.

        Raises:
            NotFound: the model or version does not exist.
            FilterSyntaxError: a condition does not parse (the column is in the message).
            ValidationError: no condition given, or a bad ``better_than`` item.
        """
        result = self._now.check(model, version, require=require, better_than=better_than)
        if result.ok and promote_to:  # promotes, or files a request when the alias is protected
            return self._governance.gate_outcome(result, promote_to, reason)
        return result

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
        capture: str | None = None,
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
            data: the training data: a mapping (``{"uri": ..., "digest": ...}``), or a list of
                paths, URLs, DataFrames or arrays to fingerprint (docs/reproducibility.md);
                the run's logged datasets are added under ``"datasets"``.
            code: ``"auto"`` (the run's code; without a run, the checkout or script of
                this process, see docs/reproducibility.md), a mapping given by you, or None.
            architecture: e.g. ``{"flavor": "sklearn", "class": "RandomForestClassifier"}``.
            label: a human name unique within the model, e.g. ``"v1.1"``.
            description: free text.
            tags: string tags.
            parents: versions of this model it derives from.
            capture: ``"full"``, ``"light"`` or ``"off"`` as for :meth:`start_run` (without a run).

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
        points = [MetricPoint(key=check.check_metric_key(k), value=check.check_metric_value(k, v),
                              step=None, timestamp=stamp) for k, v in (metrics or {}).items()]
        data = check.check_json_blob(repro_capture.data_record(data), "data")
        architecture = check.check_json_blob(architecture, "architecture")
        environment, code_info = repro_capture.records(self, capture, code) if run is None else (None, None)
        code_info = code_info if code == "auto" else check.check_code(code)
        parent_refs = list(parents or ())
        if len(parent_refs) > check.MAX_PARENTS:
            raise ValidationError(f"{len(parent_refs)} parents; the limit is {check.MAX_PARENTS}")
        stored = self._store_path(artifacts) if artifacts is not None else {}
        run_id = getattr(run, "id", run)

        return self._execute(functools.partial(
            commands.register_version, name=name, run_id=run_id, params=params, points=points, stored=stored,
            data=data, code=code, code_info=code_info, architecture=architecture, label=label,
            description=description, tags=tags, parent_refs=parent_refs, environment=environment, log=self.log))

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
        def decide(state: RegistryState) -> Plan:
            found = _model(state, model)
            target = _version(found, version)
            number = target.version
            name = found.name
            return Plan(ev.model_stream(name), build(target),
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

        return self._execute(self._governance.guarded(commands.promote, model=model, version=version, alias=alias,
                                                      reason=reason, force=force))

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

        return self._execute(self._governance.guarded(commands.rollback, model=model, alias=alias, reason=reason,
                                                      to=to, force=force))

    # -- runs -----------------------------------------------------------------------------

    def start_run(self, experiment: str | None = None, *, name: str | None = None,
                  tags: Mapping[str, Any] | None = None, code: str | Mapping[str, Any] | None = "auto",
                  run_name: str | None = None, registered_model_name: str | None = None,
                  label: str | None = None, capture: str | None = None,
                  started_at: datetime | None = None) -> ActiveRun:
        """
        Start a run in ``experiment`` (created if needed; default ``"Default"``).

        Use it as a context manager: leaving the block records ``FINISHED``, or
        ``FAILED`` with the exception type when the block raises.

        Args:
            experiment: the experiment's name.
            name: the run's name (``run_name`` is the same, as MLflow spells it).
            tags: string tags.
            code: ``"auto"`` (the git checkout of the working directory), a mapping, or None.
            run_name: the run's name, as MLflow's ``start_run(run_name=...)``.
            registered_model_name: the model ``run.log_model(...)`` registers a version
                of by default.
            label: the label that version will carry. Checked now: if the model has a
                version labelled so (a script run twice), this raises before anything
                is logged, naming that version and how to go on.
            capture: how much environment and code to record: ``"full"``, ``"light"``,
                ``"off"`` (default ``EVENTREG_CAPTURE``, else full; docs/reproducibility.md).
            started_at: when the run really started, if earlier than now (a timezone-aware
                ``datetime``: an import, a client's clock); the append time is kept too.

        Returns:
            An :class:`ActiveRun` with ``log_param``, ``log_metric``, ``log_model`` ...

        Raises:
            AlreadyExists: ``label`` is already a label of ``registered_model_name``.
            ValidationError: an argument is invalid (``label`` without a model, or
                ``name`` and ``run_name`` that differ).
        """
        if run_name is not None and name is not None and run_name != name:
            raise ValidationError(f"name={name!r} and run_name={run_name!r} differ; give one of them")
        name = name if name is not None else run_name
        started_at = check.check_moment(started_at, "started_at")
        experiment = check.check_name(experiment if experiment is not None else "Default", "experiment")
        if name is not None:
            check.check_text(name, "run name", check.MAX_NAME_LENGTH, allow_none=False)
        if registered_model_name is not None:
            registered_model_name = check.check_name(registered_model_name, "model name")
        if label is not None:
            if registered_model_name is None:
                raise ValidationError("label= needs registered_model_name=, the model the label belongs to")
            label = check.check_version_name(label, "label")
            with self._writer.reading() as state:
                check_label_free(state, registered_model_name, label)
        tags = {**check.check_tags(tags), **repro_capture.reproduction_tags()}
        environment, code_info = repro_capture.records(self, capture, code)
        code_info = code_info if code == "auto" else check.check_code(code)
        run_id = uuid.uuid4().hex

        def ensure_experiment(state: RegistryState) -> Plan:
            exists = experiment in state.experiments  # (a renamed experiment's old stream stays)
            if exists and state.experiments[experiment].deleted:
                raise InvalidTransition(f"experiment {experiment!r} is deleted (restore_experiment brings it back)")
            return Plan(ev.experiment_stream(experiment), [] if exists else [ev.ExperimentCreated(experiment=experiment)])

        self._execute(ensure_experiment)
        self._execute(lambda state: Plan(ev.run_stream(run_id), [ev.RunStarted(
            run_id=run_id, experiment=experiment, name=name, tags=tags, environment=environment,
            code=code_info, started_at=started_at)]))
        return repro_capture.started(
            ActiveRun(self, run_id, experiment, registered_model_name=registered_model_name, label=label))

    def reproduce(self, model: str, version: VersionRef, **options: Any) -> Any:
        """
        Rebuild a version, re-run it, compare, record the outcome: :func:`eventreg.reproduce.reproduce`.
        """
        from eventreg.reproduce import reproduce

        return reproduce(self, model, version, **options)

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


for _name in GOVERNANCE_COMMANDS + GOVERNANCE_READS:  # eventreg.governance, composed in
    setattr(Registry, _name, _read(_name, Governance, "_governance"))
for _name in MODEL_COMMANDS:  # eventreg.model_commands, composed in
    setattr(Registry, _name, _read(_name, ModelCommands, "_models"))
for _name in EXPERIMENT_COMMANDS:  # eventreg.experiments, composed in
    setattr(Registry, _name, _read(_name, ExperimentCommands, "_experiments"))
for _name in ARTIFACT_READS:  # eventreg.artifact_reads, composed in
    setattr(Registry, _name, _read(_name, ArtifactReads, "_artifact_reads"))
for _name in WEBHOOK_COMMANDS + WEBHOOK_READS:  # eventreg.webhooks, composed in
    setattr(Registry, _name, _read(_name, Webhooks, "_webhooks"))
