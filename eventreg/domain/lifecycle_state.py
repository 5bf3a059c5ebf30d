"""
How the lifecycle events fold into the projection: deleting models and versions,
removing aliases, MLflow stages, experiment tags and deletion, run deletion and tag
removal, webhooks (whose state is read from their streams, see :mod:`eventreg.webhooks`).
"""

from __future__ import annotations

from typing import Any

from eventreg.domain import events as ev
from eventreg.domain.entities import DELETED, Alias, ModelState, RegistryState, VersionState
from eventreg.log import RecordedEvent


def _touch(state: RegistryState, name: str, r: RecordedEvent) -> ModelState:
    model = state.models[name]
    model.updated_at = r.recorded_at
    return model


def _version(state: RegistryState, name: str, number: int, r: RecordedEvent) -> VersionState:
    version = _touch(state, name, r).versions[number]
    version.updated_at = r.recorded_at
    return version


def _model_deleted(state: RegistryState, e: ev.ModelDeleted, r: RecordedEvent) -> None:
    del state.models[e.model]  # the log keeps it: history and as_of before this still show it


def _version_deleted(state: RegistryState, e: ev.VersionDeleted, r: RecordedEvent) -> None:
    version = _version(state, e.model, e.version, r)
    version.status = DELETED
    version.status_reason = e.reason
    model = state.models[e.model]
    for alias in [a for a, number in model.aliases.items() if number == e.version]:
        _remove_alias(model, alias, e.version, e.reason, r)
    for stack in model.alias_stacks.values():  # a rollback never returns to it
        stack[:] = [number for number in stack if number != e.version]
    if version.label is not None:
        model.labels.pop(version.label, None)


def _version_stage_set(state: RegistryState, e: ev.VersionStageSet, r: RecordedEvent) -> None:
    version = _version(state, e.model, e.version, r)
    version.status = e.stage
    version.status_reason = e.reason


def _alias_removed(state: RegistryState, e: ev.AliasRemoved, r: RecordedEvent) -> None:
    _remove_alias(_touch(state, e.model, r), e.alias, e.previous, e.reason, r)


def _remove_alias(model: ModelState, alias: str, previous: int, reason: str | None, r: RecordedEvent) -> None:
    model.aliases.pop(alias, None)
    model.alias_stacks.pop(alias, None)
    model.alias_history.setdefault(alias, []).append(Alias(
        model=model.name, name=alias, version=previous, previous=previous, action="remove", reason=reason,
        forced=False, actor=r.actor, at=r.recorded_at, position=r.position))


def _experiment_tag_set(state: RegistryState, e: ev.ExperimentTagSet, r: RecordedEvent) -> None:
    state.experiments[e.experiment].tags[e.key] = e.value


def _experiment_tag_deleted(state: RegistryState, e: ev.ExperimentTagDeleted, r: RecordedEvent) -> None:
    state.experiments[e.experiment].tags.pop(e.key, None)


def _experiment_deleted(state: RegistryState, e: ev.ExperimentDeleted, r: RecordedEvent) -> None:
    experiment = state.experiments[e.experiment]
    experiment.deleted = True
    experiment.updated_at = r.recorded_at


def _experiment_restored(state: RegistryState, e: ev.ExperimentRestored, r: RecordedEvent) -> None:
    experiment = state.experiments[e.experiment]
    experiment.deleted = False
    experiment.updated_at = r.recorded_at


def _run_deleted(state: RegistryState, e: ev.RunDeleted, r: RecordedEvent) -> None:
    deleted = state.experiments[state.runs[e.run_id].experiment].deleted_runs
    if e.run_id not in deleted:
        deleted.append(e.run_id)


def _run_restored(state: RegistryState, e: ev.RunRestored, r: RecordedEvent) -> None:
    deleted = state.experiments[state.runs[e.run_id].experiment].deleted_runs
    if e.run_id in deleted:
        deleted.remove(e.run_id)


def _run_tag_deleted(state: RegistryState, e: ev.RunTagDeleted, r: RecordedEvent) -> None:
    state.runs[e.run_id].tags.pop(e.key, None)


def _webhook_event(state: RegistryState, e: Any, r: RecordedEvent) -> None:
    pass  # webhooks are few: eventreg.webhooks folds each one's stream when asked


LIFECYCLE_HANDLERS: dict[type, Any] = {
    ev.ModelDeleted: _model_deleted,
    ev.VersionDeleted: _version_deleted,
    ev.VersionStageSet: _version_stage_set,
    ev.AliasRemoved: _alias_removed,
    ev.ExperimentTagSet: _experiment_tag_set,
    ev.ExperimentTagDeleted: _experiment_tag_deleted,
    ev.ExperimentDeleted: _experiment_deleted,
    ev.ExperimentRestored: _experiment_restored,
    ev.RunDeleted: _run_deleted,
    ev.RunRestored: _run_restored,
    ev.RunTagDeleted: _run_tag_deleted,
    ev.WebhookCreated: _webhook_event,
    ev.WebhookUpdated: _webhook_event,
    ev.WebhookDeleted: _webhook_event,
}
