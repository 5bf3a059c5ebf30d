"""
The parser of the search filter language: tokens to nested predicate closures.

:mod:`eventreg.domain.filters` is the public side (``compile_filter``, ``compile_order_by``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from eventreg.domain.filter_syntax import (
    _COMPARISONS,
    _describe,
    _error,
    _Field,
    MAX_DEPTH,
    _number,
    _ORDERINGS,
    _Predicate,
    Record,
    _resolve,
    _text,
    _Token,
    _tokenize,
    _utc,
    _when,
)
from eventreg.errors import FilterSyntaxError

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


# -- logic ---------------------------------------------------------------------------


def _combine(parts: list[_Predicate], decisive: bool) -> _Predicate:
    """
    AND (``decisive=False``) or OR (``decisive=True``) in three-valued logic: the
    decisive value wins, then unknown, else the other value.
    """
    if len(parts) == 1:
        return parts[0]

    def combined(record: Record) -> bool | None:
        unknown = False
        for part in parts:
            result = part(record)
            if result is decisive:
                return decisive
            if result is None:
                unknown = True
        return None if unknown else not decisive

    return combined


def _all(parts: list[_Predicate]) -> _Predicate:
    """
    AND in three-valued logic: false wins, then unknown.
    """
    return _combine(parts, False)


def _any(parts: list[_Predicate]) -> _Predicate:
    """
    OR in three-valued logic: true wins, then unknown.
    """
    return _combine(parts, True)


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

