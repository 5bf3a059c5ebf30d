"""
The event log's data: what goes in (:class:`NewEvent`), what is stored
(:class:`RecordedEvent`), what a backend handles on the way (:class:`PendingEvent`,
:class:`Prepared`), and what comes back from a check (:class:`Head`,
:class:`VerifyResult`). Re-exported by :mod:`eventreg.log`, where to import them from.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, NamedTuple

import attrs

from eventreg.errors import InvalidEvent

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
