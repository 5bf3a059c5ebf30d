"""
The one read side of the registry: :class:`RegistryView`, a read-only view over a projection.

Every query, history, gate check, report and download is implemented here once. The live
:class:`~eventreg.registry.Registry` holds a view whose source catches up with the log
before each answer ("now"); :meth:`RegistryView.as_of` builds a view over a projection
folded to a past moment. Both answer through the same methods, so the registry now and
the registry on 3 March at 14:00 cannot disagree about what a query means.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ContextManager

from eventreg._version import __version__
from eventreg.artifact_reads import ARTIFACT_READS, ArtifactReads
from eventreg.audit import (
    AliasTenure,
    HistoryEvent,
    alias_tenures,
    check_from_position,
    first_position,
    page_of,
    select_history,
    stream_page,
    with_database_users,
)
from eventreg.domain.entities import ARCHIVED, DELETED, ModelState, RegistryState, VersionState
from eventreg.domain.events import model_stream, run_stream
from eventreg.domain.filters import RUN_FIELDS, VERSION_FIELDS, compile_filter, compile_order_by
from eventreg.domain.queries import (
    VersionRef,
    _aliases_by_version,
    _by_number,
    _check_limit,
    _latest,
    _model,
    _one_model,
    _run,
    _run_record,
    _version,
    _version_record,
)
from eventreg.domain.references import ModelReference, parse_reference
from eventreg.domain.views import (
    Alias, Comparison, Experiment, MetricBucket, MetricHistory, MetricSummary, Model, ModelVersion, Run,
)
from eventreg.errors import NotFound, ReadOnlyError, ValidationError
from eventreg.gates import GateResult, evaluate
from eventreg.governance import GOVERNANCE_COMMANDS, GOVERNANCE_READS, Governance
from eventreg.log import Head, RecordedEvent
from eventreg import metric_reads
from eventreg.results import Results
from eventreg.experiments import EXPERIMENT_COMMANDS
from eventreg.webhooks import WEBHOOK_COMMANDS, WEBHOOK_READS, Webhooks
from eventreg.timetravel import Moment, describe, fold_until, parse_moment, read_events

__all__ = ["COMMANDS", "REGISTRY_ONLY", "RegistryView", "registry_read"]

#: The registry's commands: on a view they raise ReadOnlyError.
COMMANDS = frozenset({
    "archive_model", "archive_version", "close", "create_model", "delete_model", "delete_model_tag", "delete_version",
    "delete_version_tag", "remove_alias", "set_version_stage",
    "deprecate_version", "log_metric", "log_metrics", "promote", "register_version", "reproduce", "rollback",
    "save_snapshot", "set_model_tag", "set_version_tag", "start_run", "subscribe", "update_model",
    "update_version", *GOVERNANCE_COMMANDS, *WEBHOOK_COMMANDS, *EXPERIMENT_COMMANDS,
})
#: Reads of the whole log that only the registry answers.
REGISTRY_ONLY = frozenset({"diff", "verify"})


class _Fixed:
    """
    The source of a view of the past: one projection that never changes.
    """

    def __init__(self, state: RegistryState) -> None:
        self.state = state

    def reading(self) -> ContextManager[RegistryState]:
        return contextlib.nullcontext(self.state)


class RegistryView:
    """
    The registry as it stood at one moment: every query, no commands.

    Built by :meth:`Registry.as_of`. ``position`` is the last event included (0 when
    none), ``head`` its ``(position, hash)``, ``moment`` what was asked. Queries answer
    exactly as the registry did then; ``history`` stops there too. Commands raise
    :class:`~eventreg.errors.ReadOnlyError`.
    """

    def __init__(self, log: Any, source: Any, *, moment: Moment | None = None,
                 artifact_store: Callable[[], Any] | None = None, live: bool = False) -> None:
        """
        Args:
            log: the event log the projection was folded from.
            source: has ``state`` and ``reading()``, a context manager yielding the
                state to answer from (the live registry catches up and holds its lock).
            moment: the moment asked for (None for the live registry).
            artifact_store: returns the artifact store, for downloads and models.
            live: the view follows the log ("now"): history reads to the log's end.
        """
        self.log = log
        self._source = source
        self.moment = moment
        self._artifact_store = artifact_store
        self._live = live

    @classmethod
    def of(cls, log: Any, state: RegistryState, moment: Moment, *,
           artifact_store: Callable[[], Any] | None = None) -> RegistryView:
        """
        A view over ``state``, a projection of ``log`` folded to ``moment``.
        """
        return cls(log, _Fixed(state), moment=moment, artifact_store=artifact_store)

    @property
    def _state(self) -> RegistryState:
        return self._source.state

    def _reading(self) -> ContextManager[RegistryState]:
        return self._source.reading()

    def _read_state(self) -> RegistryState:
        with self._source.reading() as state:
            return state

    @property
    def position(self) -> int:
        """
        The last log position folded into this view (0 = before the first event).
        """
        return self._source.state.position

    def head(self) -> Head:
        """
        ``(position, hash)`` of the last event in this view: what to publish or verify against.
        """
        if self._live:
            return self.log.head()
        state = self._source.state
        return Head(state.position, state.last_hash)

    def __repr__(self) -> str:
        if self._live:
            return "<RegistryView now>"
        return f"<RegistryView as of {describe(self.moment)} (position {self.position})>"

    def __getattr__(self, name: str) -> Any:
        if name in GOVERNANCE_READS:  # requests, policies, keys and signatures as of this view
            return getattr(Governance(self), name)
        if name in ARTIFACT_READS:  # downloads, verified files and models as of this view
            return getattr(ArtifactReads(self), name)
        if name in WEBHOOK_READS:  # webhooks as of this view
            return getattr(Webhooks(self), name)
        if name in COMMANDS:
            raise ReadOnlyError(
                f"{name}() changes the registry, but this is a read-only view as of "
                f"{describe(self.moment) if self.moment is not None else 'now'}; call it on the registry itself"
            )
        if name in REGISTRY_ONLY:
            raise AttributeError(
                f"{name}() is not available on a view as of {describe(self.moment)}; call it on the registry itself"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- models and versions --------------------------------------------------------------

    def get_model(self, name: str) -> Model:
        """
        The model called ``name``.

        Raises:
            NotFound: there is no such model.
        """
        with self._reading() as state:
            return Model.of(_model(state, name))

    def list_models(self, *, include_archived: bool = True) -> list[Model]:
        """
        Every model, by name.
        """
        with self._reading() as state:
            return [Model.of(m) for _, m in sorted(state.models.items())
                    if include_archived or m.status != ARCHIVED]

    def get_version(self, model: str, version: VersionRef = "latest") -> ModelVersion:
        """
        One version of a model, chosen by number, label, alias or ``"latest"``.

        Args:
            model: the model's name.
            version: an int, a label (``"v1.1"``), an alias (``"production"``), or
                ``"latest"`` (the highest number).

        Raises:
            NotFound: the model, or a version matching ``version``, does not exist.
        """
        with self._reading() as state:
            found = _model(state, model)
            return ModelVersion.of(found, _version(found, version))

    def resolve(self, reference: str | ModelReference) -> ModelVersion:
        """
        The version a ``models:/`` reference points at now.

        Raises:
            InvalidReference: the text is not a reference.
            NotFound: the model or version does not exist.
        """
        ref = parse_reference(reference) if isinstance(reference, str) else reference
        with self._reading() as state:
            model = _model(state, ref.model)
            if ref.kind == "version":
                number = ref.value
            elif ref.kind == "latest":
                number = _latest(model)
            elif ref.kind == "alias":
                number = model.aliases.get(ref.value)  # type: ignore[arg-type]
                if number is None:
                    raise NotFound(f"model {model.name!r} has no alias {ref.value!r}")
            else:
                number = model.labels.get(ref.value)  # type: ignore[arg-type]
                if number is None:
                    raise NotFound(f"model {model.name!r} has no version labelled {ref.value!r}")
            return ModelVersion.of(model, _by_number(model, number))  # type: ignore[arg-type]

    def list_versions(self, model: str, *, status: str | None = None) -> list[ModelVersion]:
        """
        The versions of a model, oldest first (optionally only those with ``status``).

        Raises:
            NotFound: there is no such model.
        """
        with self._reading() as state:
            found = _model(state, model)
            return [ModelVersion.of(found, v) for v in found.versions.values()
                    if (status is None and v.status != DELETED) or v.status == status]

    def get_metric_history(self, model: str, version: VersionRef, key: str, *, min_step: int | None = None,
                           max_step: int | None = None) -> MetricHistory:
        """
        Every recorded point of a version's metric, in the order logged (read from the log):
        a sequence of :class:`MetricPoint` (``len``, indexes, slices, iteration, ``==`` with
        a list), kept in columns (``values``, ``steps``, ``stamps`` in microseconds), each
        point made when read.

        Args:
            min_step: only points with a step at least this (a point without a step is then left out).
            max_step: only points with a step at most this.

        Raises:
            NotFound: the model, version or metric does not exist.
            ValidationError: a bound is not an integer.
        """
        return metric_reads.history(self.log, *self._version_metric(model, version, key),
                                    min_step=min_step, max_step=max_step)

    def get_metric_buckets(self, model: str, version: VersionRef, key: str, *, buckets: int = 500,
                           min_step: int | None = None, max_step: int | None = None) -> list[MetricBucket]:
        """
        A version's metric history for a chart: at most ``buckets`` runs of consecutive
        points, each with its step range, exact count, min, max and last value.

        Raises:
            NotFound: the model, version or metric does not exist.
            ValidationError: ``buckets`` is not positive, or a bound is not an integer.
        """
        return metric_reads.buckets(self.log, *self._version_metric(model, version, key), count=buckets,
                                    min_step=min_step, max_step=max_step)

    def get_metric_summary(self, model: str, version: VersionRef, key: str) -> MetricSummary:
        """
        What the registry keeps of a version's metric: latest value, min, max, count, times.

        Raises:
            NotFound: the model, version or metric does not exist.
        """
        return MetricSummary.of(key, self._version_metric(model, version, key)[3])

    def _version_metric(self, model: str, version: VersionRef, key: str) -> tuple[Any, ...]:
        with self._reading() as state:
            found = _version(_model(state, model), version)
            stats = found.metric_summaries.get(key)
            if stats is None:
                raise NotFound(f"version {found.version} of {model!r} has no metric {key!r}")
            return model_stream(found.model), found.version, key, metric_reads.frozen(stats)

    def get_alias(self, model: str, alias: str) -> Alias:
        """
        The latest move of an alias: which version holds it, since when, who moved it and why.

        Raises:
            NotFound: the model or alias does not exist.
        """
        with self._reading() as state:
            history = _model(state, model).alias_history.get(alias)
            if not history:
                raise NotFound(f"model {model!r} has no alias {alias!r}")
            return history[-1]

    def alias_holders(self, model: str, alias: str) -> list[Alias]:
        """
        Every move of an alias, oldest first (with intervals: :meth:`alias_history`).
        """
        with self._reading() as state:
            found = _model(state, model)
            if alias not in found.alias_history:
                raise NotFound(f"model {model!r} has no alias {alias!r}")
            return list(found.alias_history[alias])

    def search_versions(self, filter: str | None = None, *, order_by: Sequence[str] | str | None = None,
                        limit: int | None = None, output: str = "list") -> Any:
        """
        Versions matching a filter, e.g. ``"model = 'iris' and metrics.accuracy >= 0.9"``.

        Args:
            filter: the filter text (see docs/search.md); None matches every version.
            order_by: terms like ``["metrics.accuracy DESC"]``; default: model, version.
            limit: at most this many results.
            output: ``"list"`` (a list of :class:`ModelVersion`, with ``.to_pandas()``)
                or ``"pandas"`` (a DataFrame; needs pandas).

        Raises:
            FilterSyntaxError: the filter or order_by does not parse (with the column).
            ValidationError: an unknown ``output``.
            MissingDriver: ``output="pandas"`` without pandas installed.
        """
        predicate = compile_filter(filter, fields=VERSION_FIELDS) if filter else None
        order = compile_order_by(order_by, fields=VERSION_FIELDS) if order_by else None
        _check_limit(limit)
        Results.check_output(output)
        only, whole = _one_model(filter)
        with self._reading() as state:
            models = ([state.models[name] for name in sorted(state.models)] if only is None
                      else [state.models[only]] if only in state.models else [])
            for model in models:  # versions still in a snapshot's chunks decoded before any view or
                model.versions.keys()  # record is made: memory freed with them is not interleaved
            if (whole or predicate is None) and order is None:  # no filter, or just "model = '...'": no record
                views = []
                for model in models:
                    held = _aliases_by_version(model)
                    views.extend(ModelVersion.of(model, version, held.get(number, ()))
                                 for number, version in model.versions.items() if version.status != DELETED)
                found = views if limit is None else views[:limit]
            else:
                found = _matching_versions(models, predicate if not whole else None, order, limit)
        return Results(found).output(output)

    def compare(self, model: str, versions: Iterable[VersionRef]) -> Comparison:
        """
        Params and latest metrics of several versions side by side, differences marked.

        Raises:
            NotFound: the model or one of the versions does not exist.
        """
        with self._reading() as state:
            found = _model(state, model)
            return Comparison.of(found.name, [_version(found, ref) for ref in versions])

    # -- runs -----------------------------------------------------------------------------

    def get_run(self, run_id: str) -> Run:
        """
        The run with this id.

        Raises:
            NotFound: there is no such run.
        """
        with self._reading() as state:
            return Run.of(_run(state, run_id))

    def search_runs(self, experiment: str | None = None, filter: str | None = None, *,
                    order_by: Sequence[str] | str | None = None, limit: int | None = None,
                    output: str = "list", deleted: bool | None = False) -> Any:
        """
        Runs of an experiment (or of all) matching a filter, oldest first by default.

        Args:
            experiment: only runs of this experiment.
            filter: e.g. ``"metrics.accuracy > 0.9 and params.n_estimators = 100"``.
            order_by: terms like ``["metrics.accuracy DESC"]``.
            limit: at most this many results.
            output: ``"list"`` (a list of :class:`Run`, with ``.to_pandas()``) or
                ``"pandas"`` (a DataFrame, one row per run, as MLflow's ``search_runs``).
            deleted: False (default): runs not deleted; True: only deleted runs
                (``delete_run``); None: both.

        Raises:
            NotFound: the experiment does not exist.
            FilterSyntaxError: the filter or order_by does not parse.
            MissingDriver: ``output="pandas"`` without pandas installed.
        """
        predicate = compile_filter(filter, fields=RUN_FIELDS) if filter else None
        order = compile_order_by(order_by, fields=RUN_FIELDS) if order_by else None
        _check_limit(limit)
        Results.check_output(output)
        with self._reading() as state:
            if experiment is not None:
                found = state.experiments.get(experiment)
                if found is None:
                    raise NotFound(f"experiment {experiment!r} does not exist")
                runs = [state.runs[run_id] for run_id in found.runs]
            else:
                runs = list(state.runs.values())
            if deleted is not None:
                gone = {r for e in state.experiments.values() for r in e.deleted_runs}
                runs = [run for run in runs if (run.run_id in gone) is deleted]
            hits = []
            for run in runs:
                record = _run_record(run)
                if predicate is None or predicate.matches(record):
                    hits.append((record, run))
            if order is not None:
                hits.sort(key=lambda hit: order(hit[0]))
            if limit is not None:
                hits = hits[:limit]
            return Results([Run.of(run) for _, run in hits]).output(output)

    def get_run_metric_history(self, run_id: str, key: str, *, min_step: int | None = None,
                               max_step: int | None = None) -> MetricHistory:
        """
        Every recorded point of a run's metric, in the order logged (read from the log);
        see :meth:`get_metric_history`.

        Args:
            min_step: only points with a step at least this (a point without a step is then left out).
            max_step: only points with a step at most this.

        Raises:
            NotFound: the run or metric does not exist.
            ValidationError: a bound is not an integer.
        """
        return metric_reads.history(self.log, *self._run_metric(run_id, key), min_step=min_step, max_step=max_step)

    def get_run_metric_buckets(self, run_id: str, key: str, *, buckets: int = 500, min_step: int | None = None,
                               max_step: int | None = None) -> list[MetricBucket]:
        """
        A run's metric history for a chart; see :meth:`get_metric_buckets`.
        """
        return metric_reads.buckets(self.log, *self._run_metric(run_id, key), count=buckets,
                                    min_step=min_step, max_step=max_step)

    def get_run_metric_summary(self, run_id: str, key: str) -> MetricSummary:
        """
        What the registry keeps of a run's metric; see :meth:`get_metric_summary`.
        """
        return MetricSummary.of(key, self._run_metric(run_id, key)[3])

    def _run_metric(self, run_id: str, key: str) -> tuple[Any, ...]:
        with self._reading() as state:
            run = _run(state, run_id)
            stats = run.metric_summaries.get(key)
            if stats is None:
                raise NotFound(f"run {run_id!r} has no metric {key!r}")
            return run_stream(run.run_id), None, key, metric_reads.frozen(stats)

    def list_experiments(self, *, deleted: bool | None = False) -> list[Experiment]:
        """
        Every experiment, by name: those not deleted (``deleted=True``: only the deleted
        ones; None: all).
        """
        with self._reading() as state:
            return [Experiment.of(e) for _, e in sorted(state.experiments.items())
                    if deleted is None or e.deleted is deleted]

    # -- history and time travel ------------------------------------------------------------

    def _limit(self) -> int | None:
        """
        The last position this view shows (None: the log's end).
        """
        return None if self._live else self._source.state.position

    def history(self, model: str | None = None, *, since: Any = None, until: Any = None,
                actor: str | None = None, types: Iterable[str] | str | None = None,
                limit: int | None = None, offset: int = 0, newest_first: bool = False) -> list[HistoryEvent]:
        """
        The recorded events, oldest first: who did what, when and why.

        Args:
            model: only the events of this model (its versions, tags and aliases).
            since: only events at or after this moment (a position, a datetime or an
                ISO-8601 string).
            until: only events at or before this moment.
            actor: only events recorded by this actor.
            types: only events of these types, e.g. ``["alias.promoted", "alias.rolled_back"]``
                (:func:`eventreg.event_types` lists them).
            limit: at most this many events (a page).
            offset: skip this many events first (in the order asked).
            newest_first: the newest event first.

        A page of one model's whole history (no other filter) reads only the events
        it shows (newest first) or those from its first on; otherwise the events are
        filtered as they are read and the page cut from what matches.

        Returns:
            A list of :class:`~eventreg.audit.HistoryEvent` (on a view: up to its position).

        Raises:
            NotFound: ``model`` does not exist.
            ValidationError: a moment, an event type, ``limit`` or ``offset`` is not valid.
        """
        _check_limit(limit)
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValidationError(f"offset must be an integer >= 0, not {offset!r}")
        enough = offset + limit if limit is not None and not newest_first else None  # stop reading there
        if model is None:
            source: Iterable[RecordedEvent] = read_events(self.log, first_position(since), self._limit())
        else:
            with self._reading() as state:
                stream = model_stream(_model(state, model).name)
                length = state.streams.get(stream, 0)  # the stream's events up to this view's position
            if since is None and until is None and actor is None and types is None:
                return with_database_users(stream_page(self.log, stream, length, limit, offset, newest_first), self.log)
            source = self.log.read_stream(stream)
        found = select_history(source, since=since, until=until, actor=actor, types=types, limit=self._limit(),
                               enough=enough)
        return with_database_users(page_of(found, limit, offset, newest_first), self.log)

    def last_change(self, model: str) -> HistoryEvent:
        """
        The latest event of ``model`` (its versions, tags and aliases included): what
        changed it last, who and when.

        Raises:
            NotFound: the model does not exist.
        """
        return self.history(model, limit=1, newest_first=True)[0]

    def alias_history(self, model: str, alias: str) -> list[AliasTenure]:
        """
        Each version that held ``alias`` of ``model``, with the interval it held it.

        Returns:
            :class:`~eventreg.audit.AliasTenure` items, oldest first; the last has
            ``until`` None while it still holds the alias.

        Raises:
            NotFound: the model or the alias does not exist.
        """
        with self._reading() as state:
            return alias_tenures(_model(state, model), alias)

    def events(self, from_position: int = 1) -> Iterator[RecordedEvent]:
        """
        Every recorded event from ``from_position`` to the end (of the log, or of this
        view), in order.

        Reads in chunks, so it is cheap to stop early; on the live registry, events
        appended while iterating are included.
        """
        return read_events(self.log, check_from_position(from_position), self._limit())

    def as_of(self, when: Any) -> RegistryView:
        """
        The registry as it stood at ``when``: a read-only view with every query method.

        Args:
            when: a global position (int; 0 = before the first event), a ``datetime``
                (naive means UTC) or an ISO-8601 string. A time includes every event
                recorded at or before it.

        Returns:
            A :class:`RegistryView`; its commands raise :class:`~eventreg.errors.ReadOnlyError`.

        Raises:
            ValidationError: ``when`` is not a moment, or a position after the head
                (of the log, or of this view).
        """
        moment = parse_moment(when)
        limit = self._limit()
        if limit is not None and isinstance(moment, int) and moment > limit:
            raise ValidationError(f"position {moment} is after this view's position {limit}")
        state = fold_until(self.log, moment, code_version=__version__)
        if limit is not None and state.position > limit:
            raise ValidationError(f"{describe(moment)} is after this view's position {limit}")
        return RegistryView.of(self.log, state, moment, artifact_store=self._artifact_store)

    # -- gates and reports ------------------------------------------------------------------

    def check(self, model: str, version: VersionRef, *, require: Iterable[str] = (),
              better_than: Iterable[str | tuple[str, str]] = (), promote_to: str | None = None,
              reason: str | None = None) -> GateResult:
        """
        Check a version against conditions (a release gate); see :meth:`Registry.check`.

        On a view ``promote_to`` raises :class:`~eventreg.errors.ReadOnlyError`.
        """
        if promote_to is not None:
            raise ReadOnlyError(f"check(promote_to=...) promotes, but this is a read-only view as of "
                                f"{describe(self.moment)}; call it on the registry itself")
        with self._reading() as state:
            return evaluate(state, model, version, require=require, better_than=better_than)

    def audit_report(self, model: str, since: Any = None, until: Any = None, format: str = "json",
                     path: str | Path | None = None) -> str | Path:
        """
        An audit report of ``model``: a timeline of promotions and rollbacks and each
        version's lineage (data digest, code commit, params, metrics, who and when).

        Args:
            model: the model's name.
            since: start of the period (position, datetime or ISO-8601 string).
            until: end of the period; versions and aliases are shown as they stood then.
            format: ``"json"``, ``"csv"`` or ``"html"`` (one self-contained page).
            path: write the report to this file instead of returning its text.

        Returns:
            The report's text, or the ``Path`` written.

        Raises:
            NotFound: the model does not exist (at ``until``).
            ValidationError: an unknown format or an invalid moment.
        """
        from eventreg.reporting import build_report, render

        data = build_report(self, model, since=since, until=until)
        text = render(data, format)
        if path is None:
            return text
        target = Path(path)
        target.write_text(text, encoding="utf-8", newline="")
        return target


def _matching_versions(models: list[ModelState], predicate: Any, order: Any,
                       limit: int | None) -> list[ModelVersion]:
    hits: list[tuple[dict[str, Any], ModelState, VersionState]] = []
    for model in models:
        held = _aliases_by_version(model)
        for version in model.versions.values():
            if version.status == DELETED:
                continue
            record = _version_record(model, version, held.get(version.version, ()))
            if predicate is None or predicate.matches(record):
                hits.append((record, model, version))
    if order is not None:
        hits.sort(key=lambda hit: order(hit[0]))
    if limit is not None:
        hits = hits[:limit]
    return [ModelVersion.of(model, version, tuple(sorted(record["aliases"]))) for record, model, version in hits]


def registry_read(name: str, owner: type = RegistryView, field: str = "_now") -> Any:
    """
    A :class:`~eventreg.registry.Registry` method that answers by the same method of
    its live view (or of the object in its attribute ``field``).
    """
    method = getattr(owner, name)

    @functools.wraps(method)
    def read(self: Any, *args: Any, **kwargs: Any) -> Any:
        return method(getattr(self, field), *args, **kwargs)

    read.__module__ = "eventreg.registry"
    read.__qualname__ = f"Registry.{name}"
    return read
