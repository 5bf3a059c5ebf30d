"""
Every read of the registry, over any :class:`~eventreg.domain.state.RegistryState`.

:class:`RegistryQueries` is a mixin: a class supplies ``_read_state()`` (the live
registry catches up with the log first; a read-only view of the past returns the state it
was folded to) and gets every query method, answering from in-memory indexes without
touching storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
import re
from contextlib import contextmanager
from typing import Any

from eventreg.domain.filters import RUN_FIELDS, VERSION_FIELDS, compile_filter, compile_order_by
from eventreg.domain.references import ModelReference, parse_reference
from eventreg.domain.state import ARCHIVED, ModelState, RegistryState, RunState, VersionState
from eventreg.domain.views import (
    Alias,
    Comparison,
    Experiment,
    MetricPoint,
    Model,
    ModelVersion,
    Run,
)
from eventreg.errors import NotFound, ValidationError

#: What identifies a version: its number, label, alias, ``"latest"``, or a ``ModelVersion``.
VersionRef = Any


class RegistryQueries:
    """
    Query methods shared by the live :class:`~eventreg.registry.Registry` and read-only views.
    """

    def _read_state(self) -> RegistryState:  # pragma: no cover - supplied by the class
        """
        The state to answer from (a class supplies it).
        """
        raise NotImplementedError

    @contextmanager
    def _reading(self) -> Iterator[RegistryState]:
        """
        Hold the state steady while a query reads it (the live registry takes its lock).
        """
        yield self._read_state()

    # -- models ---------------------------------------------------------------------------

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

    # -- versions -------------------------------------------------------------------------

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
                    if status is None or v.status == status]

    def get_metric_history(self, model: str, version: VersionRef, key: str) -> list[MetricPoint]:
        """
        Every recorded point of a version's metric, in the order logged.

        Raises:
            NotFound: the model, version or metric does not exist.
        """
        with self._reading() as state:
            history = _version(_model(state, model), version).metric_history.get(key)
            if history is None:
                raise NotFound(f"version {version!r} of {model!r} has no metric {key!r}")
            return list(history)

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

    def search_versions(self, filter: str | None = None, *, order_by: Sequence[str] | str | None = None,
                        limit: int | None = None) -> list[ModelVersion]:
        """
        Versions matching a filter, e.g. ``"model = 'iris' and metrics.accuracy >= 0.9"``.

        Args:
            filter: the filter text (see docs/search.md); None matches every version.
            order_by: terms like ``["metrics.accuracy DESC"]``; default: model, version.
            limit: at most this many results.

        Raises:
            FilterSyntaxError: the filter or order_by does not parse (with the column).
        """
        predicate = compile_filter(filter, fields=VERSION_FIELDS) if filter else None
        order = compile_order_by(order_by, fields=VERSION_FIELDS) if order_by else None
        _check_limit(limit)
        only, whole = _one_model(filter)
        with self._reading() as state:
            if only is None:
                models = [state.models[name] for name in sorted(state.models)]
            else:
                models = [state.models[only]] if only in state.models else []
            if whole and order is None:  # the filter is just "model = '...'": no record to test
                views = []
                for model in models:
                    held = _aliases_by_version(model)
                    views.extend(ModelVersion.of(model, version, held.get(number, ()))
                                 for number, version in model.versions.items())
                return views if limit is None else views[:limit]
            hits: list[tuple[dict[str, Any], ModelState, VersionState]] = []
            for model in models:
                held = _aliases_by_version(model)
                for version in model.versions.values():
                    record = _version_record(model, version, held.get(version.version, ()))
                    if whole or predicate is None or predicate.matches(record):
                        hits.append((record, model, version))
            if order is not None:
                hits.sort(key=lambda hit: order(hit[0]))
            if limit is not None:
                hits = hits[:limit]
            return [ModelVersion.of(model, version, tuple(sorted(record["aliases"])))
                    for record, model, version in hits]

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
                    order_by: Sequence[str] | str | None = None, limit: int | None = None) -> list[Run]:
        """
        Runs of an experiment (or of all) matching a filter, oldest first by default.

        Args:
            experiment: only runs of this experiment.
            filter: e.g. ``"metrics.accuracy > 0.9 and params.n_estimators = 100"``.
            order_by: terms like ``["metrics.accuracy DESC"]``.
            limit: at most this many results.

        Raises:
            NotFound: the experiment does not exist.
            FilterSyntaxError: the filter or order_by does not parse.
        """
        predicate = compile_filter(filter, fields=RUN_FIELDS) if filter else None
        order = compile_order_by(order_by, fields=RUN_FIELDS) if order_by else None
        _check_limit(limit)
        with self._reading() as state:
            if experiment is not None:
                found = state.experiments.get(experiment)
                if found is None:
                    raise NotFound(f"experiment {experiment!r} does not exist")
                runs = [state.runs[run_id] for run_id in found.runs]
            else:
                runs = list(state.runs.values())
            hits = []
            for run in runs:
                record = _run_record(run)
                if predicate is None or predicate.matches(record):
                    hits.append((record, run))
            if order is not None:
                hits.sort(key=lambda hit: order(hit[0]))
            if limit is not None:
                hits = hits[:limit]
            return [Run.of(run) for _, run in hits]

    def get_run_metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        """
        Every recorded point of a run's metric, in the order logged.

        Raises:
            NotFound: the run or metric does not exist.
        """
        with self._reading() as state:
            history = _run(state, run_id).metric_history.get(key)
            if history is None:
                raise NotFound(f"run {run_id!r} has no metric {key!r}")
            return list(history)

    def list_experiments(self) -> list[Experiment]:
        """
        Every experiment, by name.
        """
        with self._reading() as state:
            return [Experiment.of(e) for _, e in sorted(state.experiments.items())]


# -- lookups -----------------------------------------------------------------------------


def _model(state: RegistryState, name: str) -> ModelState:
    model = state.models.get(name) if isinstance(name, str) else None
    if model is None:
        raise NotFound(f"model {name!r} does not exist{_did_you_mean(name, state.models)}")
    return model


def _did_you_mean(name: Any, known: Iterable[str]) -> str:
    """
    `` (did you mean 'iris'?)`` when ``name`` is a likely typo of a known name.
    """
    if not isinstance(name, str):
        return ""
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _latest(model: ModelState) -> int:
    if not model.versions:
        raise NotFound(f"model {model.name!r} has no versions yet")
    return len(model.versions)


def _by_number(model: ModelState, number: int) -> VersionState:
    found = model.versions.get(number)
    if found is None:
        raise NotFound(f"model {model.name!r} has no version {number}")
    return found


def _version(model: ModelState, ref: VersionRef) -> VersionState:
    """
    The version of ``model`` that ``ref`` names (number, label, alias, "latest").
    """
    if isinstance(ref, ModelVersion):
        ref = ref.version
    if isinstance(ref, bool):
        raise ValidationError(f"not a version: {ref!r}")
    if isinstance(ref, int):
        return _by_number(model, ref)
    if not isinstance(ref, str):
        raise ValidationError(f"a version is an int, a label, an alias or 'latest', not {type(ref).__name__}")
    if ref.isdigit() and ref.isascii():
        return _by_number(model, int(ref))
    if ref == "latest":
        return _by_number(model, _latest(model))
    number = model.labels.get(ref)
    if number is None:
        number = model.aliases.get(ref)
    if number is None:
        raise NotFound(f"model {model.name!r} has no version, label or alias {ref!r}")
    return model.versions[number]


def _run(state: RegistryState, run_id: Any) -> RunState:
    run_id = getattr(run_id, "id", run_id)
    run = state.runs.get(run_id) if isinstance(run_id, str) else None
    if run is None:
        raise NotFound(f"run {run_id!r} does not exist")
    return run


def _check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValidationError(f"limit must be a non-negative int, not {limit!r}")


def _aliases_by_version(model: ModelState) -> dict[int, tuple[str, ...]]:
    """
    The aliases each version of ``model`` holds, sorted.
    """
    held: dict[int, list[str]] = {}
    for alias, number in model.aliases.items():
        held.setdefault(number, []).append(alias)
    return {number: tuple(sorted(aliases)) for number, aliases in held.items()}


#: ``model = 'name'`` (or ``name = ...``) opening a filter, alone or followed by ``and``
_MODEL_CLAUSE = re.compile(r"\s*(?:model|name)\s*=\s*'([^'\\]*)'\s*(?:$|((?i:and))\s)")
_OR = re.compile(r"\bor\b", re.IGNORECASE)


def _one_model(text: str | None) -> tuple[str | None, bool]:
    """
    The one model a (compiled, so valid) filter can match, and whether that is all it says.

    A filter that opens with ``model = '<name>'`` and has no ``or`` anywhere is a
    conjunction with that clause, so only that model's versions can match; without the
    ``and ...`` rest every one of them does. Anything else: ``(None, False)``.
    """
    if not text:
        return None, False
    found = _MODEL_CLAUSE.match(text)
    if found is None:
        return None, False
    if found.group(2) is None:
        return found.group(1), True
    if _OR.search(text, found.end()):
        return None, False
    return found.group(1), False


def _version_record(model: ModelState, version: VersionState, aliases: Iterable[str] | None = None) -> dict[str, Any]:
    if aliases is None:
        aliases = [a for a, v in model.aliases.items() if v == version.version]
    return {
        "name": model.name,
        "version": version.version,
        "label": version.label,
        "aliases": set(aliases),
        "created_at": version.created_at,
        "actor": version.actor,
        "metrics": version.metrics,
        "params": version.params,
        "tags": version.tags,
    }


def _run_record(run: RunState) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "name": run.name,
        "experiment": run.experiment,
        "status": run.status,
        "start_time": run.started_at,
        "end_time": run.ended_at,
        "actor": run.actor,
        "metrics": run.metrics,
        "params": run.params,
        "tags": run.tags,
    }
