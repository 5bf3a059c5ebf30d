"""
What the registry's larger commands decide: from the caught-up state and validated
input to the events to append (a :class:`~eventreg.writer.Plan`).

Pure functions of their arguments and the state; :class:`~eventreg.registry.Registry`
validates the input, and the :class:`~eventreg.writer.Writer` runs them under its lock
and decides again when another writer got there first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from eventreg import metric_reads
from eventreg.domain import events as ev
from eventreg.domain import validation as check
from eventreg.domain.entities import ARCHIVED, DEPRECATED, RegistryState
from eventreg.domain.events import ArtifactEntry, MetricPoint
from eventreg.domain.queries import VersionRef, _model, _run, _version, check_label_free
from eventreg.domain.views import Alias, ModelVersion
from eventreg.capture.lineage import with_run_datasets
from eventreg.environment import capture_environment
from eventreg.errors import InvalidTransition, NotFound, ValidationError
from eventreg.log import RecordedEvent
from eventreg.runs import _chunks
from eventreg.writer import Plan

__all__ = ["promote", "register_version", "rollback"]


def register_version(state: RegistryState, *, name: str, run_id: str | None, params: dict[str, Any],
                     points: list[MetricPoint], stored: dict[str, ArtifactEntry], data: Any, code: Any,
                     code_info: Any, architecture: Any, label: str | None, description: str | None,
                     tags: dict[str, str], parent_refs: list[VersionRef],
                     environment: dict[str, Any] | None = None, log: Any = None) -> Plan:
    """
    The events recording a new version of ``name`` (and the model, if it is new); the
    points of the run's metrics are read from ``log``, the log ``state`` was folded from.

    Raises:
        InvalidTransition: the model is archived.
        NotFound: the run or a parent does not exist.
        AlreadyExists: the label is taken.
        ValidationError: over a limit, or the label is an alias.
    """
    found = state.models.get(name)
    if found is not None and found.status == ARCHIVED:
        raise InvalidTransition(f"model {name!r} is archived and takes no new versions")
    all_params: dict[str, Any] = {}
    all_points: list[MetricPoint] = []
    all_artifacts: dict[str, ArtifactEntry] = {}
    model_info = None
    run_code = None
    source_id = None
    if run_id is not None:
        source = _run(state, run_id)
        source_id = source.run_id
        all_params.update(source.params)
        for key, stats in source.metric_summaries.items():
            all_points.extend(metric_reads.history(log, ev.run_stream(source.run_id), None, key, stats))
        all_artifacts.update(source.artifacts)
        model_info = source.model_info
        environment = source.environment or None
        run_code = source.code
        data = with_run_datasets(data, source.datasets)
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
    if label is not None:
        check_label_free(state, name, label)
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
    return Plan(ev.model_stream(name), new,
                lambda s, _: ModelVersion.of(s.models[name], s.models[name].versions[number]))


def promote(state: RegistryState, *, model: str, version: VersionRef, alias: str, reason: str | None,
            force: bool) -> Plan:
    """
    The move of ``alias`` to ``version`` (none when it already holds the alias).
    """
    found = _model(state, model)
    name = found.name
    target = _version(found, version)
    if alias in found.labels:
        raise ValidationError(f"alias {alias!r} is already a label of {name!r}")
    current = found.aliases.get(alias)
    result = _alias_move(name, alias)
    if current == target.version:
        return Plan(ev.model_stream(name), [], result)
    forced = _check_promotable(found, target, force, "promote")
    return Plan(ev.model_stream(name), [ev.AliasPromoted(
        model=name, alias=alias, version=target.version, previous=current,
        reason=reason, forced=forced)], result)


def rollback(state: RegistryState, *, model: str, alias: str, reason: str | None, to: VersionRef | None,
             force: bool) -> Plan:
    """
    The move of ``alias`` back to its previous holder (or to ``to``, an earlier one).
    """
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
    return Plan(ev.model_stream(name), [ev.AliasRolledBack(
        model=name, alias=alias, version=target.version, previous=current,
        reason=reason, forced=forced)], _alias_move(name, alias))


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
    if not architecture and not model_info:
        return ()  # a version registered without a run or an architecture names none
    names = []
    for source in (architecture or {}, (model_info or {}).get("flavor") or {}):
        for key in ("flavor", "module", "framework"):
            value = source.get(key)
            if isinstance(value, str) and value:
                names.append(value.split(".", 1)[0])
    return tuple(dict.fromkeys(names))
