"""
The search filter language: filter text compiled into a predicate over plain records.

``compile_filter(text)`` tokenizes and parses the text by hand (no ``eval``, and the text
is never spliced into SQL) and returns a :class:`Filter` whose ``matches(record)`` runs
nested closures built once at compile time. ``compile_order_by(terms)`` returns a sort
key. Records are plain mappings (see docs/search.md for the fields and the language).

Logic is SQL's three-valued logic: a comparison with a missing value (a metric that was
never logged, a ``None`` label) is *unknown*, ``NOT unknown`` is unknown, and a record
matches only when the whole filter is true. NaN is a value, not missing: it is never
equal to, less than or greater than anything.
"""

from __future__ import annotations

import difflib
import functools
import operator
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
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


_COLLECTIONS = (set, frozenset, list, tuple)


class _Literal(NamedTuple):
    """
    A literal from the filter text with the readings comparisons may use.
    """

    raw: str | int | float | bool
    text: str | None          # set for string literals
    num: int | float | None   # a number literal, or a string that is exactly one
    flag: bool | None         # true/false, or the strings 'true'/'false'
    when: datetime | None     # a string that is an ISO-8601 date or time

    @classmethod
    def of(cls, raw: str | int | float | bool) -> _Literal:
        if isinstance(raw, bool):
            return cls(raw, None, None, raw, None)
        if isinstance(raw, str):
            lowered = raw.lower()
            flag = True if lowered == "true" else False if lowered == "false" else None
            return cls(raw, raw, _number(raw), flag, _when(raw))
        return cls(raw, None, raw, None, None)


def _equal_test(lit: _Literal) -> Callable[[Any], bool]:
    """
    Build ``value == literal`` with exact coercions only (``"100"`` equals ``100``).
    """
    text, num, flag, when = lit.text, lit.num, lit.flag, lit.when

    def equal(value: Any) -> bool:
        kind = type(value)
        if kind is str:
            if text is not None:
                return value == text
            if num is not None:
                other = _number(value)
                return other is not None and other == num
            if flag is not None:
                return value.lower() == ("true" if flag else "false")
            return False
        if kind is float or kind is int:
            return num is not None and value == num
        if kind is bool:
            return flag is not None and value is flag
        if isinstance(value, datetime):
            return when is not None and _utc(value) == when
        if isinstance(value, _COLLECTIONS):
            return any(equal(item) for item in value)
        return False

    return equal


def _order_test(compare: Callable[[Any, Any], bool], lit: _Literal) -> Callable[[Any], bool]:
    """
    Build ``value <op> literal``: numbers with numbers, text with text, times with times.
    """
    text, num, when = lit.text, lit.num, lit.when

    def order(value: Any) -> bool:
        kind = type(value)
        if kind is float or kind is int:
            return num is not None and compare(value, num)
        if kind is str:
            if text is not None:
                return compare(value, text)
            if num is not None:
                other = _number(value)
                return other is not None and compare(other, num)
            return False
        if isinstance(value, datetime):
            return when is not None and compare(_utc(value), when)
        return False

    return order


def _like_test(pattern: str, ignore_case: bool) -> Callable[[Any], bool]:
    """
    Build SQL LIKE (``%`` any run, ``_`` one character, ``\\`` escapes) without backtracking.

    The pattern is split at ``%`` into fixed-length segments; the first must match at the
    start, the last at the end and the others leftmost in between, which is exact for
    ``%`` wildcards and linear in the value's length per segment.
    """
    segments: list[list[str]] = [[]]  # each: one regex per character it matches
    chars = iter(pattern)
    for char in chars:
        if char == "%":
            segments.append([])
        elif char == "_":
            segments[-1].append(".")
        else:
            segments[-1].append(re.escape(next(chars, "\\") if char == "\\" else char))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    first, last = (re.compile("".join(segments[i]), flags) for i in (0, -1))
    last_length = len(segments[-1]) if len(segments) > 1 else 0
    middle = [re.compile("".join(s), flags) for s in segments[1:-1] if s]

    def like(value: Any) -> bool:
        found = _text(value)
        if found is None:
            return isinstance(value, _COLLECTIONS) and any(like(item) for item in value)
        if len(segments) == 1:
            return first.fullmatch(found) is not None
        start = first.match(found)
        end = len(found) - last_length
        if start is None or end < start.end() or last.fullmatch(found, end) is None:
            return False
        position = start.end()
        for segment in middle:
            hit = segment.search(found, position, end)
            if hit is None:
                return False
            position = hit.end()
        return True

    return like


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


