"""
The one converter between event objects and the log's ``(type, payload)`` pairs.

Serialisation stays out of the event classes: :data:`converter` (cattrs, JSON flavour)
unstructures an event into a JSON object and structures it back. Payloads written by an
older ``schema_version`` are upcast step by step by the functions in :data:`UPCASTERS`
before structuring; a type this eventreg does not know (written by a newer one) raises
:class:`~eventreg.errors.UnknownEventType` naming it, never a silent skip.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from cattrs.preconf.json import make_converter

from eventreg.domain.events import EVENT_TYPES, MetricPoint
from eventreg.errors import LogCorrupted, UnknownEventType
from eventreg.log import NewEvent, RecordedEvent, format_timestamp, parse_timestamp

#: The cattrs converter for events (and for projection snapshots).
converter = make_converter(detailed_validation=False)
converter.register_unstructure_hook(datetime, format_timestamp)
converter.register_structure_hook(datetime, lambda text, _: parse_timestamp(text))



def _structure_points(items: list[dict[str, Any]], _: Any) -> tuple[MetricPoint, ...]:
    # metric points are the most numerous thing in a log: build them directly
    return tuple(
        MetricPoint(key=item["key"], value=float(item["value"]), step=item["step"],
                    timestamp=parse_timestamp(item["timestamp"]))
        for item in items
    )


converter.register_structure_hook_func(lambda kind: kind == tuple[MetricPoint, ...], _structure_points)


def _unstructure_points(points: tuple[MetricPoint, ...]) -> list[dict[str, Any]]:
    # the same JSON as cattrs' own hook; points logged together share a timestamp object,
    # whose text is made once
    out = []
    stamp = text = None
    for point in points:
        if point.timestamp is not stamp:
            stamp = point.timestamp
            text = format_timestamp(stamp)
        out.append({"key": point.key, "value": point.value, "step": point.step, "timestamp": text})
    return out


converter.register_unstructure_hook_func(lambda kind: kind == tuple[MetricPoint, ...], _unstructure_points)

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
        return converter.structure(payload, cls)
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
