"""
The one converter between event objects and the log's ``(type, payload)`` pairs.

Serialisation stays out of the event classes: :data:`converter` (cattrs, JSON flavour)
unstructures an event into a JSON object and structures it back. Payloads written by an
older ``schema_version`` are upcast step by step by the functions in :data:`UPCASTERS`
before structuring; a type this eventreg does not know (written by a newer one) raises
:class:`~eventreg.errors.UnknownEventType` naming it, never a silent skip.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs
from cattrs.preconf.json import make_converter

from eventreg.domain.events import (
    EVENT_CLASSES,
    EVENT_TYPES,
    ArtifactEntry,
    MetricPoint,
    RunMetricsLogged,
    VersionMetricsLogged,
)
from eventreg.errors import LogCorrupted, UnknownEventType
from eventreg.log import NewEvent, RecordedEvent, format_timestamp, parse_timestamp

#: The cattrs converter for events (and for projection snapshots).
converter = make_converter(detailed_validation=False)
converter.register_unstructure_hook(datetime, format_timestamp)
converter.register_structure_hook(datetime, lambda text, _: parse_timestamp(text))



def _structure_points(items: list[dict[str, Any]], _: Any) -> tuple[MetricPoint, ...]:
    # metric points are the most numerous thing in a log: build them directly; points
    # logged together share one timestamp, read once
    points = []
    text = moment = None
    for item in items:
        stamp = item["timestamp"]
        if stamp != text:
            text, moment = stamp, parse_timestamp(stamp)
        points.append(MetricPoint(key=item["key"], value=float(item["value"]), step=item["step"],
                                  timestamp=moment))
    return tuple(points)


converter.register_structure_hook_func(lambda kind: kind == tuple[MetricPoint, ...], _structure_points)


def _stamp_texts(points: tuple[MetricPoint, ...]) -> list[str]:
    # the stored timestamp of each point; points logged together share a timestamp object,
    # whose text is made once
    texts = []
    stamp = text = None
    for point in points:
        if point.timestamp is not stamp:
            stamp = point.timestamp
            text = format_timestamp(stamp)
        texts.append(text)
    return texts


def _unstructure_points(points: tuple[MetricPoint, ...]) -> list[dict[str, Any]]:
    # the same JSON as cattrs' own hook
    return [{"key": point.key, "value": point.value, "step": point.step, "timestamp": text}
            for point, text in zip(points, _stamp_texts(points))]


converter.register_unstructure_hook_func(lambda kind: kind == tuple[MetricPoint, ...], _unstructure_points)


# -- metric events store their points as columns (schema version 2) -------------------------
#
# ``run.metrics_logged`` and ``version.metrics_logged`` hold most of a log's bytes. From
# schema version 2 their ``points`` are one object of columns, in the order logged:
# ``{"key": ..., "value": [...], "step": [...], "timestamp": ...}``, where ``key`` and
# ``timestamp`` are one text when every point shares it (as points logged together do)
# and a list of one per point otherwise. A point then costs about 25 stored bytes instead
# of about 95, and a reader decodes lists of numbers instead of an object per point.
# Schema version 1 payloads (a list of point objects) are upcast.

COLUMNS = ("key", "value", "step", "timestamp")


def point_columns(points: tuple[MetricPoint, ...]) -> dict[str, Any]:
    """
    The stored columns of metric points (schema version 2 of the metric events).
    """
    keys = [point.key for point in points]
    texts = _stamp_texts(points)
    return {"key": keys[0] if keys and keys.count(keys[0]) == len(keys) else keys,
            "value": [point.value for point in points], "step": [point.step for point in points],
            "timestamp": texts[0] if texts and texts.count(texts[0]) == len(texts) else texts}


def columns_of_points(items: Any) -> Any:
    """
    Schema version 1's list of point objects as columns (the upcast of the metric
    events); anything else unchanged (structuring then refuses it).
    """
    if type(items) is not list or not all(type(item) is dict and len(item) == 4 for item in items):
        return items
    try:
        columns = {name: [item[name] for item in items] for name in COLUMNS}
    except KeyError:
        return items
    for name in ("key", "timestamp"):
        column = columns[name]
        if column and column.count(column[0]) == len(column):
            columns[name] = column[0]
    return columns


def column_lists(columns: Any) -> tuple[list[Any], list[Any], list[Any], list[Any]] | None:
    """
    ``(keys, values, steps, timestamps)`` of stored columns of metric points, as lists of
    one length (a key or timestamp written once repeated for each point), or None if
    ``columns`` is not four such columns.
    """
    if type(columns) is not dict or len(columns) != 4:
        return None
    try:
        keys, values, steps, stamps = (columns[name] for name in COLUMNS)
    except KeyError:
        return None
    if type(values) is not list:
        return None
    count = len(values)
    keys = [keys] * count if type(keys) is str else keys
    stamps = [stamps] * count if type(stamps) is str else stamps
    if any(type(column) is not list or len(column) != count for column in (keys, steps, stamps)):
        return None
    return keys, values, steps, stamps


def _points_of_columns(columns: Any) -> tuple[MetricPoint, ...]:
    """
    The metric points of stored columns (values converted as cattrs converts them).

    Raises:
        ValueError, TypeError: not columns of points, a value not a number, a timestamp not a time.
    """
    lists = column_lists(columns)
    if lists is None:
        raise ValueError(f"metric points must be an object of the columns {', '.join(COLUMNS)}, lists of one "
                         "length (a key or timestamp may be one text)")
    points = []
    text = moment = None
    for key, value, step, stamp in zip(*lists):  # values converted as cattrs converts them
        if type(key) is not str or (step is not None and type(step) is not int):
            raise TypeError(f"a metric point's key must be a text and its step an integer, not {key!r}, {step!r}")
        if stamp != text:
            text, moment = stamp, parse_timestamp(stamp)
        points.append(MetricPoint(key=key, value=float(value), step=step, timestamp=moment))
    return tuple(points)


def _metric_event_hooks(cls: type, owners: tuple[str, ...]) -> None:
    """
    Store ``cls`` (a metric event) with its points as columns; read it back.
    """

    def unstructure(event: Any) -> dict[str, Any]:
        out = {name: getattr(event, name) for name in owners}
        out["points"] = point_columns(event.points)
        return out

    def structure(payload: Any, _: Any) -> Any:
        if type(payload) is not dict or sorted(payload) != sorted((*owners, "points")):
            raise ValueError(f"a {cls.type} payload has the keys {', '.join((*owners, 'points'))}")
        values = {name: converter.structure(payload[name], str if name in ("model", "run_id") else int)
                  for name in owners}
        return cls(**values, points=_points_of_columns(payload["points"]))

    converter.register_unstructure_hook(cls, unstructure)
    converter.register_structure_hook(cls, structure)


_metric_event_hooks(RunMetricsLogged, ("run_id",))
_metric_event_hooks(VersionMetricsLogged, ("model", "version"))

#: cattrs' own hook for ``dict[str, Any]`` fields (params, environment, data, code ...)
_unstructure_object = converter.get_unstructure_hook(dict[str, Any])
_JSON_SCALARS = frozenset((str, int, float, bool, type(None)))


def _plain_copy(value: dict[str, Any]) -> dict[str, Any] | None:
    """
    A copy of a dict of str keys and exact JSON scalars (nested dicts of those too), or
    None if anything else is in it.
    """
    scalars = _JSON_SCALARS
    out = {}
    for key, item in value.items():
        kind = type(item)
        if type(key) is not str:
            return None
        if kind in scalars:
            out[key] = item
        elif kind is dict:
            inner = _plain_copy(item)
            if inner is None:
                return None
            out[key] = inner
        else:
            return None
    return out


def _unstructure_plain_object(value: dict[str, Any]) -> dict[str, Any]:
    # the same JSON as cattrs' own hook, which copies the mapping and dispatches on the
    # type of every value: a plain object (str keys, exact JSON scalars, nested dicts of
    # those, as an environment's packages) is copied directly; anything else (a list, a
    # tuple, a numpy number, another key type, anywhere in it) goes to cattrs as before
    if type(value) is dict:
        copied = _plain_copy(value)
        if copied is not None:
            return copied
    return _unstructure_object(value)


converter.register_unstructure_hook_func(lambda kind: kind == dict[str, Any], _unstructure_plain_object)

# -- structuring plain payloads without cattrs ----------------------------------------------
#
# Nearly every stored payload has exactly the JSON types its event class declares (the
# codec wrote it). For those, the event is built straight from the payload: each field's
# value checked for its exact JSON type and copied as cattrs copies it (a new dict, a
# tuple for a list), at a third of the cost of cattrs' generic structuring, which decoding
# a long log spends most of its time in. Anything else (another type cattrs would convert,
# a missing or an extra key, a value the class refuses) returns NOT_PLAIN, and cattrs
# structures it exactly as before, errors included.

NOT_PLAIN = object()


def _reader(kind: Any) -> Callable[[Any], Any] | None:
    """
    The value of a container field of type ``kind`` from a plain JSON value, or
    ``NOT_PLAIN``; None when fields of this type are always left to cattrs.
    """
    if kind == dict[str, Any]:
        return lambda value: dict(value) if type(value) is dict else NOT_PLAIN
    if kind == dict[str, str]:
        return lambda value: (dict(value) if type(value) is dict and all(type(v) is str for v in value.values())
                              else NOT_PLAIN)
    if kind == tuple[int, ...]:
        return lambda value: tuple(value) if type(value) is list and all(type(v) is int for v in value) else NOT_PLAIN
    if kind == tuple[MetricPoint, ...]:
        return lambda value: _structure_points(value, None) if type(value) is list else NOT_PLAIN
    if kind == tuple[str, ...]:
        return lambda value: tuple(value) if type(value) is list and all(type(v) is str for v in value) else NOT_PLAIN
    if kind == tuple[dict[str, Any], ...]:
        return lambda value: (tuple(dict(v) for v in value) if type(value) is list and all(type(v) is dict for v in value)
                              else NOT_PLAIN)
    if kind == dict[str, ArtifactEntry]:
        return read_artifacts
    if kind == datetime:
        return lambda value: parse_timestamp(value) if type(value) is str else NOT_PLAIN
    return None


def read_artifacts(value: Any) -> Any:
    """
    A plain ``artifacts`` object as ``{path: ArtifactEntry}``, or ``NOT_PLAIN``.
    """
    if type(value) is not dict:
        return NOT_PLAIN
    out = {}
    for path, entry in value.items():
        if type(entry) is not dict or len(entry) != 2:
            return NOT_PLAIN
        sha256, size = entry.get("sha256"), entry.get("size")
        if type(sha256) is not str or type(size) is not int:
            return NOT_PLAIN
        out[path] = ArtifactEntry(sha256=sha256, size=size)
    return out


def _plain_structurer(cls: type) -> Callable[[dict[str, Any]], Any] | None:
    """
    ``payload -> event or NOT_PLAIN`` for ``cls``, or None if one of its fields is of a type
    only cattrs handles.

    The function is generated for the class (as attrs and cattrs generate theirs): one
    lookup and one exact type check per field, no loop, the constructor called with
    keywords. A field with a default that the payload lacks gets that default. It never
    raises: a payload it cannot build returns ``NOT_PLAIN``.
    """
    hints = typing.get_type_hints(cls)
    scope: dict[str, Any] = {"cls": cls, "NOT_PLAIN": NOT_PLAIN, "MISSING": attrs.NOTHING}
    lines = ["def structure(payload):", "  try:", "    get = payload.get", "    found = 0"]
    names = []
    for index, field in enumerate(attrs.fields(cls)):
        if field.alias != field.name:
            return None
        kind = hints[field.name]
        args = typing.get_args(kind)
        optional = (typing.get_origin(kind) in (typing.Union, types.UnionType) and len(args) == 2
                    and type(None) in args)
        inner = (args[0] if args[1] is type(None) else args[1]) if optional else kind
        var = f"v{index}"
        if inner in (str, int, bool):
            scope[f"t{index}"] = inner
            check = [f"if {var} is not None and type({var}) is not t{index}: return NOT_PLAIN" if optional
                     else f"if type({var}) is not t{index}: return NOT_PLAIN"]
        else:
            reader = _reader(inner)
            if reader is None:
                return None
            scope[f"r{index}"] = reader
            read = [f"{var} = r{index}({var})", f"if {var} is NOT_PLAIN: return NOT_PLAIN"]
            check = [f"if {var} is not None:", *(f"    {line}" for line in read)] if optional else read
        lines.append(f"    {var} = get({field.name!r}, MISSING)")
        if field.default is attrs.NOTHING:
            lines.append(f"    if {var} is MISSING: return NOT_PLAIN")
            lines += [f"    {line}" for line in check] + ["    found += 1"]
        else:
            default = field.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                if default.takes_self:
                    return None
                scope[f"d{index}"] = default.factory
                default_code = f"d{index}()"
            else:
                scope[f"d{index}"] = default
                default_code = f"d{index}"
            lines += [f"    if {var} is MISSING:", f"        {var} = {default_code}", "    else:"]
            lines += [f"        {line}" for line in check] + ["        found += 1"]
        names.append(f"{field.name}={var}")
    lines.append("    if found != len(payload): return NOT_PLAIN")  # a key the class does not have
    lines.append(f"    return cls({', '.join(names)})")
    # anything the class refuses: cattrs structures it again and says what is wrong
    lines += ["  except Exception:", "    return NOT_PLAIN"]
    exec(compile("\n".join(lines), f"<eventreg plain structurer for {cls.__name__}>", "exec"), scope)
    return scope["structure"]


#: ``payload -> event or NOT_PLAIN`` per event class, for payloads of its current schema
#: version (see above)
PLAIN: dict[type, Callable[[dict[str, Any]], Any]] = {
    cls: structurer for cls in EVENT_CLASSES if (structurer := _plain_structurer(cls)) is not None
}


def _plain_metric_event(cls: type) -> Callable[[dict[str, Any]], Any]:
    """
    ``payload -> event or NOT_PLAIN`` for a metric event (its hook reads the columns directly).
    """
    hook = converter.get_structure_hook(cls)

    def structure(payload: dict[str, Any]) -> Any:
        try:
            return hook(payload, cls)
        except Exception:
            return NOT_PLAIN

    return structure


PLAIN[RunMetricsLogged] = _plain_metric_event(RunMetricsLogged)
PLAIN[VersionMetricsLogged] = _plain_metric_event(VersionMetricsLogged)


def structure_event(payload: dict[str, Any], cls: type) -> Any:
    """
    The event of class ``cls`` in ``payload`` (current schema version): built directly
    when the payload is plain, else by cattrs, with the same result.
    """
    plain = PLAIN.get(cls)
    if plain is not None:
        event = plain(payload)
        if event is not NOT_PLAIN:
            return event
    return converter.structure(payload, cls)


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

#: ``(type, schema_version) -> function`` turning a payload of that version into the next.
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def register_upcaster(type_: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """
    Declare how a payload of ``type_`` at ``from_version`` becomes ``from_version + 1``.

    Use as a decorator beside the event class whose schema changed::

        @register_upcaster("version.registered", 1)
        def _(payload):
            return {**payload, "new_field": None}
    """

    def decorate(function: Upcaster) -> Upcaster:
        UPCASTERS[(type_, from_version)] = function
        return function

    return decorate


def _upcast_metric_points(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "points": columns_of_points(payload.get("points"))} if "points" in payload else payload


UPCASTERS[(RunMetricsLogged.type, 1)] = _upcast_metric_points
UPCASTERS[(VersionMetricsLogged.type, 1)] = _upcast_metric_points


def encode(event: Any) -> tuple[str, dict[str, Any]]:
    """
    The wire type and JSON payload of an event object.
    """
    return event.type, converter.unstructure(event)


def to_new_event(event: Any, *, actor: str | None = None,
                 metadata: dict[str, Any] | None = None) -> NewEvent:
    """
    An event object as a :class:`~eventreg.log.NewEvent` ready to append.
    """
    return NewEvent(event.type, converter.unstructure(event), schema_version=event.schema_version,
                    actor=actor, metadata=metadata)


def decode(type_: str, payload: dict[str, Any], schema_version: int = 1) -> Any:
    """
    The event object for a stored type, payload and schema version (upcast if older).

    Raises:
        UnknownEventType: the type, or its schema version, is newer than this eventreg.
        LogCorrupted: the payload does not have the shape its type promises.
    """
    cls = EVENT_TYPES.get(type_)
    if cls is None:
        raise UnknownEventType(
            f"unknown event type {type_!r} (written by a newer eventreg? upgrade to read this log)"
        )
    if schema_version > cls.schema_version:
        raise UnknownEventType(
            f"event type {type_!r} schema version {schema_version} is newer than this "
            f"eventreg understands ({cls.schema_version}); upgrade to read this log"
        )
    while schema_version < cls.schema_version:
        upcast = UPCASTERS.get((type_, schema_version))
        if upcast is None:
            raise UnknownEventType(
                f"no upcaster for event type {type_!r} from schema version {schema_version}"
            )
        payload = upcast(payload)
        schema_version += 1
    try:
        return structure_event(payload, cls)
    except Exception as e:
        raise LogCorrupted(f"payload of a {type_!r} event does not match its type: {e}") from e


def decode_recorded(recorded: RecordedEvent) -> Any:
    """
    The event object stored in a :class:`~eventreg.log.RecordedEvent`.

    Raises:
        UnknownEventType: see :func:`decode` (the message gives the position).
        LogCorrupted: see :func:`decode`.
    """
    try:
        return decode(recorded.type, recorded.payload, recorded.schema_version)
    except UnknownEventType as e:
        raise UnknownEventType(f"at position {recorded.position}: {e}") from None
    except LogCorrupted as e:
        raise LogCorrupted(f"at position {recorded.position}: {e}") from None
