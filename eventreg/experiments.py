"""
The registry's commands on experiments and on a run's lifecycle: create, tag, delete and
restore an experiment; delete and restore a run.

Deleting hides and closes, it never erases: a deleted experiment or run stays in the log
(and in ``as_of`` views before the deletion), keeps its name taken, takes no new runs or
events, and can be restored. :class:`ExperimentCommands` is composed into
:class:`~eventreg.registry.Registry` (``reg.create_experiment``, ``reg.delete_run`` ...,
listed in :data:`EXPERIMENT_COMMANDS`); each decides against the caught-up projection and
appends to the experiment's or run's stream through the registry's writer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eventreg.domain import events as ev
from eventreg.domain import tracking_events as tev
from eventreg.domain import validation as check
from eventreg.domain.entities import RegistryState
from eventreg.domain.queries import _run
from eventreg.domain.views import Experiment
from eventreg.errors import AlreadyExists, InvalidTransition, NotFound, ValidationError
from eventreg.writer import Plan

__all__ = ["EXPERIMENT_COMMANDS", "ExperimentCommands"]

#: The methods composed into Registry (commands: a view refuses them).
EXPERIMENT_COMMANDS = ("create_experiment", "delete_experiment", "delete_experiment_tag", "delete_run",
                       "rename_experiment", "rename_run", "restore_experiment", "restore_run",
                       "set_experiment_tag", "set_run_status")
#: The experiment runs start in when none is named; it cannot be renamed.
DEFAULT_EXPERIMENT = "Default"


def _experiment(state: RegistryState, name: str) -> Any:
    found = state.experiments.get(name)
    if found is None:
        raise NotFound(f"no experiment {name!r}")
    return found


class ExperimentCommands:
    """
    The experiment and run-lifecycle commands of one registry (see the module's docstring).
    """

    def __init__(self, registry: Any) -> None:
        self._registry = registry

    def _experiment_command(self, name: str, build: Any) -> Experiment:
        def decide(state: RegistryState) -> Plan:
            found = _experiment(state, name)
            return Plan(ev.experiment_stream(found.name), build(found),
                        lambda s, _: Experiment.of(s.experiments[found.name]))

        return self._registry._execute(decide)

    def create_experiment(self, name: str, *, tags: Mapping[str, Any] | None = None) -> Experiment:
        """
        Create an experiment (``start_run`` also creates one on first use).

        Returns:
            The new :class:`~eventreg.domain.views.Experiment`; its ``id`` is a number
            no other experiment has or will have.

        Raises:
            AlreadyExists: an experiment of that name exists (also a deleted one).
            ValidationError: the name or a tag is invalid.
        """
        name = check.check_name(name, "experiment name")
        tags = check.check_tags(tags)

        def decide(state: RegistryState) -> Plan:
            if name in state.experiments:
                raise AlreadyExists(f"experiment {name!r} already exists")
            new: list[Any] = [ev.ExperimentCreated(experiment=name)]
            new += [ev.ExperimentTagSet(experiment=name, key=k, value=v) for k, v in tags.items()]
            return Plan(ev.experiment_stream(name), new, lambda s, _: Experiment.of(s.experiments[name]))

        return self._registry._execute(decide)

    def set_experiment_tag(self, name: str, key: str, value: Any) -> Experiment:
        """
        Set one tag of an experiment.
        """
        key = check.check_name(key, "tag key")
        value = check.check_tag_value(value, f"tag {key!r}")

        def build(found: Any) -> list[Any]:
            if key not in found.tags and len(found.tags) >= check.MAX_TAGS:
                raise ValidationError(f"experiment {name!r} has {check.MAX_TAGS:,} tags, the limit")
            return [ev.ExperimentTagSet(experiment=found.name, key=key, value=value)]

        return self._experiment_command(name, build)

    def delete_experiment_tag(self, name: str, key: str) -> Experiment:
        """
        Remove a tag from an experiment.

        Raises:
            NotFound: the experiment or tag does not exist.
        """

        def build(found: Any) -> list[Any]:
            if key not in found.tags:
                raise NotFound(f"experiment {name!r} has no tag {key!r}")
            return [ev.ExperimentTagDeleted(experiment=found.name, key=key)]

        return self._experiment_command(name, build)

    def delete_experiment(self, name: str, *, reason: str | None = None) -> Experiment:
        """
        Delete an experiment: hidden from ``list_experiments``, no new runs; restorable.
        Deleting a deleted experiment changes nothing.
        """
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)
        return self._experiment_command(
            name, lambda found: [] if found.deleted else [ev.ExperimentDeleted(experiment=found.name, reason=reason)])

    def restore_experiment(self, name: str) -> Experiment:
        """
        Undo :meth:`delete_experiment` (a no-op on an experiment that is not deleted).
        """
        return self._experiment_command(
            name, lambda found: [ev.ExperimentRestored(experiment=found.name)] if found.deleted else [])

    def rename_experiment(self, name: str, new_name: str) -> Experiment:
        """
        Give an experiment a new name: its number, tags, runs and history stay, and the
        old name is free again (an ``experiment.renamed`` event). Renaming to its own name
        changes nothing.

        Raises:
            NotFound: there is no experiment ``name``.
            AlreadyExists: another experiment (also a deleted one) is called ``new_name``.
            InvalidTransition: the experiment is deleted, or it is ``Default`` (runs started
                without an experiment go there).
            ValidationError: ``new_name`` is not a valid name, or is ``Default``.
        """
        new_name = check.check_name(new_name, "experiment name")

        def decide(state: RegistryState) -> Plan:
            found = _experiment(state, name)
            if found.deleted:
                raise InvalidTransition(f"experiment {name!r} is deleted (restore_experiment brings it back)")
            if new_name == found.name:
                return Plan(ev.experiment_stream(found.name), [], lambda s, _: Experiment.of(s.experiments[new_name]))
            if found.name == DEFAULT_EXPERIMENT:
                raise InvalidTransition(f"the {DEFAULT_EXPERIMENT} experiment cannot be renamed")
            if new_name == DEFAULT_EXPERIMENT:
                raise ValidationError(f"{DEFAULT_EXPERIMENT!r} is the default experiment's name")
            if new_name in state.experiments:
                raise AlreadyExists(f"experiment {new_name!r} already exists")
            return Plan(ev.experiment_stream(found.name), [tev.ExperimentRenamed(experiment=found.name, name=new_name)],
                        lambda s, _: Experiment.of(s.experiments[new_name]))

        return self._registry._execute(decide)

    def rename_run(self, run_id: str, name: str) -> None:
        """
        Give a run a new name (a ``run.renamed`` event), also after it ended.

        Raises:
            NotFound: there is no such run.
            InvalidTransition: the run is deleted.
        """
        name = check.check_text(name, "run name", check.MAX_NAME_LENGTH, allow_none=False)

        def build(run: Any, deleted: bool) -> list[Any]:
            if deleted:
                raise InvalidTransition(f"run {run_id!r} is deleted (restore_run brings it back)")
            return [] if run.name == name else [tev.RunRenamed(run_id=run.run_id, name=name)]

        self._run_command(run_id, build)

    def set_run_status(self, run_id: str, status: str, *, ended_at: Any = None) -> None:
        """
        Set a run's status directly, as MLflow's ``update_run_info`` does (a
        ``run.status_set`` event): back to ``RUNNING`` or ``SCHEDULED`` after it ended, or
        to another end status. A running run that ends is better ended by
        ``ActiveRun.end``, which records its end (``run.finished``). ``ended_at`` (timezone-aware)
        is its new end time; None keeps the one it has.

        Raises:
            NotFound: there is no such run.
            InvalidTransition: the run is deleted.
            ValidationError: ``status`` is not one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED.
        """
        if status not in tev.RUN_STATUSES:
            raise ValidationError(f"status must be one of {', '.join(tev.RUN_STATUSES)}, not {status!r}")
        ended_at = check.check_moment(ended_at, "ended_at")

        def build(run: Any, deleted: bool) -> list[Any]:
            if deleted:
                raise InvalidTransition(f"run {run_id!r} is deleted (restore_run brings it back)")
            if run.status == status and (ended_at is None or ended_at == run.ended_at):
                return []
            return [tev.RunStatusSet(run_id=run.run_id, status=status, ended_at=ended_at)]

        self._run_command(run_id, build)

    def delete_run(self, run_id: str, *, reason: str | None = None) -> None:
        """
        Delete a run: hidden from ``search_runs``, takes no more events; restorable.
        Deleting a deleted run changes nothing.

        Raises:
            NotFound: there is no such run.
        """
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)
        self._run_command(run_id, lambda run, deleted: [] if deleted else [ev.RunDeleted(run_id=run_id, reason=reason)])

    def restore_run(self, run_id: str) -> None:
        """
        Undo :meth:`delete_run` (a no-op on a run that is not deleted).
        """
        self._run_command(run_id, lambda run, deleted: [ev.RunRestored(run_id=run_id)] if deleted else [])

    def _run_command(self, run_id: str, build: Any) -> None:
        def decide(state: RegistryState) -> Plan:
            run = _run(state, run_id)
            deleted = run.run_id in state.experiments[run.experiment].deleted_runs
            return Plan(ev.run_stream(run.run_id), build(run, deleted))

        self._registry._execute(decide)