# -- logic ---------------------------------------------------------------------------


def _all(parts: list[_Predicate]) -> _Predicate:
    """
    AND in three-valued logic: false wins, then unknown.
    """
    if len(parts) == 1:
        return parts[0]

    def every(record: Record) -> bool | None:
        unknown = False
        for part in parts:
            result = part(record)
            if result is False:
                return False
            if result is None:
                unknown = True
        return None if unknown else True

    return every


def _any(parts: list[_Predicate]) -> _Predicate:
    """
    OR in three-valued logic: true wins, then unknown.
    """
    if len(parts) == 1:
        return parts[0]

    def some(record: Record) -> bool | None:
        unknown = False
        for part in parts:
            result = part(record)
            if result is True:
                return True
            if result is None:
                unknown = True
        return None if unknown else False

    return some


def _negate(part: _Predicate) -> _Predicate:
    def negated(record: Record) -> bool | None:
        result = part(record)
        return None if result is None else not result

    return negated


def _clause(field: _Field, test: Callable[[Any], bool], negate: bool) -> _Predicate:
    """
    Apply ``test`` to the field's value: unknown when missing; sets match if any item does.
    """
    get = field.get
    if field.kind == "set":

        def on_set(record: Record) -> bool | None:
            value = get(record)
            if value is None:
                return None
            if isinstance(value, str):
                value = (value,)
            hit = any(test(item) for item in value)
            return not hit if negate else hit

        return on_set
    if negate:

        def not_test(record: Record) -> bool | None:
            value = get(record)
            return None if value is None else not test(value)

        return not_test

    def on_value(record: Record) -> bool | None:
        value = get(record)
        return None if value is None else test(value)

    return on_value


def _is_null(field: _Field, negate: bool) -> _Predicate:
    get = field.get
    if field.kind == "set":
        return lambda record: bool(get(record)) is negate
    return lambda record: (get(record) is None) is not negate


# -- the parser ----------------------------------------------------------------------


