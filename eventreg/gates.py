"""
Release gates: check a version against conditions, and promote it only if they hold.

``reg.check("iris", 3, require=["metrics.accuracy >= 0.9"],
better_than=["production:metrics.accuracy"], promote_to="production")`` is what a CI/CD
pipeline runs (``eventreg gate`` is this call). Conditions are search filters evaluated on
the one version; a baseline compares a field with the version an alias points at.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import attrs

from eventreg.domain.filters import VERSION_FIELDS, compile_filter
from eventreg.domain.entities import RegistryState
from eventreg.domain.queries import VersionRef, _model, _version, _version_record
from eventreg.errors import ValidationError


@attrs.frozen
class GateCheck:
    """
    One condition of a gate and whether the version met it.
    """

    condition: str
    ok: bool
    note: str | None = None


@attrs.frozen
class GateResult:
    """
    The outcome of :meth:`Registry.check`: true when every condition held.
    """

    model: str
    version: int
    ok: bool
    checks: tuple[GateCheck, ...]
    promoted_to: str | None = None
    #: the promotion request filed instead, when ``promote_to`` is a protected alias
    request_id: str | None = None

    def __bool__(self) -> bool:
        return self.ok

    @property
    def failed(self) -> tuple[GateCheck, ...]:
        """
        The conditions that did not hold.
        """
        return tuple(check for check in self.checks if not check.ok)


def _parse_baseline(item: str | tuple[str, str]) -> tuple[str, str]:
    if isinstance(item, tuple):
        alias, field = item
    else:
        alias, sep, field = str(item).partition(":")
        if not sep:
            alias = field = ""
    if not alias or not field:
        raise ValidationError(f"better_than expects ALIAS:FIELD such as production:metrics.accuracy, not {item!r}")
    return alias, field


def _field_value(record: dict[str, Any], field: str) -> Any:
    """
    The value of a filter field (``metrics.x``, ``params.x``, ``tags.x``, ``version`` ...).
    """
    group, dot, key = field.partition(".")
    if dot and group in ("metrics", "params", "tags"):
        return record[group].get(key)
    if field in ("version", "created_at"):
        return record[field]
    raise ValidationError(f"better_than compares metrics.*, params.*, tags.* or version, not {field!r}")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def evaluate(state: RegistryState, model: str, version: VersionRef, *, require: Iterable[str] = (),
             better_than: Iterable[str | tuple[str, str]] = ()) -> GateResult:
    """
    Check one version of ``state`` against conditions (see ``RegistryView.check``).

    Raises:
        NotFound: the model or version does not exist.
        FilterSyntaxError: a condition does not parse (the column is in the message).
        ValidationError: no condition given, or a bad ``better_than`` item.
    """
    require = list(require)
    baselines = [_parse_baseline(item) for item in better_than]
    if not require and not baselines:
        raise ValidationError("a gate needs at least one condition (require= or better_than=)")
    predicates = [(text, compile_filter(text, fields=VERSION_FIELDS)) for text in require]
    checks: list[GateCheck] = []
    found = _model(state, model)
    candidate = _version(found, version)
    record = _version_record(found, candidate)
    for text, predicate in predicates:
        checks.append(GateCheck(text, bool(predicate.matches(record))))
    for alias, field in baselines:
        condition = f"{field} > {alias}"
        number = found.aliases.get(alias)
        if number is None:
            checks.append(GateCheck(condition, True, f"nothing holds {alias} yet"))
            continue
        holder = _version_record(found, _version(found, number))
        mine, theirs = _number(_field_value(record, field)), _number(_field_value(holder, field))
        if theirs is None:
            checks.append(GateCheck(condition, False, f"{alias} (version {number}) has no number in {field}"))
        elif mine is None:
            checks.append(GateCheck(condition, False, f"version {candidate.version} has no number in {field}"))
        else:
            checks.append(GateCheck(condition, mine > theirs,
                                    f"{alias} is version {number} with {field} = {theirs:g}"))
    return GateResult(found.name, candidate.version, all(check.ok for check in checks), tuple(checks))


__all__ = ["GateCheck", "GateResult", "evaluate"]
