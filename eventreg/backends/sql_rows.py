"""
Rows of the SQL log's events table as :class:`~eventreg.log.RecordedEvent`: the hot
loop of ``read_all``, and the names of what is wrong with a row edited by hand.
"""

from __future__ import annotations

import gc
from datetime import datetime
from typing import Any, NamedTuple

from eventreg.backends.sql_statements import EVENT_COLUMNS
from eventreg.errors import LogCorrupted
from eventreg.log import FAST_REFUSED, RecordedEvent, Snapshot, decode_json, fast_decode, json_problem, parse_timestamp

#: a position after every snapshot's (the snapshots table's position is a BIGINT)
SNAPSHOT_LAST = 2**63 - 1


def snapshot_of(row: Any) -> Snapshot | None:
    """
    A row of the snapshots table (position, data, created_at) as a :class:`Snapshot`; None for no row.
    """
    if row is None:
        return None
    return Snapshot(row[0], bytes(row[1]), parse_timestamp(row[2]))


def decode_rows(rows: list[Any]) -> list[RecordedEvent]:
    """
    Rows of the events table (in column order) as :class:`RecordedEvent`.

    The hot loop of ``read_all``: msgspec decodes the JSON texts; what it refuses goes
    through :func:`_decode_stored`, which decodes it as ``json.loads`` does or names
    the damage. The cyclic garbage collector is paused meanwhile: decoded JSON cannot
    form cycles, and its passes over thousands of new dicts cost a quarter of the
    reading time.

    Raises:
        LogCorrupted: a row is not an event eventreg wrote (edited by hand), naming its position.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return decode_rows_unpaused(rows)
    finally:
        if collecting:
            gc.enable()


def decode_rows_unpaused(rows: list[Any]) -> list[RecordedEvent]:
    new, cls, decode, refused = tuple.__new__, RecordedEvent, fast_decode, FAST_REFUSED
    out = []
    append = out.append
    stamp_text, stamp = None, None
    for row in rows:
        if type(row) is Undecodable:
            raise LogCorrupted(f"the event at position {row.position} holds {row.column} bytes that are not "
                               "UTF-8 text (edited by hand)")
        position, sid, version, type_, schema, recorded, actor, payload, meta, prev, digest = row
        if recorded != stamp_text:  # events appended together share one timestamp
            stamp = _parse_stored_time(recorded, position)
            stamp_text = recorded
        try:
            data = decode(payload) if type(payload) is str else None
        except refused:
            data = None
        if type(data) is not dict:  # not text, not JSON msgspec takes, not an object
            data = _decode_stored(payload, position)
        if meta == "{}":
            metadata = {}
        else:
            try:
                metadata = decode(meta) if type(meta) is str else None
            except refused:
                metadata = None
            if type(metadata) is not dict:
                metadata = _decode_stored(meta, position, "metadata")
        append(new(cls, (position, sid, version, type_, schema, stamp, actor, data, metadata, prev, digest)))
    return out


class Undecodable(NamedTuple):
    """
    Stands for a row whose text is not UTF-8 (see ``SQLLog._rows_before_undecodable``).
    """

    position: Any
    column: str


class UndecodableText(LogCorrupted):
    """
    SQLite returned text that is not UTF-8: the position is found by reading again.
    """


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True




def _parse_stored_time(text: Any, position: int) -> datetime:
    """
    Raises:
        LogCorrupted: ``recorded_at`` at ``position`` is not a timestamp eventreg wrote.
    """
    try:
        if type(text) is not str or text[-1:] != "Z":
            raise ValueError("not a UTC timestamp ending in Z")
        return parse_timestamp(text)
    except ValueError as e:
        raise LogCorrupted(f"the event at position {position} has a recorded_at that is not a timestamp "
                           f"({_show(text)}): {e}") from None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _decode_stored(text: Any, position: int, what: str = "payload") -> Any:
    """
    A stored payload or metadata text as a JSON object; the slow path of :func:`decode_rows`.

    Raises:
        LogCorrupted: the stored value at ``position`` is not a JSON object eventreg wrote
            (it was edited by hand): not text, not JSON, nested too deeply, holding a lone
            surrogate, or not an object.
    """
    if type(text) is not str:
        raise LogCorrupted(f"the event at position {position} has a {what} stored as "
                           f"{type(text).__name__}, not as text")
    try:
        value = decode_json(text)
    except ValueError as e:
        raise LogCorrupted(f"the event at position {position} holds {what} text that is not JSON: {e}") from e
    problem = json_problem(value)
    if problem:
        raise LogCorrupted(f"the event at position {position} holds a {what} that {problem}")
    return value



def rows_until_undecodable(rows: list[Any]) -> list[Any]:
    """
    Rows read as bytes, decoded up to the first whose text is not UTF-8, and a last one
    standing for it (which :func:`decode_rows` refuses, naming its position).
    """
    good = []
    for row in rows:
        try:
            good.append(tuple(v.decode("utf-8") if type(v) is bytes else v for v in row))
        except UnicodeDecodeError:
            column = next(name for name, v in zip(EVENT_COLUMNS, row) if type(v) is bytes and not is_utf8(v))
            return [*good, Undecodable(row[0], column)]
    return good  # pragma: no cover - the rows changed meanwhile
