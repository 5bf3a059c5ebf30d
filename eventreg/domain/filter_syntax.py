"""
The words of the search filter language: fields, values, tokens and syntax errors.

:mod:`eventreg.domain.filters` compiles filters from these; see its docstring.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from eventreg.errors import FilterSyntaxError
from eventreg.log import parse_iso_moment


#: Longest filter or order_by text accepted, in characters.
MAX_FILTER_LENGTH = 10_000
#: Deepest nesting of parentheses and NOT accepted.
MAX_DEPTH = 100

#: Field names a filter on model versions may use (``metrics.<key>`` etc. via the groups).
VERSION_FIELDS = frozenset(
    {"name", "model", "version", "label", "alias", "created_at", "actor",
     "metrics", "params", "tags"}
)
#: Field names a filter on runs may use.
RUN_FIELDS = frozenset(
    {"run_id", "id", "name", "experiment", "status", "start_time", "end_time", "actor",
     "metrics", "params", "tags"}
)

Record = Mapping[str, Any]
# A compiled clause: True, False or None (unknown, SQL NULL).
_Predicate = Callable[[Record], "bool | None"]

_GROUPS = {
    "metrics": "metrics", "metric": "metrics",
    "params": "params", "param": "params", "parameters": "params", "parameter": "params",
    "tags": "tags", "tag": "tags",
}
_ATTRIBUTE_PREFIXES = frozenset({"attributes", "attribute", "attr"})
# filter name -> record keys tried in order
_SYNONYMS = {
    "model": ("name", "model"),
    "alias": ("aliases", "alias"),
    "aliases": ("aliases", "alias"),
    "id": ("run_id", "id"),
    "run_id": ("run_id", "id"),
}
_DATETIME_FIELDS = frozenset({"created_at", "start_time", "end_time"})
_NUMBER_FIELDS = frozenset({"version"})
_SET_FIELDS = frozenset({"alias", "aliases"})
_KEYWORDS = frozenset({"and", "or", "not", "like", "ilike", "in", "is", "null", "true", "false"})
_COMPARISONS = {
    "=": operator.eq, "!=": operator.ne, "<>": operator.ne,
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
_ORDERINGS = frozenset({"<", "<=", ">", ">="})

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]*")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


# -- values --------------------------------------------------------------------------


def _number(text: str) -> int | float | None:
    """
    Read ``text`` as a number if it is exactly one (``"100"``, ``"1e-3"``), else None.
    """
    if _NUMBER.fullmatch(text) is None:
        return None
    try:
        if "." in text or "e" in text or "E" in text:
            value = float(text)
            return None if value in (float("inf"), float("-inf")) else value
        return int(text)
    except ValueError:  # more digits than int() converts
        return None


def _when(text: str) -> datetime | None:
    """
    Read an ISO-8601 date or date-time; naive means UTC. None if it is not one.
    """
    text = text.strip()
    if len(text) < 8 or not text[:4].isdigit():
        return None
    return parse_iso_moment(text)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _text(value: Any) -> str | None:
    """
    The text LIKE looks at: strings as they are, numbers and booleans as JSON writes them.
    """
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return None


# -- tokens and errors -----------------------------------------------------------------


class _Token(NamedTuple):
    kind: str   # ident, string, number, op, kw, "(", ")", ",", end
    value: Any  # ident: (head, key or None); kw: lower-case word; others: the value
    pos: int    # 0-based offset in the text
    source: str


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "the end"
    if token.kind == "kw":
        return token.value.upper()
    shown = token.source if len(token.source) <= 30 else token.source[:27] + "..."
    return f"'{shown}'" if token.kind != "string" else shown


def _error(what: str, text: str, pos: int, message: str, hint: str = "") -> FilterSyntaxError:
    """
    Build the error: ``what: message at column N[; hint]`` and a caret line under the text.
    """
    column = pos + 1
    start = max(0, pos - 50)
    end = min(len(text), max(pos + 30, start + 80))
    before = "..." if start else ""
    after = "..." if end < len(text) else ""
    snippet = "".join(c if c.isprintable() else " " for c in text[start:end])
    caret = " " * (len(before) + pos - start) + "^"
    tail = f"; {hint}" if hint else ""
    return FilterSyntaxError(
        f"{what}: {message} at column {column}{tail}\n  {before}{snippet}{after}\n  {caret}",
        text=text,
        column=column,
    )


def _tokenize(text: str, what: str) -> list[_Token]:
    """
    Split the text into tokens, each remembering where it starts.
    """
    tokens: list[_Token] = []
    pos, length = 0, len(text)
    while pos < length:
        char = text[pos]
        start = pos
        if char.isspace():
            pos += 1
            continue
        if char in "(),":
            tokens.append(_Token(char, char, pos, char))
            pos += 1
        elif char in "'\"":
            value, pos = _quoted(text, pos, what, "string")
            tokens.append(_Token("string", value, start, text[start:pos]))
        elif char in "0123456789" or (char in "+-." and _NUMBER.match(text, pos)):
            match = _NUMBER.match(text, pos)
            if match is None:
                raise _error(what, text, pos, f"unexpected {char!r}")
            pos = match.end()
            if pos < length and (text[pos].isalnum() or text[pos] in "_."):
                raise _error(what, text, pos, f"unexpected {text[pos]!r} after a number")
            source = match.group()
            number = _number(source)
            if number is None:
                raise _error(what, text, start, f"number {source[:30]!r} is out of range")
            tokens.append(_Token("number", number, start, source))
        elif char in "<>!=":
            two = text[pos:pos + 2]
            if two == "==":
                raise _error(what, text, pos, "'==' is not an operator", "write '='")
            if two in ("<=", ">=", "<>", "!="):
                op = two
            elif char == "!":
                raise _error(what, text, pos, "unexpected '!'", "write '!=' or NOT")
            else:
                op = char
            tokens.append(_Token("op", op, pos, op))
            pos += len(op)
        elif char.isascii() and (char.isalpha() or char == "_"):
            match = _BARE.match(text, pos)
            assert match is not None
            pos = match.end()
            bare = match.group()
            if bare.endswith(".") and pos < length and text[pos] in "`\"":
                key, pos = _quoted(text, pos, what, "name")
                tokens.append(_Token("ident", (bare[:-1], key), start, text[start:pos]))
            elif "." not in bare and bare.lower() in _KEYWORDS:
                tokens.append(_Token("kw", bare.lower(), start, bare))
            else:
                head, dot, key = bare.partition(".")
                tokens.append(_Token("ident", (head, key if dot else None), start, bare))
        elif char == "`":
            name, pos = _quoted(text, pos, what, "name")
            tokens.append(_Token("ident", (name, None), start, text[start:pos]))
        else:
            raise _error(what, text, pos, f"unexpected character {char!r}")
    tokens.append(_Token("end", None, length, ""))
    return tokens


def _quoted(text: str, pos: int, what: str, kind: str) -> tuple[str, int]:
    """
    Read a quoted string or name starting at ``pos``; a doubled quote stands for itself.
    """
    quote = text[pos]
    parts: list[str] = []
    scan = pos + 1
    while True:
        end = text.find(quote, scan)
        if end < 0:
            raise _error(what, text, pos, f"unterminated {kind}", f"close it with {quote}")
        parts.append(text[scan:end])
        if text.startswith(quote, end + 1):
            parts.append(quote)
            scan = end + 2
        else:
            return "".join(parts), end + 1


# -- fields --------------------------------------------------------------------------


class _Field(NamedTuple):
    label: str                                # as written, for messages
    get: Callable[[Record], Any]              # the value, or None when missing
    kind: str                                 # any, set, datetime, number


def _resolve(token: _Token, what: str, text: str, fields: frozenset[str] | None) -> _Field:
    """
    Turn an identifier token into a field getter, checking it against ``fields``.
    """
    head, key = token.value
    lowered = head.lower()
    if lowered in _GROUPS:
        if not key:
            raise _error(what, text, token.pos, f"expected a key after '{head}.'",
                         f"write {_GROUPS[lowered]}.<key>")
        group = _GROUPS[lowered]
        if fields is not None and group not in fields:
            raise _error(what, text, token.pos, f"unknown field '{token.source}'",
                         _known(fields))
        return _Field(token.source, _group_getter(group, key), "any")
    if lowered in _ATTRIBUTE_PREFIXES and key:
        name = key
    elif key is None:
        name = head
    else:
        raise _error(what, text, token.pos, f"unknown field '{token.source}'",
                     "prefixes are metrics., params., tags. and attributes.")
    keys = _SYNONYMS.get(name, (name,))
    if fields is not None and name not in fields and not fields.intersection(keys):
        close = difflib.get_close_matches(name, sorted(fields), n=1)
        if close:
            hint = f"did you mean '{close[0]}'?"
        elif fields.intersection(_GROUPS.values()):
            hint = f"for a metric, param or tag write metrics.{name}, params.{name} or tags.{name}"
        else:
            hint = _known(fields)
        raise _error(what, text, token.pos, f"unknown field '{token.source}'", hint)
    kind = ("set" if name in _SET_FIELDS else "datetime" if name in _DATETIME_FIELDS
            else "number" if name in _NUMBER_FIELDS else "any")
    return _Field(token.source, _top_getter(keys), kind)


def _known(fields: frozenset[str]) -> str:
    names = sorted(f"{f}.<key>" if f in _GROUPS.values() else f for f in fields)
    return "known fields: " + ", ".join(names)


def _group_getter(group: str, key: str) -> Callable[[Record], Any]:
    def get(record: Record) -> Any:
        values = record.get(group)
        return None if values is None else values.get(key)

    return get


def _top_getter(keys: tuple[str, ...]) -> Callable[[Record], Any]:
    if len(keys) == 1:
        (key,) = keys
        return lambda record: record.get(key)
    first, second = keys

    def get(record: Record) -> Any:
        value = record.get(first)
        return record.get(second) if value is None else value

    return get

