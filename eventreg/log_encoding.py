"""
The log's text: canonical JSON (the hashed bytes), decoding it back, timestamps, and the
checks that a value can be recorded and read back exactly. Re-exported by
:mod:`eventreg.log`.

The canonical encoding is stdlib ``json`` (sorted keys, compact, NaN/Infinity as
tokens, ``ensure_ascii=False``); it defines the hash format and does not change.
Decoding lets msgspec read first and ``json.loads`` decide what msgspec refuses.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timezone
from typing import Any

import msgspec

from eventreg.errors import InvalidEvent
from eventreg.log_envelope import MAX_EVENT_BYTES, MAX_STREAM_ID_LENGTH


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


#: the exact types of JSON's scalars (a subclass is not JSON to :func:`_check_json`)
_JSON_SCALARS = frozenset((str, int, float, bool, type(None)))


def _check_json(value: Any, path: str) -> None:
    kind = type(value)
    scalars = _JSON_SCALARS
    if kind in scalars:
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise InvalidEvent(
                    f"{path} has a key of type {type(key).__name__}; JSON keys must be str"
                )
            if type(item) not in scalars:  # a scalar needs no call (nor its path)
                _check_json(item, f"{path}.{key}")
        return
    if kind is list:
        for index, item in enumerate(value):
            if type(item) not in scalars:
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
