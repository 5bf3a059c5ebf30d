"""
Turning new events into records: validation and encoding (:func:`prepare_events`),
positions and the hash chain (:func:`seal`, :func:`seal_rows`), and the hash of one
event (:func:`event_hash`). Re-exported by :mod:`eventreg.log`; the hash format is in
its docstring.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from eventreg.errors import InvalidEvent
from eventreg.log_encoding import (
    _check_short_text,
    _encode,
    _encode_checked,
    _encode_str,
    _utf8_size,
    check_json_object,
    format_timestamp,
    parse_timestamp,
)
from eventreg.log_envelope import (
    MAX_ACTOR_LENGTH,
    MAX_EVENT_BYTES,
    MAX_TYPE_LENGTH,
    NewEvent,
    PendingEvent,
    Prepared,
    RecordedEvent,
)

def envelope_text(
    position: int,
    stream_id: str,
    stream_version: int,
    type_: str,
    schema_version: int,
    recorded_at: str,
    actor: str | None,
    payload_text: str,
    metadata_text: str,
) -> str:
    """
    The canonical text hashed for one event (payload and metadata already canonical).
    """
    head = _encode([position, stream_id, stream_version, type_, schema_version, recorded_at, actor])
    return f"{head[:-1]},{payload_text},{metadata_text}]"


def chain_hash(prev_hash: str, envelope: str) -> str:
    """
    ``sha256(prev_hash || envelope)`` as lowercase hex.
    """
    return hashlib.sha256(bytes.fromhex(prev_hash) + envelope.encode("utf-8")).hexdigest()


def event_hash(event: RecordedEvent) -> str:
    """
    Recompute the hash an event should carry, from its own fields and ``prev_hash``.
    """
    return chain_hash(
        event.prev_hash,
        envelope_text(
            event.position,
            event.stream_id,
            event.stream_version,
            event.type,
            event.schema_version,
            format_timestamp(event.recorded_at),
            event.actor,
            _encode(event.payload),
            _encode(event.metadata),
        ),
    )


#: the types a flat payload's values may have (exact types, as :func:`_check_json` wants)
_SCALAR_TYPES = frozenset((str, int, float, bool, type(None)))
#: event types and actors already found valid (checked once, then looked up)
_GOOD_TYPES: set[str] = set()
_GOOD_ACTORS: set[str] = set()
_GOOD_NAMES_LIMIT = 4096


def _check_name(value: Any, what: str, limit: int, good: set[str]) -> None:
    """
    :func:`_check_short_text`, remembered in ``good`` for the few names a program uses.
    """
    _check_short_text(value, what, limit)
    if type(value) is str and len(good) < _GOOD_NAMES_LIMIT:
        good.add(value)


def _check_object(value: Any, what: str) -> None:
    """
    :func:`check_json_object`, with one loop for the common flat object of scalars.
    """
    if type(value) is dict:
        scalars = _SCALAR_TYPES
        for key, item in value.items():
            if type(key) is not str or type(item) not in scalars:
                break
        else:
            return
    check_json_object(value, what)


def prepare_events(events: Iterable[NewEvent], default_actor: str | None) -> list[PendingEvent]:
    """
    Validate and encode events before any storage is touched.

    Raises:
        InvalidEvent: on the first event that cannot be recorded; nothing is written.
    """
    pending = []
    new, good_types, good_actors = tuple.__new__, _GOOD_TYPES, _GOOD_ACTORS
    for index, event in enumerate(events):
        if not isinstance(event, NewEvent):
            raise InvalidEvent(f"event #{index} is a {type(event).__name__}, not a NewEvent")
        type_ = event.type
        if type(type_) is not str or type_ not in good_types:
            _check_name(type_, "event type", MAX_TYPE_LENGTH, good_types)
        schema_version = event.schema_version
        if type(schema_version) is not int or schema_version < 1:
            raise InvalidEvent(f"schema_version must be a positive int, not {schema_version!r}")
        actor = event.actor if event.actor is not None else default_actor
        if actor is not None and (type(actor) is not str or actor not in good_actors):
            _check_name(actor, "actor", MAX_ACTOR_LENGTH, good_actors)
        payload = event.payload
        _check_object(payload, "payload")
        metadata = event.metadata if event.metadata else {}
        if metadata:
            _check_object(metadata, "metadata")
        payload_text = _encode_checked(payload)
        size = _utf8_size(payload_text, payload, "payload")
        if metadata:
            metadata_text = _encode_checked(metadata)
            size += _utf8_size(metadata_text, metadata, "metadata")
        else:
            metadata_text = "{}"
            size += 2
        if size > MAX_EVENT_BYTES:
            raise InvalidEvent(
                f"event #{index} ({type_}) is {size:,} bytes of JSON; the limit is "
                f"{MAX_EVENT_BYTES:,} (keep large data in the artifact store)"
            )
        pending.append(new(PendingEvent, (type_, schema_version, actor, payload, metadata,
                                          payload_text, metadata_text)))
    return pending


def seal(
    stream_id: str,
    pending: Sequence[PendingEvent],
    *,
    first_position: int,
    first_stream_version: int,
    prev_hash: str,
    recorded_at: datetime,
) -> list[Prepared]:
    """
    Give pending events their positions, versions, timestamp and chained hashes.

    The envelope (see the module docstring) is assembled from pieces encoded once per
    call; the result is byte for byte what :func:`envelope_text` gives.
    """
    return _seal(stream_id, pending, first_position, first_stream_version, prev_hash, recorded_at)


def _seal(stream_id: str, pending: Sequence[PendingEvent], first_position: int, first_stream_version: int,
             prev_hash: str, recorded_at: datetime) -> list[Prepared]:
    """
    :func:`seal`, positional.
    """
    utc = type(recorded_at) is datetime and recorded_at.tzinfo is timezone.utc
    stamp = format_timestamp(recorded_at)
    moment = recorded_at if utc else parse_timestamp(stamp)  # a UTC datetime is what a reader will see
    # "[position,stream_id,stream_version,type,schema_version,recorded_at,actor,payload,metadata]"
    sid_json = _encode_str(stream_id)
    middle = f'"{stamp}"'  # the timestamp is ASCII digits and punctuation: no escapes
    pieces: dict[tuple[str, int, str | None], str] = {}
    sha256, new, record, prepared = hashlib.sha256, tuple.__new__, RecordedEvent, Prepared
    prev = bytes.fromhex(prev_hash)
    out = []
    position, version = first_position, first_stream_version
    for item in pending:
        type_, schema_version, actor, payload, metadata, payload_text, metadata_text = item
        key = (type_, schema_version, actor)
        around = pieces.get(key)
        if around is None:
            actor_json = "null" if actor is None else _encode_str(actor)
            around = pieces[key] = f",{_encode_str(type_)},{schema_version},{middle},{actor_json},"
        envelope = f"[{position},{sid_json},{version}{around}{payload_text},{metadata_text}]"
        digest = sha256(prev + envelope.encode("utf-8")).digest()
        hex_digest = digest.hex()
        out.append(new(prepared, (
            new(record, (position, stream_id, version, type_, schema_version, moment, actor, payload,
                         metadata, prev_hash, hex_digest)),
            payload_text, metadata_text, stamp)))
        prev, prev_hash = digest, hex_digest
        position += 1
        version += 1
    return out


def stored_row(item: Prepared) -> tuple[Any, ...]:
    """
    A sealed event as the SQL backends store it: the event's fields with its texts in
    place of the decoded values, in the events table's column order
    (``eventreg.backends.sql_statements.EVENT_COLUMNS``).
    """
    e = item.event
    return (e.position, e.stream_id, e.stream_version, e.type, e.schema_version, item.recorded_at_text,
            e.actor, item.payload_text, item.metadata_text, e.prev_hash, e.hash)


def seal_rows(stream_id: str, pending: Sequence[PendingEvent], first_position: int, first_stream_version: int,
              prev_hash: str, recorded_at: datetime | None, params: list[Any]) -> list[RecordedEvent]:
    """
    :func:`seal` for a backend that binds stored rows: the recorded events, each one's
    :func:`stored_row` appended to ``params`` (one flat list, as a multi-row ``INSERT``
    binds them). ``recorded_at`` None is :func:`now`. Positional, and with no list of
    :class:`Prepared` to build: a single append's path is short.
    """
    if recorded_at is None:
        recorded_at = now()
    sealed = _seal(stream_id, pending, first_position, first_stream_version, prev_hash, recorded_at)
    for item in sealed:
        params += stored_row(item)
    return [item.event for item in sealed]


def now() -> datetime:
    """
    The current time in UTC (one place, so tests and copies can reason about it).
    """
    return datetime.now(timezone.utc)
