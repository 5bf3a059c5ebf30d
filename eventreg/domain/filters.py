"""
The search filter language: filter text compiled into a predicate over plain records.

``compile_filter(text)`` tokenizes (:mod:`~eventreg.domain.filter_syntax`) and parses
(:mod:`~eventreg.domain.filter_parser`) the text by hand (no ``eval``, and the text
is never spliced into SQL) and returns a :class:`Filter` whose ``matches(record)`` runs
nested closures built once at compile time. ``compile_order_by(terms)`` returns a sort
key. Records are plain mappings (see docs/search.md for the fields and the language).

Logic is SQL's three-valued logic: a comparison with a missing value (a metric that was
never logged, a ``None`` label) is *unknown*, ``NOT unknown`` is unknown, and a record
matches only when the whole filter is true. NaN is a value, not missing: it is never
equal to, less than or greater than anything.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from eventreg.domain.filter_parser import _Parser
from eventreg.domain.filter_syntax import (
    _EPOCH,
    _MICROSECOND,
    MAX_DEPTH,
    MAX_FILTER_LENGTH,
    RUN_FIELDS,
    VERSION_FIELDS,
    Record,
    _describe,
    _error,
    _number,
    _Predicate,
    _resolve,
    _utc,
)

__all__ = ["MAX_DEPTH", "MAX_FILTER_LENGTH", "RUN_FIELDS", "VERSION_FIELDS", "Filter", "OrderBy", "compile_filter",
           "compile_order_by"]

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
