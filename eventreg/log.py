"""
The event log: what every backend stores and promises.

An event log is a sequence of :class:`RecordedEvent` in one global order (positions
1, 2, 3 ... with no gaps), grouped into streams (versions 1, 2, 3 ... per stream), each
event chained to the one before it by a sha256 hash. Backends implement
:class:`EventLog`; :class:`BaseLog` holds what they share (input checks, building the
records and their hashes, verification), so that a backend only moves bytes.

The hash of an event is ``sha256(bytes.fromhex(prev_hash) + envelope_bytes(event))``
where ``envelope_bytes`` is the canonical JSON (sorted keys, no spaces, UTF-8) of the
list ``[position, stream_id, stream_version, type, schema_version, recorded_at, actor,
payload, metadata]`` and ``recorded_at`` is written ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.
The first event's ``prev_hash`` is 64 zeros. This is all an outside tool needs to
re-check a log (docs/backends.md shows it in ten lines of Python).
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any, NamedTuple, Protocol, runtime_checkable

import attrs
import msgspec

from eventreg.errors import ConcurrencyConflict, InvalidEvent, LogCorrupted

GENESIS_HASH = "0" * 64
MAX_STREAM_ID_LENGTH = 200
MAX_TYPE_LENGTH = 200
MAX_ACTOR_LENGTH = 200
#: the most JSON (payload + metadata, UTF-8) one event may hold; every backend takes
#: this much (MariaDB's default max_allowed_packet is 16 MiB)
MAX_EVENT_BYTES = 8 * 1024 * 1024


class _Any:
    """
    The ``expected_version`` that accepts any current version of a stream.
    """

    _instance: _Any | None = None

    def __new__(cls) -> _Any:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ANY"

    def __reduce__(self) -> str:
        return "ANY"


#: Append whatever the stream's current version is.
ANY: Any = _Any()
#: Append only if the stream does not exist yet.
NO_STREAM = 0


@attrs.frozen
class NewEvent:
    """
    An event to append: a type name and a JSON object.

    Attributes:
        type: the event's type name, e.g. ``"version.registered"``.
        payload: a JSON object (dict of str keys; values str, int, float, bool, None,
            lists and dicts of those). Floats round-trip exactly; NaN and +-Infinity
            are allowed.
        schema_version: version of the payload's shape, for upcasting on read.
        actor: who caused it; defaults to the log's or registry's actor.
        metadata: a JSON object of extra facts (correlation ids, host ...).
    """

    type: str
    payload: dict[str, Any] = attrs.field(factory=dict)
    schema_version: int = attrs.field(default=1, kw_only=True)
    actor: str | None = attrs.field(default=None, kw_only=True)
    metadata: dict[str, Any] | None = attrs.field(default=None, kw_only=True)


class RecordedEvent(NamedTuple):
    """
    An event as stored: the envelope around a payload.

    A tuple, so that reading a million of them stays cheap; treat it as immutable.
    """

    position: int
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    recorded_at: datetime
    actor: str | None
    payload: dict[str, Any]
    metadata: dict[str, Any]
    prev_hash: str
    hash: str


class Head(NamedTuple):
    """
    The last position of a log and its hash: a digest to write down and check later.
    """

    position: int
    hash: str

    def __str__(self) -> str:
        return f"{self.position}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Head:
        """
        Parse ``"POSITION:HASH"`` as printed by ``str(head)`` and ``eventreg head``.

        Raises:
            ValueError: the text is not of that form.
        """
        match = re.fullmatch(r"\s*(\d+)\s*:\s*([0-9a-fA-F]{64})\s*", text)
        if not match:
            raise InvalidEvent(f"not a head {text!r}: expected POSITION:SHA256HEX")
        return cls(int(match.group(1)), match.group(2).lower())


class Snapshot(NamedTuple):
    """
    Opaque bytes saved by a reader, valid as of ``position``.
    """

    position: int
    data: bytes
    created_at: datetime


@attrs.frozen
class VerifyResult:
    """
    The outcome of checking a hash chain.

    ``ok`` is false when any event's hash, position or link is wrong, or when the log
    does not contain the ``expected_head``; ``first_bad_position`` and ``problem`` then
    say where and what.
    """

    ok: bool
    checked: int
    head: Head
    first_bad_position: int | None = None
    problem: str | None = None

    def __bool__(self) -> bool:
        return self.ok


# -- canonical encoding ----------------------------------------------------------------

_encode = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=True
).encode
_decode = json.loads
#: msgspec's JSON decoder: :func:`decode_json`'s fast path, for the read loops that handle
#: its refusals themselves (with :func:`decode_json`, which lets ``json.loads`` decide)
fast_decode = msgspec.json.Decoder().decode
#: what :func:`fast_decode` raises for text it does not take
FAST_REFUSED = (msgspec.DecodeError, UnicodeEncodeError, RecursionError)
_UTC = timezone.utc
_fromisoformat = datetime.fromisoformat
_encode_str = json.encoder.encode_basestring  # what _encode gives for a str, without the call layers


def _make_checked_encode() -> Any:
    """
    :func:`canonical_json` for values already checked by :func:`check_json_object`.

    The C encoder is built once instead of on every call, without the cycle check (a
    checked value has no cycles); used only if it gives the very same text.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return _encode
    try:
        encoder = make(None, json.JSONEncoder().default, _encode_str, None, ":", ",", True, False, True)
    except TypeError:  # pragma: no cover - another signature
        return _encode
    join = "".join

    def encode_checked(value: Any) -> str:
        return join(encoder(value, 0))

    sample = {"b": [1.5, float("nan"), -float("inf"), None, True, 10**30], "a": {"\u00e9": "\u2028\"\\"}}
    return encode_checked if encode_checked(sample) == _encode(sample) else _encode


