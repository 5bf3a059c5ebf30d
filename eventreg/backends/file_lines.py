"""
The lines of a ``file://`` log: how a batch of events is laid out as JSON lines, how
lines are read back (and what is wrong with one that is not an event), and the small
file operations the log's folder needs (atomic writes, directory fsyncs).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

from eventreg.errors import LogCorrupted
from eventreg.log import (
    FAST_REFUSED,
    Prepared,
    RecordedEvent,
    canonical_json,
    decode_json,
    fast_decode,
    json_problem,
    parse_timestamp,
)

MORE_KEY = b',"more":'
_new_event = tuple.__new__  # RecordedEvent without its Python-level __new__ (hot read loop)


def batch_lines(sealed: list[Prepared]) -> list[bytes]:
    """
    The stored lines of one batch, assembled from the canonical texts (nothing re-encoded).
    """
    encode = canonical_json
    last = len(sealed) - 1
    out = []
    stream_id, stream_text = None, ""
    for k, item in enumerate(sealed):
        e = item.event
        if e.stream_id != stream_id:
            stream_id, stream_text = e.stream_id, encode(e.stream_id)
        tail = '"}\n' if k == last else f'","more":{last - k}}}\n'
        out.append(
            f'{{"position":{e.position},"stream_id":{stream_text},"stream_version":{e.stream_version},'
            f'"type":{encode(e.type)},"schema_version":{e.schema_version},'
            f'"recorded_at":"{item.recorded_at_text}","actor":{encode(e.actor)},'
            f'"payload":{item.payload_text},"metadata":{item.metadata_text},'
            f'"prev_hash":"{e.prev_hash}","hash":"{e.hash}{tail}'.encode()
        )
    return out


def lines_to_come(line: bytes) -> int | None:
    """
    How many lines of its batch follow a stored line (0 on a batch's last line); None if
    the line is not an event. Cheap for lines laid out as :func:`_lines` writes them.
    """
    if line.startswith(b'{"position":'):
        if line.endswith(b'"}'):
            return 0
        m = line.rfind(MORE_KEY, -30)
        if m > 0 and line.endswith(b"}") and line[m + len(MORE_KEY):-1].isdigit():
            return int(line[m + len(MORE_KEY):-1])
    try:  # laid out otherwise (edited by hand or by another tool)
        doc = decode_json(line)
    except ValueError:
        return None
    more = doc.get("more", 0) if isinstance(doc, dict) and "hash" in doc else None
    return more if type(more) is int and more >= 0 else None


def line_stream_id(line: bytes) -> str | None:
    """
    The stream id of a stored line, or None if it is not an event.
    """
    try:
        doc = decode_json(line)
    except ValueError:
        return None
    stream_id = doc.get("stream_id") if isinstance(doc, dict) else None
    return stream_id if type(stream_id) is str else None


def decode_block(block: bytes) -> list[RecordedEvent] | None:
    """
    The events of newline-terminated lines, decoded in one ``json.loads``; None if any is bad.
    """
    joined = b"[" + block[:-1].replace(b"\n", b",") + b"]"
    try:
        try:
            docs, checked = fast_decode(joined), True
        except FAST_REFUSED:  # NaN, Infinity, or damage: json.loads decides, and the values are checked
            docs, checked = decode_json(joined), False
        if len(docs) != block.count(b"\n"):  # bad lines that happen to join into JSON
            return None
        if not checked and any(json_problem(d["payload"]) or json_problem(d["metadata"]) for d in docs):
            return None
        out = []
        last_text, last_time = None, None
        append = out.append
        for d in docs:
            text = d["recorded_at"]
            if text != last_text:
                if text[-1] != "Z":
                    raise ValueError(f"recorded_at {text!r} is not UTC")
                last_text, last_time = text, parse_timestamp(text)
            payload, metadata = d["payload"], d["metadata"]
            if type(payload) is not dict or type(metadata) is not dict:
                return None
            append(_new_event(RecordedEvent, (
                d["position"], d["stream_id"], d["stream_version"], d["type"], d["schema_version"],
                last_time, d["actor"], payload, metadata, d["prev_hash"], d["hash"],
            )))
        return out
    except (ValueError, KeyError, TypeError, IndexError):
        return None


_FIELDS = ("position", "stream_id", "stream_version", "type", "schema_version", "recorded_at", "actor",
           "payload", "metadata", "prev_hash", "hash")


def line_problem(line: bytes) -> str:
    """
    What is wrong with a stored line that :func:`_decode_block` refused (for the message).
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"is not an event: it is not UTF-8 text ({e.reason} at byte {e.start})"
    try:
        doc = decode_json(text)
    except ValueError as e:
        return f"is not an event: it is not JSON ({e})"
    if type(doc) is not dict:
        return "is not an event: it is not a JSON object"
    missing = [name for name in _FIELDS if name not in doc]
    if missing:
        return f"is not an event: it lacks {', '.join(missing)}"
    for what in ("payload", "metadata"):
        problem = json_problem(doc[what])
        if problem:
            return f"is not an event: its {what} {problem}"
    stamp = doc["recorded_at"]
    try:
        if type(stamp) is not str or stamp[-1:] != "Z":
            raise ValueError
        parse_timestamp(stamp)
    except ValueError:
        return f"is not an event: its recorded_at {stamp!r:.60} is not a UTC timestamp"
    return "is not a valid event"


def raise_after(events: Any, damage: str | None) -> Iterator[RecordedEvent]:
    yield from events
    if damage:
        raise LogCorrupted(damage)


# -- files ----------------------------------------------------------------------------------


def sync_path(path: str, flags: int = os.O_RDONLY | os.O_DIRECTORY) -> None:
    fd = os.open(path, flags | os.O_CLOEXEC, 0o644)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_empty(path: str) -> None:
    sync_path(path, os.O_WRONLY | os.O_CREAT)


def write_atomically(path: str, data: bytes, fsync_dir: bool = True) -> None:
    """
    Replace ``path`` by ``data`` so that a reader or a crash sees the old or the new file.
    """
    folder = os.path.dirname(path)
    try:
        os.mkdir(folder)
        sync_path(os.path.dirname(folder))
    except FileExistsError:
        pass
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    if fsync_dir:
        sync_path(folder)


def eventreg_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("eventreg")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "(unknown version)"