class _Parser:
    """
    Recursive descent over the tokens, building closures as it goes.

    Grammar (keywords case-insensitive)::

        filter     := or_expr END
        or_expr    := and_expr (OR and_expr)*
        and_expr   := not_expr (AND not_expr)*
        not_expr   := NOT not_expr | '(' or_expr ')' | comparison
        comparison := field (op value | [NOT] (LIKE|ILIKE) string
                             | [NOT] IN '(' value (',' value)* ')' | IS [NOT] NULL)
    """

    def __init__(self, text: str, what: str, fields: frozenset[str] | None) -> None:
        self.text = text
        self.what = what
        self.fields = fields
        self.tokens = _tokenize(text, what)
        self.index = 0
        self.depth = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def is_kw(self, *words: str) -> bool:
        return self.token.kind == "kw" and self.token.value in words

    def fail(self, message: str, token: _Token | None = None, hint: str = "") -> FilterSyntaxError:
        return _error(self.what, self.text, (token or self.token).pos, message, hint)

    def parse_filter(self) -> _Predicate:
        predicate = self.or_expr()
        token = self.token
        if token.kind == ")":
            raise self.fail("unmatched ')'")
        if token.kind != "end":
            raise self.fail(f"expected AND, OR or the end of the filter, found {_describe(token)}")
        return predicate

    def or_expr(self) -> _Predicate:
        parts = [self.and_expr()]
        while self.is_kw("or"):
            self.take()
            parts.append(self.and_expr())
        return _any(parts)

    def and_expr(self) -> _Predicate:
        parts = [self.not_expr()]
        while self.is_kw("and"):
            self.take()
            parts.append(self.not_expr())
        return _all(parts)

    def deeper(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nesting deeper than {MAX_DEPTH} levels", token)

    def not_expr(self) -> _Predicate:
        token = self.token
        if self.is_kw("not"):
            self.take()
            self.deeper(token)
            inner = self.not_expr()
            self.depth -= 1
            return _negate(inner)
        if token.kind == "(":
            self.take()
            self.deeper(token)
            inner = self.or_expr()
            if self.token.kind != ")":
                raise self.fail(
                    f"expected ')' to close the '(' at column {token.pos + 1}, "
                    f"found {_describe(self.token)}"
                )
            self.take()
            self.depth -= 1
            return inner
        return self.comparison()

    def comparison(self) -> _Predicate:
        token = self.token
        if token.kind != "ident":
            previous = self.tokens[self.index - 1] if self.index else None
            after = f" after {_describe(previous)}" if previous else ""
            raise self.fail(f"expected a field name, '(' or NOT{after}, found {_describe(token)}")
        self.take()
        field = _resolve(token, self.what, self.text, self.fields)
        operator_token = self.token
        if operator_token.kind == "op":
            self.take()
            return self.compare(field, operator_token)
        negate = False
        if self.is_kw("not"):
            self.take()
            negate = True
            if not self.is_kw("like", "ilike", "in"):
                raise self.fail("expected LIKE, ILIKE or IN after NOT, "
                                f"found {_describe(self.token)}")
        if self.is_kw("like", "ilike"):
            word = self.take().value
            pattern = self.token
            if pattern.kind != "string":
                raise self.fail(f"expected a quoted pattern after {word.upper()}, "
                                f"found {_describe(pattern)}")
            self.take()
            return _clause(field, _like_test(pattern.value, word == "ilike"), negate)
        if self.is_kw("in"):
            return self.membership(field, negate)
        if self.is_kw("is"):
            self.take()
            negate = self.is_kw("not")
            if negate:
                self.take()
            if not self.is_kw("null"):
                raise self.fail(f"expected NULL after IS{' NOT' if negate else ''}, "
                                f"found {_describe(self.token)}")
            self.take()
            return _is_null(field, negate)
        raise self.fail(f"expected an operator after '{field.label}', "
                        f"found {_describe(operator_token)}",
                        hint="use =, !=, <, <=, >, >=, LIKE, ILIKE, IN or IS NULL")

    def value(self, field: _Field, after: str) -> _Literal:
        token = self.token
        if token.kind in ("string", "number") or self.is_kw("true", "false"):
            self.take()
            raw = token.value if token.kind != "kw" else token.value == "true"
            literal = _Literal.of(raw)
            self.check_kind(field, literal, token)
            return literal
        if token.kind == "kw" and token.value == "null":
            raise self.fail("null cannot be compared", hint="write IS NULL or IS NOT NULL")
        if token.kind == "ident":
            raise self.fail(f"expected a value after {after}, found field name {_describe(token)}",
                            hint="comparing two fields is not supported")
        raise self.fail(f"expected a value after {after}")

    def check_kind(self, field: _Field, literal: _Literal, token: _Token) -> None:
        if field.kind == "datetime" and literal.when is None:
            raise self.fail(f"expected an ISO-8601 date or time for {field.label}", token,
                            "for example '2026-03-01' or '2026-03-01T14:00:00Z'")
        if field.kind == "number" and literal.num is None:
            hint = "did you mean label = ...?" if field.label.lower() == "version" else ""
            raise self.fail(f"expected a number for {field.label}", token, hint)

    def compare(self, field: _Field, token: _Token) -> _Predicate:
        op = token.value
        literal = self.value(field, f"'{op}'")
        if op in _ORDERINGS:
            if field.kind == "set":
                raise self.fail(f"{field.label} cannot be ordered with '{op}'", token,
                                "use =, !=, IN, LIKE or IS NULL")
            if type(literal.raw) is bool:
                raise self.fail(f"true/false cannot be ordered with '{op}'", token)
            return _clause(field, _order_test(_COMPARISONS[op], literal), negate=False)
        return _clause(field, _equal_test(literal), negate=op != "=")

    def membership(self, field: _Field, negate: bool) -> _Predicate:
        self.take()
        if self.token.kind != "(":
            raise self.fail(f"expected '(' after IN, found {_describe(self.token)}")
        self.take()
        if self.token.kind == ")":
            raise self.fail("the IN list is empty", hint="give at least one value")
        tests = [_equal_test(self.value(field, "'('"))]
        while self.token.kind == ",":
            self.take()
            tests.append(_equal_test(self.value(field, "','")))
        if self.token.kind != ")":
            raise self.fail(f"expected ',' or ')' in the IN list, found {_describe(self.token)}")
        self.take()

        def member(value: Any) -> bool:
            if isinstance(value, _COLLECTIONS):
                return any(member(item) for item in value)
            return any(test(value) for test in tests)

        return _clause(field, member, negate)


# -- public --------------------------------------------------------------------------


class Filter:
    """
    A compiled filter: ``matches(record)`` is true when the whole filter is true.
    """

    __slots__ = ("_predicate", "text")

    def __init__(self, text: str, predicate: _Predicate) -> None:
        self.text = text
        self._predicate = predicate

    def matches(self, record: Record) -> bool:
        """
        Tell whether ``record`` satisfies the filter (unknown counts as no).

        Args:
            record: a mapping of field names to values (see docs/search.md).

        Returns:
            True when the filter is true for the record.
        """
        return self._predicate(record) is True

    def __repr__(self) -> str:
        return f"Filter({self.text!r})"


def _check_text(text: str, what: str) -> None:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a string, got {type(text).__name__}")
    if len(text) > MAX_FILTER_LENGTH:
        raise _error(what, text, MAX_FILTER_LENGTH,
                     f"longer than {MAX_FILTER_LENGTH} characters ({len(text)})")


def _fields(fields: Collection[str] | None) -> frozenset[str] | None:
    return None if fields is None else frozenset(fields)


def compile_filter(text: str | None, *, fields: Collection[str] | None = None) -> Filter:
    """
    Compile filter text into a :class:`Filter`; empty text matches every record.

    Args:
        text: e.g. ``"model = 'iris' and metrics.accuracy >= 0.9"``; None or blank
            matches everything.
        fields: the top-level field names records have (e.g. :data:`VERSION_FIELDS`),
            with ``"metrics"``, ``"params"``, ``"tags"`` enabling those groups. A field
            not among them is an error. None accepts any name.

    Returns:
        The compiled filter (compiled filters are cached by text and fields).

    Raises:
        FilterSyntaxError: the text does not parse or names an unknown field; the
            message gives the column and shows it with a caret.
        TypeError: ``text`` is not a string.
    """
    return _compile_filter(text, _fields(fields))


@functools.lru_cache(maxsize=256)
def _compile_filter(text: str | None, fields: frozenset[str] | None) -> Filter:
    if text is None:
        return Filter("", lambda record: True)
    _check_text(text, "filter")
    if not text.strip():
        return Filter(text, lambda record: True)
    return Filter(text, _Parser(text, "filter", fields).parse_filter())


_INVERT = bytes(range(255, -1, -1))
_AFTER_ALL = b"\xff" * 5


def _descending_text(text: str) -> bytes:
    """
    Bytes that sort in the opposite order of ``text`` (code points inverted, then a
    terminator above every inverted code point so that a prefix sorts after).
    """
    return text.encode("utf-32-be", "surrogatepass").translate(_INVERT) + _AFTER_ALL


_MISSING_KEY = (2, 0, 0)
_NAN_KEY = (1, 0, 0)


def _sort_key(value: Any, descending: bool) -> tuple[int, int, Any]:
    """
    One term of a sort key: present values first (numbers, then text, then the rest),
    then NaN, then missing, in either direction.
    """
    if value is None:
        return _MISSING_KEY
    kind = type(value)
    if kind is float:
        if value != value:
            return _NAN_KEY
        return (0, 0, -value if descending else value)
    if kind is int:
        return (0, 0, -value if descending else value)
    if kind is str:
        number = _number(value)
        if number is not None:
            return (0, 0, -number if descending else number)
        return (0, 1, _descending_text(value) if descending else value)
    if kind is bool:
        return (0, 2, value is not descending)
    if isinstance(value, datetime):
        micros = (_utc(value) - _EPOCH) // _MICROSECOND
        return (0, 3, -micros if descending else micros)
    text = repr(value)
    return (0, 4, _descending_text(text) if descending else text)


class OrderBy:
    """
    A compiled order_by: call it on a record for a sort key, or ``sort(records)``.
    """

    __slots__ = ("_terms", "terms")

    def __init__(self, terms: list[tuple[str, bool, Callable[[Record], Any]]]) -> None:
        #: (field as written, descending) for each term
        self.terms = tuple((label, descending) for label, descending, _ in terms)
        self._terms = tuple((get, descending) for _, descending, get in terms)

    def __call__(self, record: Record) -> tuple[tuple[int, int, Any], ...]:
        """
        The sort key of ``record``, for ``sorted(records, key=order)``.
        """
        return tuple(_sort_key(get(record), descending) for get, descending in self._terms)

    def sort(self, records: Iterable[Record]) -> list[Record]:
        """
        Return the records sorted by the terms (stable: ties keep their input order).
        """
        return sorted(records, key=self)

    def __repr__(self) -> str:
        terms = ", ".join(f"{label} {'DESC' if desc else 'ASC'}" for label, desc in self.terms)
        return f"OrderBy({terms})"


def compile_order_by(order_by: str | Sequence[str] | None, *,
                     fields: Collection[str] | None = None) -> OrderBy:
    """
    Compile ``["metrics.accuracy DESC", "version"]`` into a sort key.

    Args:
        order_by: terms ``field [ASC|DESC]``, as a list or one comma-separated string;
            None or empty keeps the input order.
        fields: as for :func:`compile_filter`.

    Returns:
        An :class:`OrderBy`, usable as ``sorted(records, key=order)`` or
        ``order.sort(records)``. Missing values sort last and NaN just before them, in
        both directions; strings that are exactly numbers sort as numbers.

    Raises:
        FilterSyntaxError: a term does not parse or names an unknown field.
        TypeError: ``order_by`` is not a string or a sequence of strings.
    """
    if order_by is None:
        return OrderBy([])
    items = [order_by] if isinstance(order_by, str) else list(order_by)
    allowed = _fields(fields)
    terms: list[tuple[str, bool, Callable[[Record], Any]]] = []
    for item in items:
        _check_text(item, "order_by")
        if not item.strip():
            raise _error("order_by", item, 0, "empty term", "give a field name")
        parser = _Parser(item, "order_by", allowed)
        while parser.token.kind != "end":
            token = parser.token
            if token.kind != "ident":
                raise parser.fail(f"expected a field name, found {_describe(token)}")
            parser.take()
            field = _resolve(token, "order_by", item, allowed)
            if field.kind == "set":
                raise parser.fail(f"cannot order by {field.label}", token)
            descending = False
            word = parser.token
            if word.kind == "ident" and word.source.lower() in ("asc", "desc"):
                descending = word.value[0].lower() == "desc"
                parser.take()
            terms.append((field.label, descending, field.get))
            if parser.token.kind == ",":
                parser.take()
                if parser.token.kind == "end":
                    raise parser.fail("expected a field name after ','")
            elif parser.token.kind != "end":
                raise parser.fail(f"expected ASC, DESC or ',' after '{field.label}', "
                                  f"found {_describe(parser.token)}")
    return OrderBy(terms)


__all__ = [
    "Filter",
    "MAX_DEPTH",
    "MAX_FILTER_LENGTH",
    "OrderBy",
    "RUN_FIELDS",
    "VERSION_FIELDS",
    "compile_filter",
    "compile_order_by",
]
