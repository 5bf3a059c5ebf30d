"""
Mappings of the projection kept encoded, decoded each time they are read.

A registry of 100,000 versions holds 100,000 small dicts of each kind (params, latest
metrics, metric summaries, tags, data, environment, ...), most of which nothing reads
after a version was registered: as Python objects they cost about 1.5 KB a version. Each
of them is kept instead as its msgpack bytes (a few dozen bytes), and reading the field
decodes a fresh dict. The class's attributes keep their names and types: ``v.params``
is a dict, ``v.params = {...}`` stores one, and everything built on attribute access
(attrs' ``==`` and ``repr``, cattrs, the snapshot codec, the views) sees no difference.

What changes: a field read twice gives two equal dicts, not one object, so changing the
dict read changes nothing stored — assign a new one. The fold never changes these
mappings in place (see eventreg/domain/state.py). A value msgpack cannot hold exactly
(an integer beyond 64 bits, text that is not Unicode, a type of its own) is kept as it
is, undecoded.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["pack_fields", "stored", "unpack"]

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder().decode
#: the encoding of the empty mapping, shared by every field holding one
_EMPTY = _encode({})
#: the types msgpack gives back as they went in (an int out of its 64 bits fails to encode)
_EXACT = frozenset((str, int, float, bool, type(None)))
_NESTED = frozenset((dict, list))
_STR = frozenset((str,))


def _exact(value: Any) -> bool:
    """
    Whether a dict comes back from msgpack as it went in: equal, and of the same types
    (a tuple would come back a list, a subclass as its base). Flat dicts, the usual
    ones, are checked by their sets of types.
    """
    if type(value) is dict:
        if set(map(type, value)) - _STR:
            return False
        kinds = set(map(type, value.values()))
        if kinds <= _EXACT:
            return True
        if kinds - _EXACT - _NESTED:
            return False
        return all(_exact(item) for item in value.values() if type(item) in _NESTED)
    if type(value) is list:
        kinds = set(map(type, value))
        if kinds <= _EXACT:
            return True
        if kinds - _EXACT - _NESTED:
            return False
        return all(_exact(item) for item in value if type(item) in _NESTED)
    return type(value) in _EXACT


def pack(value: Any) -> Any:
    """
    A mapping as stored: its msgpack bytes, or itself when it is None or not exactly
    representable.
    """
    if type(value) is not dict:
        return value
    if not value:
        return _EMPTY
    if not _exact(value):
        return value
    try:
        return _shared(_encode(value))
    except (TypeError, ValueError, OverflowError, UnicodeEncodeError):  # lone surrogates
        return value


#: equal small encodings share one bytes object, as ``sys.intern`` shares strings: the same
#: tags or params on many versions are held once (bounded: past the limit, no new ones)
_SHARED: dict[bytes, bytes] = {}
SHARE_LIMIT = 100_000
SHARE_SIZE = 96


def _shared(data: bytes) -> bytes:
    if len(data) > SHARE_SIZE:
        return data
    found = _SHARED.get(data)
    if found is not None:
        return found
    if len(_SHARED) < SHARE_LIMIT:
        _SHARED[data] = data
    return data


def unpack(value: Any) -> Any:
    """
    The mapping a field stores as ``value`` (a fresh one when it was encoded).
    """
    if type(value) is bytes:
        return {} if value is _EMPTY else _decode(value)
    return value


def _short(row: list[Any]) -> list[Any]:
    """
    A summary's row (value, step, stamp, min, max, count, last stamp, first, last), just
    ``[value, step, stamp, first]`` for a metric of one point (the rest follow from them).
    """
    value, step, stamp, low, high, count, last_stamp, first, last = row
    if (count == 1 and last_stamp == stamp and last == first and type(value) is float
            and (low == value == high or (value != value and low != low and high != high))):
        return [value, step, stamp, first]
    return row


def _long(row: list[Any]) -> list[Any]:
    if len(row) == 4:
        value, step, stamp, first = row
        return [value, step, stamp, value, value, 1, stamp, first, first]
    return row


def _summaries(stats_type: type) -> tuple[Any, Any]:
    """
    How metric summaries (``{key: stats_type}``, each with ``_row()``) are stored: ``{key: row}``.
    """

    def encode(value: Any) -> Any:
        if type(value) is not dict or not all(type(stats) is stats_type for stats in value.values()):
            return value
        if not value:
            return _EMPTY
        try:  # numbers only: msgpack keeps them exactly (or refuses one out of 64 bits)
            return _encode({key: _short(stats._row()) for key, stats in value.items()})
        except (TypeError, ValueError, OverflowError, UnicodeEncodeError):
            return value

    def decode(stored: Any) -> Any:
        if type(stored) is bytes:
            return {} if stored is _EMPTY else {key: stats_type(*_long(row)) for key, row in _decode(stored).items()}
        return stored

    return encode, decode


#: (class, field) -> the slot's descriptor, for :func:`stored`
_SLOTS: dict[tuple[type, str], Any] = {}


def stored(obj: Any, name: str) -> Any:
    """
    The field ``name`` of ``obj`` as stored, not decoded (immutable when encoded): give it
    to :func:`unpack` (or the field's own decoding) for the mapping.
    """
    slot = _SLOTS.get((type(obj), name))
    return getattr(obj, name) if slot is None else slot.__get__(obj)


def _mapping(slot: Any, doc: str) -> property:
    """
    A mapping field: :func:`pack` and :func:`unpack` inlined (the fold sets a version's
    nine mappings, most of them None or empty, for every version it registers).
    """
    get, put, decode, empty = slot.__get__, slot.__set__, _decode, _EMPTY

    def read(self: Any) -> Any:
        value = get(self)
        if type(value) is bytes:
            return {} if value is empty else decode(value)
        return value

    def write(self: Any, value: Any) -> None:
        put(self, (empty if not value else pack(value)) if type(value) is dict else value)

    return property(read, write, doc=doc)


def _field(slot: Any, encode: Any, decode: Any, doc: str) -> property:
    get, put = slot.__get__, slot.__set__

    def read(self: Any) -> Any:
        return decode(get(self))

    def write(self: Any, value: Any) -> None:
        put(self, encode(value))

    return property(read, write, doc=doc)


def pack_fields(cls: type, names: tuple[str, ...], summaries: str | None = None,
                stats_type: type | None = None) -> type:
    """
    Keep the mapping fields ``names`` of the slotted attrs class ``cls`` encoded, and its
    metric summaries field ``summaries`` (of ``stats_type`` objects); returns ``cls``.
    """
    for name in names:
        slot = _SLOTS[cls, name] = cls.__dict__[name]  # the slot's descriptor: the storage behind the property
        setattr(cls, name, _mapping(slot, f"{name} (kept encoded)"))
    if summaries is not None:
        encode, decode = _summaries(stats_type)  # type: ignore[arg-type]
        slot = _SLOTS[cls, summaries] = cls.__dict__[summaries]
        setattr(cls, summaries, _field(slot, encode, decode, f"{summaries} (kept encoded)"))
    return cls