_encode_checked = _make_checked_encode()


def canonical_json(value: Any) -> str:
    """
    The canonical text of a JSON value: sorted keys, compact, NaN/Infinity as tokens.
    """
    return _encode(value)


def canonical_bytes(value: Any) -> bytes:
    """
    The UTF-8 bytes of :func:`canonical_json`.
    """
    return _encode(value).encode("utf-8")


def format_timestamp(moment: datetime) -> str:
    """
    ``recorded_at`` as it is hashed and stored: UTC, microseconds, a ``Z``.
    """
    if moment.tzinfo is _UTC:  # the common case, without replace() (~1.5 us a call)
        return f"{moment.isoformat(timespec='microseconds')[:-6]}Z"
    if moment.tzinfo is None:
        raise InvalidEvent("timestamps must be timezone-aware")
    if moment.utcoffset():
        moment = moment.astimezone(timezone.utc)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _parse_timestamp_slowly(text: str) -> datetime:
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=timezone.utc)


if sys.version_info >= (3, 11):

    def parse_timestamp(text: str) -> datetime:
        """
        The inverse of :func:`format_timestamp`.
        """
        try:
            moment = _fromisoformat(text)  # reads the "Z" itself since Python 3.11
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is _UTC and text[-1:] == "Z":
            return moment
        return _parse_timestamp_slowly(text)

else:  # pragma: no cover - Python 3.10
    parse_timestamp = _parse_timestamp_slowly


_FRACTION = re.compile(r"(.*\d\d:\d\d:\d\d)[.,](\d{1,6})(.*)")


def parse_iso_moment(text: str) -> datetime | None:
    """
    An ISO-8601 date or date-time a user wrote (``2026-03-03``, ``2026-03-03T14:00:01.5Z``,
    ``... +02:00``), timezone-aware (naive means UTC); None if it is not one.

    Python 3.10's ``fromisoformat`` reads neither a ``Z`` nor 1, 2, 4 or 5 fractional
    digits; both are accepted here on every version.
    """
    text = text.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        match = _FRACTION.fullmatch(text)
        if match is None or sys.version_info >= (3, 11):
            return None
        try:  # pragma: no cover - Python 3.10
            value = datetime.fromisoformat(f"{match[1]}.{match[2].ljust(6, '0')}{match[3]}")
        except ValueError:  # pragma: no cover - Python 3.10
            return None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def check_json_object(value: Any, what: str) -> None:
    """
    Make sure ``value`` is a JSON object that round-trips exactly.

    Raises:
        InvalidEvent: naming the first offending key path and its Python type.
    """
    if not isinstance(value, dict):
        raise InvalidEvent(f"{what} must be a JSON object (dict), not {type(value).__name__}")
    _check_json(value, what)


