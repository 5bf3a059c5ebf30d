"""
Printing API results: JSON for ``--json``, rich tables for people.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timezone
from pathlib import PurePath
from typing import Any

import attrs
import click

from eventreg.cli._app import _settings

#: Width of tables written to a pipe or a file when $COLUMNS is not set.
PIPE_WIDTH = 100


# -- output ------------------------------------------------------------------------------


def to_json(value: Any) -> Any:
    """
    A JSON-ready copy of an API result: timestamps as ISO-8601 UTC with ``Z``, NaN and
    infinities as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if attrs.has(type(value)):
        return {f.name.lstrip("_"): to_json(getattr(value, f.name))
                for f in attrs.fields(type(value)) if not f.name.startswith("_")}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {key: to_json(item) for key, item in value._asdict().items()}
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((to_json(item) for item in value), key=repr)
    if isinstance(value, Iterable):
        return [to_json(item) for item in value]
    return str(value)


def _console(err: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if err else sys.stdout
    terminal = bool(getattr(stream, "isatty", lambda: False)())
    if terminal:
        return Console(file=stream, highlight=False)
    # not a terminal (a pipe, a CI log): no colour, $COLUMNS wide, else 100 columns
    width = int(os.environ.get("COLUMNS", "0") or 0) or PIPE_WIDTH
    return Console(file=stream, highlight=False, no_color=True, color_system=None, width=width)


def _emit(data: Any, human: Callable[[Any, Any], None]) -> None:
    """
    Print ``data``: as JSON with ``--json``, else through ``human(console, data)``.
    """
    if _settings(click.get_current_context()).json:
        click.echo(json.dumps(to_json(data), indent=2, ensure_ascii=False, allow_nan=False))
    else:
        human(_console(), data)


def _field(obj: Any, name: str) -> Any:
    """
    ``obj.name`` or ``obj[name]``, following dots (``metrics.accuracy``); None if absent.
    """
    for part in name.split("."):
        if obj is None:
            return None
        if isinstance(obj, Mapping):
            obj = obj.get(part)
        else:
            obj = getattr(obj, part, None)
    return obj


def _cell(value: Any) -> str:
    """
    A short text for one table cell.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    if isinstance(value, Mapping):
        return "\n".join(f"{key}={_inner(_metric_value(item))}" for key, item in value.items())
    if isinstance(value, (list, tuple, set, frozenset)) and not hasattr(value, "_asdict"):
        return ", ".join(_cell(item) for item in value)
    if attrs.has(type(value)) or hasattr(value, "_asdict"):
        return json.dumps(to_json(value), ensure_ascii=False)
    return str(value)


def _inner(value: Any) -> str:
    """
    A value inside a mapping cell: nested structures as compact JSON.
    """
    if isinstance(value, (Mapping, list, tuple)) or attrs.has(type(value)):
        return json.dumps(to_json(value), ensure_ascii=False, separators=(",", ":"))
    return _cell(value)


def _metric_value(value: Any) -> Any:
    """
    A metric's latest value when the API gives a point (``value``, ``step``, ...).
    """
    if attrs.has(type(value)) and hasattr(value, "value"):
        return value.value
    return value


def _table(title: str | None, rows: Iterable[Any], columns: list[tuple[str, Any]]) -> Any:
    """
    A rich table; each column is ``(header, field name or function of the row)``.
    """
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title) if title else None, title_justify="left")
    for header, *_ in columns:
        # an id or a name is copied and pasted: kept whole; the other columns fold
        table.add_column(header, overflow="fold", no_wrap=header in _WHOLE)
    for row in rows:  # Text: a "[" in a name or reason is not rich markup
        table.add_row(*(Text(_cell(get(row) if callable(get) else _field(row, get))) for _, get in columns))
    return table


#: Columns never folded over lines (everything else folds to fit the width).
_WHOLE = frozenset({"id", "name"})


def _record(title: str | None, obj: Any) -> Any:
    """
    A two-column table of every field of one result.
    """
    if isinstance(obj, Mapping):
        rows = list(obj.items())
    elif attrs.has(type(obj)):
        rows = [(f.name, getattr(obj, f.name)) for f in attrs.fields(type(obj))
                if not f.name.startswith("_")]
    else:
        data = to_json(obj)
        rows = list(data.items()) if isinstance(data, Mapping) else [("value", data)]
    return _table(title, rows, [("field", lambda r: r[0]), ("value", lambda r: r[1])])


def _print_record(title: str | None) -> Callable[[Any, Any], None]:
    return lambda console, obj: console.print(_record(title, obj))


def _done(text: str) -> Callable[[Any, Any], None]:
    return lambda console, _: console.print(text, markup=False, soft_wrap=True)
