"""
Lookups over a :class:`~eventreg.domain.entities.RegistryState`: pure functions.

Find a model, a version (by number, label, alias or ``"latest"``) or a run, with the
error a user should see when it is missing, and build the records that search filters
and gates test. :class:`~eventreg.view.RegistryView` answers every query with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from eventreg.domain.entities import DELETED, ModelState, latest_number, RegistryState, RunState, VersionState
from eventreg.domain.views import ModelVersion
from eventreg.errors import AlreadyExists, NotFound, ValidationError

#: What identifies a version: its number, label, alias, ``"latest"``, or a ``ModelVersion``.
VersionRef = Any


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
    number = latest_number(model)
    if number is None:
        raise NotFound(f"model {model.name!r} has no versions yet")
    return number


def _by_number(model: ModelState, number: int) -> VersionState:
    found = model.versions.get(number)
    if found is None or found.status == DELETED:
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


class _VersionRecord(dict):  # type: ignore[type-arg]
    """
    A version's filter record whose ``metrics``, ``params`` and ``tags`` are decoded
    (eventreg/domain/packed.py) when a filter first asks for them: a search testing one
    metric over a thousand versions decodes only their metrics.
    """

    __slots__ = ("_version",)

    def __missing__(self, key: Any) -> Any:
        if key in _DECODED_LATER:
            value = self[key] = getattr(self._version, key)
            return value
        raise KeyError(key)

    def get(self, key: Any, default: Any = None) -> Any:
        if key in _DECODED_LATER or dict.__contains__(self, key):
            return self[key]
        return default


_DECODED_LATER = frozenset(("metrics", "params", "tags"))


def _version_record(model: ModelState, version: VersionState, aliases: Iterable[str] | None = None) -> dict[str, Any]:
    if aliases is None:
        aliases = [a for a, v in model.aliases.items() if v == version.version]
    record = _VersionRecord(name=model.name, version=version.version, label=version.label, aliases=set(aliases),
                            created_at=version.created_at, actor=version.actor)
    record._version = version
    return record


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


def check_label_free(state: RegistryState, model: str, label: str) -> None:
    """
    Check that ``label`` can name a new version of ``model`` (a model not yet there takes any).

    Raises:
        AlreadyExists: ``label`` already names a version of ``model``; the message names
            that version and says how to go on (a script run twice hits this).
        ValidationError: ``label`` is an alias of ``model``.
    """
    found = state.models.get(model)
    if found is None:
        return
    number = found.labels.get(label)
    if number is not None:
        taken = found.versions[number]
        raise AlreadyExists(
            f"label {label!r} is already version {number} of {model!r} (registered by {taken.actor or 'unknown'} "
            f"at {taken.created_at:%Y-%m-%d %H:%M:%S} UTC); to go on, pick a new label, register without "
            f"label= (it becomes version {len(found.versions) + 1}), or use the existing one: "
            f"get_version({model!r}, {label!r})"
        )
    if label in found.aliases:
        raise ValidationError(f"label {label!r} is already an alias of {model!r}")