def _check_json(value: Any, path: str) -> None:
    kind = type(value)
    if kind in (str, int, float, bool) or value is None:
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise InvalidEvent(
                    f"{path} has a key of type {type(key).__name__}; JSON keys must be str"
                )
            _check_json(item, f"{path}.{key}")
        return
    if kind is list:
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]")
        return
    raise InvalidEvent(f"{path} is of type {kind.__name__}, which is not JSON")


def _find_bad_text(value: Any, path: str) -> str | None:
    """
    The key path of the first string (key or value) that is not valid Unicode.
    """
    if isinstance(value, str):
        return path if _has_surrogate(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if _has_surrogate(key):
                return f"{path} key {key.encode('utf-8', 'backslashreplace').decode()!r}"
            found = _find_bad_text(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_bad_text(item, f"{path}[{index}]")
            if found:
                return found
    return None


def json_problem(value: Any) -> str | None:
    """
    Why a JSON value read back from storage is not an object eventreg could have written
    (not an object, a lone surrogate, nested too deeply to encode), or None. For the
    rare texts msgspec does not take: those eventreg wrote have NaN or Infinity in them.
    """
    if type(value) is not dict:
        return f"is not a JSON object but {type(value).__name__}"
    try:
        _encode(value).encode("utf-8")
    except UnicodeEncodeError:
        where = _find_bad_text(value, "") or ""
        return f"is not valid Unicode (a lone surrogate{' at ' + where.lstrip('.') if where else ''})"
    except (RecursionError, ValueError):
        return "is nested too deeply to hash"
    return None


def _utf8_size(text: str, value: Any, what: str) -> int:
    """
    The UTF-8 size of canonical text, refusing lone surrogates (undecodable bytes).
    """
    if len(text) * 4 <= MAX_EVENT_BYTES and text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        where = _find_bad_text(value, what) or what
        raise InvalidEvent(
            f"{where} is not valid Unicode (a lone surrogate, e.g. from undecodable bytes)"
        ) from None


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_stream_id(stream_id: Any) -> str:
    """
    Raises:
        InvalidEvent: the stream id is not a non-empty string of printable characters
            of at most ``MAX_STREAM_ID_LENGTH``.
    """
    if type(stream_id) is str and 0 < len(stream_id) <= MAX_STREAM_ID_LENGTH and stream_id.isascii() \
            and stream_id.isprintable():
        return stream_id  # the common case; ASCII has no surrogates
    if not isinstance(stream_id, str) or not stream_id:
        raise InvalidEvent(f"stream id must be a non-empty string, not {stream_id!r}")
    if len(stream_id) > MAX_STREAM_ID_LENGTH:
        raise InvalidEvent(
            f"stream id is {len(stream_id)} characters long; the limit is {MAX_STREAM_ID_LENGTH}"
        )
    if not stream_id.isprintable() or _has_surrogate(stream_id):
        raise InvalidEvent(f"stream id {stream_id!r} contains control or invalid characters")
    return stream_id


def _check_short_text(value: Any, what: str, limit: int) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidEvent(f"{what} must be a non-empty string, not {value!r}")
    if len(value) > limit or not value.isprintable() or _has_surrogate(value):
        raise InvalidEvent(f"{what} {value[:50]!r} is too long or contains control characters")


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


class Prepared(NamedTuple):
    """
    A record ready to store: the event and the canonical texts of its JSON parts.
    """

    event: RecordedEvent
    payload_text: str
    metadata_text: str
    recorded_at_text: str


class PendingEvent(NamedTuple):
    """
    A validated :class:`NewEvent`, encoded once, waiting for a position.
    """

    type: str
    schema_version: int
    actor: str | None
    payload: dict[str, Any]
    metadata: dict[str, Any]
    payload_text: str
    metadata_text: str


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


def check_expected_version(stream_id: str, expected: Any, actual: int) -> None:
    """
    Raises:
        ConcurrencyConflict: ``expected`` is neither ``ANY`` nor ``actual``.
    """
    if expected is ANY:
        return
    if type(expected) is not int or expected < 0:
        raise InvalidEvent(f"expected_version must be ANY or an int >= 0, not {expected!r}")
    if expected != actual:
        raise ConcurrencyConflict(
            f"stream {stream_id!r} is at version {actual}, expected {expected}",
            stream_id=stream_id,
            expected=expected,
            actual=actual,
        )


def verify_chain(events: Iterable[RecordedEvent], expected_head: Head | tuple[int, str] | None = None) -> VerifyResult:
    """
    Recompute the hash chain over ``events`` (the whole log, in global order).

    Args:
        events: every recorded event from position 1.
        expected_head: a ``(position, hash)`` written down earlier; the log must still
            hold exactly that hash at that position.

    Returns:
        A :class:`VerifyResult` naming the first bad position, if any.
    """
    prev = GENESIS_HASH
    expected_position = 1
    checked = 0
    versions: dict[str, int] = {}
    head_seen = expected_head is None
    for event in events:
        problem = None
        if event.position != expected_position:
            problem = (
                f"position {event.position} found where {expected_position} was expected "
                "(an event was deleted, inserted or moved)"
            )
        elif event.prev_hash != prev:
            problem = "prev_hash does not match the hash of the event before it"
        else:
            problem = _hash_problem(event)
        if problem is None and event.stream_version != versions.get(event.stream_id, 0) + 1:
            problem = f"stream {event.stream_id!r} version {event.stream_version} is out of sequence"
        if problem:
            return VerifyResult(False, checked, Head(checked, prev), expected_position, problem)
        versions[event.stream_id] = event.stream_version
        prev = event.hash
        checked += 1
        expected_position += 1
        if expected_head is not None and event.position == expected_head[0]:
            if event.hash != expected_head[1]:
                return VerifyResult(
                    False, checked, Head(checked, prev), event.position,
                    "hash differs from the expected head: the log up to it was rewritten",
                )
            head_seen = True
    if not head_seen:
        assert expected_head is not None
        return VerifyResult(
            False, checked, Head(checked, prev), checked + 1,
            f"the log ends at position {checked}, before the expected head {expected_head[0]} "
            "(it was truncated)",
        )
    return VerifyResult(True, checked, Head(checked, prev))


def _hash_problem(event: RecordedEvent) -> str | None:
    """
    What is wrong with an event's hash, or None: its stored fields may be anything a hand
    put in the database, so a field that cannot even be hashed is a problem too.
    """
    try:
        if event_hash(event) == event.hash:
            return None
    except (TypeError, ValueError, AttributeError, UnicodeError, RecursionError, OverflowError) as e:
        return f"the event cannot be hashed: a stored field is not what eventreg writes ({type(e).__name__}: {e})"
    return "hash does not match the event's content (it was edited)"


def now() -> datetime:
    """
    The current time in UTC (one place, so tests and copies can reason about it).
    """
    return datetime.now(timezone.utc)


# -- the protocol ----------------------------------------------------------------------


@runtime_checkable
class EventLog(Protocol):
    """
    What every backend provides. See docs/backends.md for the guarantees.
    """

    url: str
    #: several processes may append at once (each append still atomic and ordered)
    supports_concurrent_writers: bool
    #: the same log can be opened from another process
    shared_between_processes: bool
    #: the log survives ``close()`` and reopening
    persistent: bool

    def append(self, stream_id: str, events: Sequence[NewEvent], expected_version: Any = ANY) -> list[RecordedEvent]: ...
    def read_stream(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]: ...
    def read_all(self, from_position: int = 1, limit: int | None = None) -> Iterator[RecordedEvent]: ...
    def stream_version(self, stream_id: str) -> int: ...
    def head(self) -> Head: ...
    def verify(self, expected_head: Head | tuple[int, str] | None = None) -> VerifyResult: ...
    def save_snapshot(self, position: int, data: bytes) -> None: ...
    def latest_snapshot(self) -> Snapshot | None: ...
    def get_checkpoint(self, consumer: str) -> int: ...
    def set_checkpoint(self, consumer: str, position: int) -> None: ...
    def import_events(self, events: Iterable[RecordedEvent]) -> int: ...
    def close(self) -> None: ...


class BaseLog:
    """
    What backends share. A backend implements ``_append``, ``read_stream``,
    ``read_all``, ``stream_version``, ``head``, the snapshot and checkpoint methods,
    ``_import`` and ``close``.
    """

    url: str = ""
    supports_concurrent_writers = False
    shared_between_processes = False
    persistent = False
    default_actor: str | None = None

    def append(self, stream_id: str, events: Sequence[NewEvent], expected_version: Any = ANY) -> list[RecordedEvent]:
        """
        Atomically append ``events`` to ``stream_id``.

        Args:
            stream_id: the stream, e.g. ``"model:iris"``.
            events: the events, in order; all are written or none.
            expected_version: the stream's current version (``NO_STREAM`` = 0 for a
                new stream) or ``ANY``.

        Returns:
            The recorded events, with positions, versions and hashes.

        Raises:
            ConcurrencyConflict: the stream is not at ``expected_version``.
            InvalidEvent: an event or the stream id is invalid; nothing is written.
        """
        check_stream_id(stream_id)
        if expected_version is not ANY and (type(expected_version) is not int or expected_version < 0):
            raise InvalidEvent(f"expected_version must be ANY or an int >= 0, not {expected_version!r}")
        if isinstance(events, NewEvent):
            events = [events]
        # The cyclic garbage collector is paused meanwhile (as decode_rows does for reads):
        # the records, texts and rows made here cannot form cycles, and most are gone when
        # the call returns; collecting them mid-append cost ~5 % of a batch's time. Not for
        # one event: its dozen objects never cost that, and pausing did (~2 % of a single
        # append on log_bench, more once the CPU's caches are cold after a commit's fsync).
        pausing = not (type(events) is list and len(events) == 1) and gc.isenabled()
        if pausing:
            gc.disable()
        try:
            pending = prepare_events(events, self.default_actor)
            if not pending:
                return []
            return self._append(stream_id, pending, expected_version)
        finally:
            if pausing:
                gc.enable()

    def _append(self, stream_id: str, pending: list[PendingEvent], expected_version: Any) -> list[RecordedEvent]:
        raise NotImplementedError

    def verify(self, expected_head: Head | tuple[int, str] | None = None) -> VerifyResult:
        """
        Recompute the whole hash chain; see :func:`verify_chain`.

        Stored data that cannot even be read as an event (a backend raises
        ``LogCorrupted``) is reported as a failed result at the position after the last
        good event, never as an exception.
        """
        unreadable: list[LogCorrupted] = []

        def events() -> Iterator[RecordedEvent]:
            try:
                yield from self.read_all()
            except LogCorrupted as e:
                unreadable.append(e)

        result = verify_chain(events(), expected_head)
        if unreadable and (result.ok or (result.first_bad_position or 0) > result.checked):
            return VerifyResult(False, result.checked, result.head, result.checked + 1, str(unreadable[0]))
        return result

    def import_events(self, events: Iterable[RecordedEvent]) -> int:
        """
        Append already-recorded events verbatim (positions, times, actors, hashes).

        Used by ``eventreg.copy``. The first event must follow this log's head, and each
        must chain to the one before; the backend stores them in batches.

        Returns:
            How many events were imported.

        Raises:
            InvalidEvent: an event does not continue this log.
        """
        head = self.head()
        batch: list[Prepared] = []
        count = 0
        expected_position, prev = head.position + 1, head.hash
        for event in events:
            if event.position != expected_position or event.prev_hash != prev:
                raise InvalidEvent(
                    f"event at position {event.position} does not continue this log "
                    f"(expected position {expected_position} chained to {prev[:12]}...)"
                )
            if event_hash(event) != event.hash:
                raise InvalidEvent(f"event at position {event.position} does not match its hash")
            batch.append(
                Prepared(event, _encode(event.payload), _encode(event.metadata),
                         format_timestamp(event.recorded_at))
            )
            expected_position, prev = event.position + 1, event.hash
            if len(batch) >= 1000:
                self._import(batch)
                count += len(batch)
                batch = []
        if batch:
            self._import(batch)
            count += len(batch)
        return count

    def _import(self, batch: list[Prepared]) -> None:
        raise NotImplementedError

    def __enter__(self) -> BaseLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - backends override
        pass

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"


def decode_json(text: str | bytes) -> Any:
    """
    Decode JSON text written by :func:`canonical_json` (or any JSON text).

    ``json.loads`` is the definition; msgspec reads the text first, faster, and gives the
    same values for all it accepts (tests/test_log_json.py holds it to that). What
    msgspec refuses goes to ``json.loads``: the NaN and Infinity tokens, escaped lone
    surrogates, numbers beyond its range, nesting deeper than it goes, and text that is
    no JSON at all.

    Raises:
        ValueError: the text is not JSON, or is nested deeper than Python can read.
    """
    try:
        return fast_decode(text)
    except FAST_REFUSED:
        pass
    try:
        return _decode(text)
    except RecursionError:
        raise ValueError("JSON nested deeper than Python can read") from None
