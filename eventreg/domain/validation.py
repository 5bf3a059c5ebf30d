"""
Input rules for every command, and the documented size limits.

Each check either returns the (normalised) value or raises
:class:`~eventreg.errors.ValidationError` with a one-line message naming the problem; a
command runs all of its checks before it builds any event, so a rejected call writes
nothing.

Names (models, aliases, labels, experiments, tag keys, param and metric keys) are
non-empty, at most :data:`MAX_NAME_LENGTH` characters, printable, without surrounding
spaces, and contain no ``/``, ``\\``, ``@``, ``..`` nor NUL: they appear in
``models:/name@alias`` references, stream ids and file paths, where those characters
would change the meaning or escape a folder.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from eventreg.errors import ValidationError

#: Longest name of a model, alias, label, experiment, tag key, param or metric key.
MAX_NAME_LENGTH = 128
#: Longest tag value (an MLflow prompt template is a tag value).
MAX_TAG_VALUE_LENGTH = 100_000
#: Longest string param value (as MLflow).
MAX_PARAM_VALUE_LENGTH = 6_000
#: Longest model or version description.
MAX_DESCRIPTION_LENGTH = 20_000
#: Longest reason given for a promotion, rollback, deprecation or archive.
MAX_REASON_LENGTH = 5_000
#: Most params in one call, and on one run or version in total.
MAX_PARAMS = 10_000
#: Most tags on one model, version or run.
MAX_TAGS = 1_000
#: Most metric points in one event (larger batches are split into several events).
MAX_METRIC_POINTS_PER_EVENT = 10_000
#: Most parents of one version.
MAX_PARENTS = 100
#: Largest ``data``, ``code`` or ``architecture`` object, as JSON text.
MAX_JSON_CHARS = 100_000
#: Most artifact files recorded by one call.
MAX_ARTIFACT_FILES = 100_000

_FORBIDDEN = ("/", "\\", "@", "..")
_FORBIDDEN_IN_METRIC_KEYS = ("\\", "@", "..")
#: ``(name, forbidden)`` pairs :func:`check_name` found good: a program uses the same few
#: model names and param, tag and metric keys on every call (bounded: a stream of new
#: names is checked each time once it is full)
_GOOD_NAMES: set[tuple[str, tuple[str, ...] | None]] = set()
_GOOD_NAMES_LIMIT = 4096
_RESERVED_REFS = ("latest",)


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_text(value: Any, what: str, limit: int, *, allow_none: bool = True) -> str | None:
    """
    Free text (descriptions, reasons): a string of at most ``limit`` characters, no NUL.
    """
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, not {type(value).__name__}")
    if len(value) > limit:
        raise ValidationError(f"{what} is {len(value):,} characters long; the limit is {limit:,}")
    if "\x00" in value or _bad_unicode(value):
        raise ValidationError(f"{what} contains a NUL character or invalid Unicode")
    return str(value)  # a str subclass (numpy.str_ ...) becomes a plain str


def _bad_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_metric_key(value: Any, what: str = "metric key") -> str:
    """
    A metric key: a name that may contain ``/`` (``train/loss``, as MLflow and
    TensorBoard group metrics); metric keys never appear in references, stream ids or
    paths. A filter quotes such a key: ```metrics.`train/loss` < 0.5```.
    """
    return check_name(value, what, _FORBIDDEN_IN_METRIC_KEYS)


def check_name(value: Any, what: str = "name", forbidden: tuple[str, ...] | None = None) -> str:
    """
    A name: see the module docstring for the rules (``forbidden``: other substrings to refuse).

    Raises:
        ValidationError: naming ``what`` and the rule broken.
    """
    if type(value) is str and (value, forbidden) in _GOOD_NAMES:
        return value  # a plain str found good before: the same answer, without the checks
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, not {type(value).__name__}")
    if not value:
        raise ValidationError(f"{what} must not be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise ValidationError(
            f"{what} {_describe(value)} is {len(value)} characters long; the limit is {MAX_NAME_LENGTH}"
        )
    if not value.isprintable() or _bad_unicode(value):
        raise ValidationError(f"{what} {_describe(value)} contains control or invalid characters")
    if value != value.strip():
        raise ValidationError(f"{what} {_describe(value)} has leading or trailing spaces")
    for bad in _FORBIDDEN if forbidden is None else forbidden:
        if bad in value:
            raise ValidationError(f"{what} {_describe(value)} must not contain {bad!r}")
    if value == ".":
        raise ValidationError(f"{what} must not be '.'")
    if type(value) is str and len(_GOOD_NAMES) < _GOOD_NAMES_LIMIT:
        _GOOD_NAMES.add((value, forbidden))
    return str(value)


def check_version_name(value: Any, what: str) -> str:
    """
    An alias or label: a name that cannot be mistaken for a version number or ``latest``.
    """
    value = check_name(value, what)
    if value.isdigit():
        raise ValidationError(f"{what} {value!r} must not be a number (it would read as a version)")
    if value.lower() in _RESERVED_REFS:
        raise ValidationError(f"{what} {value!r} is reserved")
    return value


def check_tag_value(value: Any, what: str = "tag value") -> str:
    """
    A tag value: a string (numbers and booleans are converted) of at most 100,000 characters (MLflow prompts are tags).
    """
    if type(value) is str and len(value) <= MAX_TAG_VALUE_LENGTH and "\x00" not in value and value.isascii():
        return value  # the common case: what check_text answers for plain ASCII text
    if isinstance(value, (bool, numbers.Number)):
        value = str(value)
    result = check_text(value, what, MAX_TAG_VALUE_LENGTH, allow_none=False)
    assert result is not None
    return result


def check_tags(tags: Any, what: str = "tags") -> dict[str, str]:
    """
    A mapping of tag keys to tag values.
    """
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise ValidationError(f"{what} must be a mapping, not {type(tags).__name__}")
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"{len(tags):,} {what}; the limit is {MAX_TAGS:,}")
    return {check_name(k, "tag key"): check_tag_value(v, f"tag {k!r}") for k, v in tags.items()}


def check_param_value(key: str, value: Any) -> Any:
    """
    A param value: str, int, float, bool or None, kept as given (numpy scalars become
    the Python number); strings up to 6,000 characters. A list, tuple or dict (of such
    values) is kept as a JSON value (a tuple becomes a list) of up to 6,000 characters.
    """
    kind = type(value)
    if kind is int or kind is float or value is None or kind is bool:
        return value  # the common cases, as the checks below answer them
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        return check_text(value, f"param {key!r}", MAX_PARAM_VALUE_LENGTH)
    if isinstance(value, (Mapping, list, tuple)):
        try:
            text = json.dumps(value, allow_nan=True, sort_keys=True, default=_plain_number)
        except (TypeError, ValueError) as e:
            raise ValidationError(f"param {key!r} is not a JSON value: {e}") from None
        if len(text) > MAX_PARAM_VALUE_LENGTH:
            raise ValidationError(f"param {key!r} is {len(text):,} characters as JSON; "
                                  f"the limit is {MAX_PARAM_VALUE_LENGTH:,}")
        if "\\u0000" in text or _bad_unicode(text):
            raise ValidationError(f"param {key!r} contains a NUL character or invalid Unicode")
        return json.loads(text)
    raise ValidationError(
        f"param {key!r} must be a str, int, float, bool, None, or a list or dict of them, "
        f"not {type(value).__name__} (log str(value))"
    )


def _plain_number(value: Any) -> Any:
    """
    A numpy scalar inside a list or dict param as the Python number (json.dumps' default).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        raise TypeError(f"a {type(value).__name__} is not JSON")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(f"a {type(value).__name__} is not JSON")


def check_params(params: Any) -> dict[str, Any]:
    """
    A mapping of param keys to values.
    """
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise ValidationError(f"params must be a mapping, not {type(params).__name__}")
    if len(params) > MAX_PARAMS:
        raise ValidationError(f"{len(params):,} params; the limit is {MAX_PARAMS:,} per call")
    return {check_name(k, "param key"): check_param_value(k, v) for k, v in params.items()}


def check_metric_value(key: str, value: Any) -> float:
    """
    A metric value: a real number (numpy scalars too); NaN and infinities are kept.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(f"metric {key!r} must be a number, not {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        raise ValidationError(f"metric {key!r} is too large for a float") from None


def check_moment(value: Any, what: str) -> datetime | None:
    """
    An original time (when something really happened, e.g. before an import): None, or a
    timezone-aware ``datetime``, returned in UTC.
    """
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValidationError(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{what} must be timezone-aware (e.g. datetime.now(timezone.utc)), not {value}")
    return value.astimezone(timezone.utc)


def check_step(step: Any) -> int | None:
    """
    A metric step: None or an int (numpy integers too) that fits in 64 bits.
    """
    if step is None:
        return None
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise ValidationError(f"step must be an int or None, not {type(step).__name__}")
    step = int(step)
    if abs(step) >= 2**63:
        raise ValidationError("step does not fit in 64 bits")
    return step


def check_json_blob(value: Any, what: str) -> dict[str, Any] | None:
    """
    A free-form JSON object (``data``, ``code``, ``architecture``) of limited size.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError(f"{what} must be a mapping (JSON object), not {type(value).__name__}")
    try:
        text = json.dumps(value, allow_nan=True, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise ValidationError(f"{what} is not JSON: {e}") from None
    if len(text) > MAX_JSON_CHARS:
        raise ValidationError(f"{what} is {len(text):,} characters as JSON; the limit is {MAX_JSON_CHARS:,}")
    if "\\u0000" in text or _bad_unicode(text):
        raise ValidationError(f"{what} contains a NUL character or invalid Unicode")
    return json.loads(text)


def check_version_number(value: Any, what: str = "version") -> int:
    """
    A version number: a positive int.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"{what} must be a positive int, not {_describe(value)}")
    return value


def check_code(value: Any) -> dict[str, Any] | None:
    """
    The training code a caller gives: a mapping or None (``"auto"`` is captured by
    :mod:`eventreg.capture` before this is asked).
    """
    if isinstance(value, str):
        raise ValidationError(f"code must be 'auto', a mapping or None, not {value!r}")
    return check_json_blob(value, "code")
