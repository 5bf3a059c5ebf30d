"""
The registry's commands on models as a whole: create, describe, tag, archive, delete; and
the deletion of a version and the removal of an alias.

:class:`ModelCommands` is composed into :class:`~eventreg.registry.Registry`
(``reg.create_model``, ``reg.archive_model`` ... are its methods, listed in
:data:`MODEL_COMMANDS`); each decides against the caught-up projection and appends to the
model's stream through the registry's writer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from eventreg.domain import events as ev
from eventreg.domain import validation as check
from eventreg.domain.entities import ARCHIVED, PRODUCTION, READY, STAGING, RegistryState
from eventreg.domain.queries import VersionRef, _model, _version
from eventreg.domain.views import Model
from eventreg.errors import AlreadyExists, NotFound, PolicyViolation, ValidationError
from eventreg.writer import Plan

__all__ = ["MODEL_COMMANDS", "ModelCommands"]

#: The methods composed into Registry (commands: a view refuses them).
MODEL_COMMANDS = ("archive_model", "create_model", "delete_model", "delete_model_tag", "delete_version", "remove_alias",
                  "set_model_tag", "set_version_stage", "update_model")
#: The stages ``set_version_stage`` takes (a version's status; READY is MLflow's "None").
STAGES = (READY, STAGING, PRODUCTION, ARCHIVED)


class ModelCommands:
    """
    The model commands of one registry (see the module's docstring).
    """

    def __init__(self, registry: Any) -> None:
        self._registry = registry

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

        def decide(state: RegistryState) -> Plan:
            if name in state.models:
                raise AlreadyExists(f"model {name!r} already exists")
            return Plan(ev.model_stream(name),
                         [ev.ModelCreated(model=name, description=description, tags=tags)],
                         lambda s, _: Model.of(s.models[name]))

        return self._registry._execute(decide)

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
        def decide(state: RegistryState) -> Plan:
            model = _model(state, name)
            return Plan(ev.model_stream(model.name), build(model), lambda s, _: Model.of(s.models[model.name]))

        return self._registry._execute(decide)

    def delete_model(self, name: str, *, reason: str | None = None) -> None:
        """
        Delete a model as MLflow does: it disappears from every read and the name can be
        registered again (starting at version 1). Nothing is erased: ``history`` and
        ``as_of`` before the deletion still show it. :meth:`archive_model` keeps it readable.

        Raises:
            NotFound: there is no such model.
            PolicyViolation: an alias of the model is protected (governance).
        """
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)

        def decide(state: RegistryState) -> Plan:
            model = _model(state, name)
            for alias in model.aliases:
                _unprotected(state, model.name, alias, "delete the model")
            return Plan(ev.model_stream(model.name), [ev.ModelDeleted(model=model.name, reason=reason)])

        self._registry._execute(decide)

    def delete_version(self, model: str, version: VersionRef, *, reason: str | None = None) -> None:
        """
        Delete a version: hidden from every read, its aliases removed, its number never
        given again (the log keeps it). :meth:`archive_version` keeps it readable.

        Raises:
            NotFound: the model or version does not exist.
            PolicyViolation: it holds a protected alias (governance).
        """
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)

        def decide(state: RegistryState) -> Plan:
            found = _model(state, model)
            target = _version(found, version)
            for alias, number in found.aliases.items():
                if number == target.version:
                    _unprotected(state, found.name, alias, f"delete version {number}")
            return Plan(ev.model_stream(found.name),
                        [ev.VersionDeleted(model=found.name, version=target.version, reason=reason)])

        self._registry._execute(decide)

    def remove_alias(self, model: str, alias: str, *, reason: str | None = None) -> None:
        """
        Remove an alias: afterwards no version holds it (``rollback`` instead moves it back).

        Raises:
            NotFound: the model has no such alias.
            PolicyViolation: the alias is protected (governance).
        """
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)

        def decide(state: RegistryState) -> Plan:
            found = _model(state, model)
            if alias not in found.aliases:
                raise NotFound(f"model {model!r} has no alias {alias!r}")
            _unprotected(state, found.name, alias, "remove it")
            return Plan(ev.model_stream(found.name), [ev.AliasRemoved(
                model=found.name, alias=alias, previous=found.aliases[alias], reason=reason)])

        self._registry._execute(decide)

    def set_version_stage(self, model: str, version: VersionRef, stage: str, *, archive_existing: bool = False,
                          reason: str | None = None) -> None:
        """
        Move a version to an MLflow stage, kept as its status: ``READY`` (MLflow's "None"),
        ``STAGING``, ``PRODUCTION`` or ``ARCHIVED``. Aliases are eventreg's way to point at
        "the production version"; stages are for MLflow clients that still use them.

        Args:
            archive_existing: also archive the other versions in ``STAGING`` or
                ``PRODUCTION`` (the stage moved to), in the same append.

        Raises:
            NotFound: the model or version does not exist.
            ValidationError: an unknown stage, or ``archive_existing`` with a stage other
                than STAGING or PRODUCTION.
        """
        if stage not in STAGES:
            raise ValidationError(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
        if archive_existing and stage not in (STAGING, PRODUCTION):
            raise ValidationError(f"archive_existing needs the stage STAGING or PRODUCTION, not {stage}")
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)

        def decide(state: RegistryState) -> Plan:
            found = _model(state, model)
            target = _version(found, version)
            new: list[Any] = []
            if archive_existing:
                new += [ev.VersionStageSet(model=found.name, version=v.version, stage=ARCHIVED, reason=reason)
                        for v in found.versions.values() if v.status == stage and v.version != target.version]
            new.append(ev.VersionStageSet(model=found.name, version=target.version, stage=stage, reason=reason))
            return Plan(ev.model_stream(found.name), new)

        self._registry._execute(decide)


def _unprotected(state: RegistryState, model: str, alias: str, what: str) -> None:
    if state.governance.policy(model, alias) is not None:
        raise PolicyViolation(f"alias {alias!r} of {model!r} is protected: cannot {what} (unprotect it first)")

