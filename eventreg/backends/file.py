"""
An event log in a folder of JSON lines: ``file:///abs/dir`` or ``file://./rel/dir``.

The folder holds ``eventreg-log.json`` (the marker: format name and version),
``events.jsonl`` (one event per line, the whole envelope, fields in a fixed order),
``snapshots/`` and ``checkpoints/`` (one small file each). The lines of a multi-event
append form a batch: each line but the last carries ``"more": n`` (lines still to
come), so a batch counts only once its last line is there.

Writers, in any number of processes, hold an exclusive ``flock`` on the folder, catch up
with others' appends, ``pwrite`` their batch and ``fdatasync`` it before ``append``
returns. Readers take in new bytes under a shared lock (a write in progress is never
mistaken for a crash's leftovers); committed bytes never change and are read without one.
Bytes after the last complete batch are a *torn tail* left by a crashed writer: never
read as events, logged when found, cut off by the next writer under its lock. A line
that is not an event is *damage*: reading stops there with ``LogCorrupted``, ``verify()``
names its position, and damage at the end stops appends instead of being cut off.
``flock`` needs a local file system (Linux; not NFS or SMB). See docs/backends.md.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import threading
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from itertools import accumulate, count
from operator import add
from typing import Any
from urllib.parse import quote

from eventreg.backends.file_lines import (
    batch_lines,
    create_empty,
    decode_block,
    eventreg_version,
    line_problem,
    line_stream_id,
    lines_to_come,
    raise_after,
    sync_path,
    write_atomically,
)
from eventreg.config import no_registry
from eventreg.errors import (
    ConfigurationError,
    InvalidEvent,
    LogCorrupted,
    NotAnEventLog,
    ReadOnlyError,
    SchemaVersionError,
)
from eventreg.log import (
    GENESIS_HASH,
    BaseLog,
    Head,
    PendingEvent,
    Prepared,
    RecordedEvent,
    Snapshot,
    check_expected_version,
    decode_json,
    now,
    seal,
)

logger = logging.getLogger(__name__)

FORMAT_NAME = "eventreg-file-log"
FORMAT_VERSION = 1
MARKER = "eventreg-log.json"
EVENTS = "events.jsonl"
SNAPSHOTS = "snapshots"
CHECKPOINTS = "checkpoints"
OPTIONS = ("actor", "read_only")

_SCAN_CHUNK = 1 << 20  # bytes read per system call when indexing
_READ_CHUNK = 64 << 10  # ... when decoding: small blocks keep the garbage collector's work small
_SNAPSHOT_NAME = re.compile(r"(\d{20})-(\d{8}T\d{12}Z)\.snapshot")
_STREAM_ID = re.compile(rb'\n\{"position":\d+,"stream_id":"([^"\\\n]*)"')  # at a line's start
MORE_KEY = b',"more":'


class FileLog(BaseLog):
    """
    An event log in a folder of JSON lines, shared safely by processes on one machine.

    Args:
        path: the folder; created (with its parents) when missing.
        actor: the default actor of appended events.
        read_only: open a view that reads (and follows others' appends) but never writes;
            the folder must already hold a log.

    Raises:
        NotAnEventLog: the folder holds other files and no eventreg marker, or a marker
            of another format, or the path is a file.
        SchemaVersionError: the log was written in a newer format than this eventreg reads.
    """

    supports_concurrent_writers = True
    shared_between_processes = True
    persistent = True

    def __init__(self, path: str, *, actor: str | None = None, read_only: bool = False) -> None:
        self.path = os.path.abspath(os.path.expanduser(path))
        self.url = "file://" + self.path
        self.default_actor = actor
        self.read_only = bool(read_only)
        self._events_path = os.path.join(self.path, EVENTS)
        self._lock = threading.RLock()
        self._dir_fd = self._read_fd = self._write_fd = -1
        self._epoch = 0  # changes whenever _read_fd does (reopen, close)
        self._closed = False
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        self._watch_forks()

    def _fork_locks(self) -> list[Any]:
        return [self._lock]

    def _after_fork(self) -> None:
        # the folder's flock belongs to an open file description the child shares with
        # its parent: _flock opens the folder anew (it sees the pid change)
        self._lock = threading.RLock()

    @classmethod
    def from_url(cls, url: str, *, create: bool = True, **options: Any) -> FileLog:
        """
        Open ``file:///abs/dir`` or ``file://./rel/dir`` (relative to the current directory).

        Raises:
            ConfigurationError: no folder in the URL, or an option this backend lacks.
            RegistryNotFound: ``create=False`` and the folder holds no log (or is missing).
        """
        rest = url.split("://", 1)[1]
        if rest.startswith("localhost/"):
            rest = rest[len("localhost"):]
        if not rest:
            raise ConfigurationError(
                f"{url!r} names no folder (expected file:///abs/dir or file://./rel/dir)"
            )
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ConfigurationError(
                f"unknown option {', '.join(unknown)} for a file:// log (known: {', '.join(OPTIONS)})"
            )
        if not create:
            path = os.path.abspath(os.path.expanduser(rest))
            if not os.path.isfile(os.path.join(path, MARKER)) and (not os.path.isdir(path) or not os.listdir(path)):
                raise no_registry(url)  # a folder of other files is NotAnEventLog, as ever
        return cls(rest, **options)

    # -- opening ----------------------------------------------------------------------

    def _open(self) -> None:
        path = self.path
        if os.path.exists(path) and not os.path.isdir(path):
            raise NotAnEventLog(f"{path} is a file, not an eventreg file-log folder")
        marker = os.path.join(path, MARKER)
        created = False
        if self.read_only:
            if not os.path.isfile(marker):
                raise NotAnEventLog(f"no eventreg file log at {path} (it has no {MARKER})")
        elif not os.path.isdir(path):
            os.makedirs(path, exist_ok=True)
            created = True
        self._dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._pid = os.getpid()
        if not os.path.isfile(marker):
            with self._flock(fcntl.LOCK_EX):
                if not os.path.isfile(marker):  # another process may have beaten us to it
                    self._initialise(created)
        self._check_marker(marker)
        if not os.path.isfile(self._events_path):
            if self.read_only:
                raise LogCorrupted(f"{path} has a {MARKER} but no {EVENTS}")
            with self._flock(fcntl.LOCK_EX):
                create_empty(self._events_path)
                os.fsync(self._dir_fd)
        self._open_events()
        self._refresh()

    def _initialise(self, created: bool) -> None:
        """
        Make an empty (or just created) folder a log: the marker first, then the events file.
        """
        others = sorted(name for name in os.listdir(self.path) if not name.startswith("."))
        if others:
            raise NotAnEventLog(
                f"{self.path} is not an eventreg file log: it holds other files "
                f"({', '.join(others[:3])}{' ...' if len(others) > 3 else ''}) and no {MARKER}"
            )
        marker = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                  "created_by": f"eventreg {eventreg_version()}"}
        write_atomically(os.path.join(self.path, MARKER),
                          (json.dumps(marker, indent=2) + "\n").encode(), fsync_dir=False)
        create_empty(self._events_path)
        os.fsync(self._dir_fd)
        if created:
            sync_path(os.path.dirname(self.path))

    def _check_marker(self, marker: str) -> None:
        try:
            with open(marker, "rb") as f:
                info = json.loads(f.read())
        except ValueError:
            info = None
        if not isinstance(info, dict) or info.get("format") != FORMAT_NAME:
            raise NotAnEventLog(f"{self.path} is not an eventreg file log: {marker} is not its marker")
        version = info.get("format_version")
        if type(version) is not int or version < 1:
            raise NotAnEventLog(f"{marker} has no valid format_version ({version!r})")
        if version > FORMAT_VERSION:
            raise SchemaVersionError(
                f"{self.path} is in file-log format {version} (written by "
                f"{info.get('created_by', 'a newer eventreg')}); eventreg {eventreg_version()} "
                f"reads format {FORMAT_VERSION} and older: upgrade eventreg to open it"
            )

    def _open_events(self) -> None:
        """
        (Re)open events.jsonl for reading and forget everything known about it.
        """
        for fd in (self._read_fd, self._write_fd):
            if fd >= 0:
                os.close(fd)
        self._read_fd = self._write_fd = -1
        self._epoch += 1
        self._read_fd = os.open(self._events_path, os.O_RDONLY | os.O_CLOEXEC)
        self._ino = os.fstat(self._read_fd).st_ino
        self._offsets = array("q")  # byte offset where each committed line starts
        self._streams: dict[str, list[int]] = {}  # stream id -> indexes of its lines
        self._indexed = 0  # lines taken into _streams so far
        self._end = 0  # byte offset just after the last complete batch
        self._head = (0, Head(0, GENESIS_HASH))  # (the _end it belongs to, head)
        self._tail_stat: tuple[int, int, int] | None = None  # file state the tail was judged at
        self._torn = 0  # bytes after _end left by an interrupted append
        self._damage: str | None = None  # why the bytes after _end cannot be read

    # -- catching up with the file ------------------------------------------------------

    @contextmanager
    def _flock(self, mode: int) -> Iterator[None]:
        if self._pid != os.getpid():  # a forked child shares the parent's lock: take its own
            self._dir_fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            self._pid = os.getpid()
        fcntl.flock(self._dir_fd, mode)
        try:
            yield
        finally:
            fcntl.flock(self._dir_fd, fcntl.LOCK_UN)

    def _refresh(self, locked: bool = False) -> None:
        """
        Take in the batches other processes appended since we last looked.

        Cheap when nothing changed (one ``stat``). New bytes are read under a shared
        lock unless the caller holds the exclusive one (``locked``), so what is judged
        torn is never a write in progress.
        """
        if self._closed:
            raise ValueError(f"{self.url} is closed")
        try:
            st = os.stat(self._events_path)
        except FileNotFoundError:
            raise LogCorrupted(f"{self._events_path} has disappeared") from None
        if st.st_ino == self._ino and st.st_size == self._end:
            self._torn, self._damage = 0, None
            return
        if not locked:
            with self._flock(fcntl.LOCK_SH):
                return self._refresh(locked=True)
        if st.st_ino != self._ino or st.st_size < self._end:
            # replaced or cut below what we had read (a checkout of another version): start over
            logger.warning("file log %s: %s was replaced; reading it again", self.path, EVENTS)
            self._open_events()
            st = os.fstat(self._read_fd)
        if (st.st_ino, st.st_size, st.st_mtime_ns) != self._tail_stat:
            self._scan(st.st_size)
            self._tail_stat = (st.st_ino, st.st_size, st.st_mtime_ns)

    def _scan(self, size: int) -> None:
        """
        Take in the complete batches between ``_end`` and ``size``; judge what follows them.

        Only line boundaries and the end of each batch are looked at here (a C-speed split
        and one look at the last lines of a block); which stream each line belongs to is
        worked out later, when first needed, by :meth:`_stream_index`.
        """
        fd, offsets = self._read_fd, self._offsets
        base = read_at = committed = self._end
        buf = b""
        pending = array("q")  # starts of complete lines after the last line that ends a batch
        while read_at < size:
            data = os.pread(fd, min(_SCAN_CHUNK, size - read_at), read_at)
            if not data:
                break
            read_at += len(data)
            buf = buf + data if buf else data
            cut = buf.rfind(b"\n") + 1
            if not cut:
                continue
            lines = buf[:cut].split(b"\n")
            lines.pop()
            # start of line i = base + (lengths of the lines before it) + i newlines
            starts = array("q", map(add, accumulate(map(len, lines[:-1]), initial=base), count()))
            last = len(lines) - 1
            while last >= 0 and lines_to_come(lines[last]) != 0:
                last -= 1
            if last >= 0:
                offsets.extend(pending)
                offsets.extend(starts[:last + 1])
                pending = starts[last + 1:]
                committed = starts[last] + len(lines[last]) + 1
            else:
                pending.extend(starts)
            base += cut
            buf = buf[cut:]
        self._end = committed
        self._torn, self._damage = 0, None
        if committed == size:
            return
        bad = self._judge_tail(committed, base)
        if bad is None:
            self._torn = size - committed
            logger.warning(
                "file log %s: ignoring %d bytes after position %d left by an interrupted "
                "append (a torn tail); the next append removes them",
                self.path, self._torn, self._current_head().position,
            )
        else:
            self._damage = (
                f"{self._events_path}: {bad}; the log cannot be read past position "
                f"{self._current_head().position}"
            )
            logger.error("file log %s", self._damage)

    def _stream_index(self) -> dict[str, list[int]]:
        """
        Stream id -> indexes of its lines, brought up to date with the committed lines.
        """
        offsets, streams = self._offsets, self._streams
        count_, i = len(offsets), self._indexed
        while i < count_:
            j = bisect_left(offsets, offsets[i] + _SCAN_CHUNK, i + 1, count_)
            begin, end = offsets[i], (offsets[j] if j < count_ else self._end)
            block = os.pread(self._read_fd, end - begin, begin)
            found = _STREAM_ID.findall(b"\n" + block)
            try:
                if len(found) != j - i:
                    raise UnicodeError
                keys = [sid.decode() for sid in found]
            except UnicodeError:  # some line is laid out otherwise: one at a time
                keys = [line_stream_id(line) for line in block.split(b"\n")[:-1]]
            for index, key in enumerate(keys, i):
                known = streams.get(key)
                if known is None:
                    if key is not None:  # an unreadable line: read_all reports it
                        streams[key] = [index]
                else:
                    known.append(index)
            i = j
        self._indexed = count_
        return streams

    def _judge_tail(self, start: int, end: int) -> str | None:
        """
        None when the complete lines in ``[start, end)`` are the start of one batch, as an
        interrupted append leaves them; else what is wrong with them.
        """
        data = os.pread(self._read_fd, end - start, start) if end > start else b""
        expected = self._current_head().position + 1
        previous_more = None
        for number, line in enumerate(data.split(b"\n")[:-1], start=len(self._offsets) + 1):
            try:
                doc = decode_json(line)
                more, position = doc.get("more"), doc.get("position")
            except (ValueError, AttributeError):
                return f"line {number} is not an event"
            if position != expected or type(more) is not int or more < 1 or (
                previous_more is not None and more != previous_more - 1
            ):
                return f"line {number} (position {position!r}) does not continue the log"
            expected, previous_more = expected + 1, more
        return None

    def _current_head(self) -> Head:
        end, head = self._head
        if end == self._end:
            return head
        start = self._offsets[-1]
        try:
            doc = decode_json(os.pread(self._read_fd, self._end - start, start))
            head = Head(doc["position"], doc["hash"])
            if type(head.position) is not int or not isinstance(head.hash, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise LogCorrupted(
                f"{self._events_path}: the last line ({len(self._offsets)}) is not a valid event"
            ) from None
        self._head = (self._end, head)
        return head

    # -- writing ------------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """
        Hold the log exclusively, caught up, with any torn tail cut off.
        """
        with self._lock:
            self._check_writable()
            with self._flock(fcntl.LOCK_EX):
                self._refresh(locked=True)
                if self._damage:
                    raise LogCorrupted(f"{self._damage}: not appending to a damaged log")
                if self._write_fd < 0:
                    self._write_fd = os.open(self._events_path, os.O_WRONLY | os.O_CLOEXEC)
                if self._torn:
                    logger.info("file log %s: removing a torn tail of %d bytes", self.path, self._torn)
                    os.ftruncate(self._write_fd, self._end)
                    os.fdatasync(self._write_fd)
                    self._torn = 0
                yield
                self._tail_stat = None

    def _append(self, stream_id: str, pending: list[PendingEvent], expected_version: Any) -> list[RecordedEvent]:
        with self._writing():
            version = len(self._stream_index().get(stream_id, ()))
            check_expected_version(stream_id, expected_version, version)
            head = self._current_head()
            sealed = seal(stream_id, pending, first_position=head.position + 1,
                          first_stream_version=version + 1, prev_hash=head.hash, recorded_at=now())
            self._write(sealed)
        return [item.event for item in sealed]

    def _import(self, batch: list[Prepared]) -> None:
        with self._writing():
            head = self._current_head()
            first = batch[0].event
            if first.position != head.position + 1 or first.prev_hash != head.hash:
                raise InvalidEvent(
                    f"event at position {first.position} does not continue this log "
                    f"(its head is {head.position}, another writer appended meanwhile?)"
                )
            self._write(batch)

    def _write(self, sealed: list[Prepared]) -> None:
        """
        Append one batch at ``_end``, durably, and index it; on failure leave no trace.
        """
        lines = batch_lines(sealed)
        data = b"".join(lines)
        start = self._end
        try:
            written = 0
            while written < len(data):
                written += os.pwrite(self._write_fd, data[written:] if written else data, start + written)
            os.fdatasync(self._write_fd)
        except BaseException:
            try:
                os.ftruncate(self._write_fd, start)
            except OSError:  # the next writer sees a torn tail and cuts it
                pass
            raise
        offsets, streams = self._offsets, self._streams
        in_step = self._indexed == len(offsets)  # else _stream_index reads these lines later
        offset = start
        for item, line in zip(sealed, lines):
            if in_step:
                streams.setdefault(item.event.stream_id, []).append(len(offsets))
            offsets.append(offset)
            offset += len(line)
        if in_step:
            self._indexed = len(offsets)
        self._end = offset
        last = sealed[-1].event
        self._head = (offset, Head(last.position, last.hash))

    # -- reading ------------------------------------------------------------------------

    def read_all(self, from_position: int = 1, limit: int | None = None) -> Iterator[RecordedEvent]:
        """
        The events from ``from_position`` on, in global order, read lazily in large blocks.

        Raises:
            LogCorrupted: (while iterating) a stored line is not a valid event; the
                events before it are yielded first.
        """
        with self._lock:
            self._refresh()
            count = len(self._offsets)
            first = max(from_position, 1) - 1
            stop = count if limit is None else min(count, first + max(limit, 0))
            damage = self._damage if stop == count else None
            if first >= stop:
                return raise_after((), damage)
            begin = self._offsets[first]
            end = self._offsets[stop] if stop < count else self._end
            return raise_after(self._read_span(begin, end, first + 1), damage)

    def read_stream(self, stream_id: str, from_version: int = 1,
                    to_version: int | None = None) -> list[RecordedEvent]:
        """
        The events of one stream from ``from_version`` on (to ``to_version``, included, if given).
        """
        with self._lock:
            self._refresh()
            if self._damage:
                raise LogCorrupted(self._damage)
            indexes = self._stream_index().get(stream_id, [])[max(from_version, 1) - 1:
                                                              None if to_version is None else max(to_version, 0)]
            offsets, count = self._offsets, len(self._offsets)
            spans: list[list[int]] = []  # [begin, end, first line number] of adjacent lines
            for i in indexes:
                begin = offsets[i]
                end = offsets[i + 1] if i + 1 < count else self._end
                if spans and spans[-1][1] == begin:
                    spans[-1][1] = end
                else:
                    spans.append([begin, end, i + 1])
            out: list[RecordedEvent] = []
            for begin, end, number in spans:
                out.extend(self._read_span(begin, end, number))
            return out

    def _read_span(self, begin: int, end: int, number: int) -> Iterator[RecordedEvent]:
        """
        Decode the committed lines in ``[begin, end)``; ``number`` is the first one's line number.
        """
        epoch, fd = self._epoch, self._read_fd
        rest = b""
        while begin < end:
            if self._epoch != epoch:
                raise LogCorrupted(f"{self.url} was closed or its {EVENTS} replaced while being read")
            data = os.pread(fd, min(_READ_CHUNK, end - begin), begin)
            if not data:
                raise LogCorrupted(f"{self._events_path} became shorter while being read")
            begin += len(data)
            if rest:
                data = rest + data
            cut = data.rfind(b"\n") + 1
            if not cut:
                rest = data
                continue
            rest = data[cut:]
            block = data[:cut]
            events = decode_block(block)
            if events is None:  # yield the good lines before the bad one, then say where it is
                for line in block.split(b"\n")[:-1]:
                    event = decode_block(line + b"\n")
                    if event is None:
                        raise LogCorrupted(f"{self._events_path}: line {number} {line_problem(line)}")
                    number += 1
                    yield event[0]
                continue
            number += len(events)
            yield from events

    def stream_version(self, stream_id: str) -> int:
        with self._lock:
            self._refresh()
            return len(self._stream_index().get(stream_id, ()))

    def head(self) -> Head:
        with self._lock:
            self._refresh()
            return self._current_head()

    # -- snapshots and checkpoints ------------------------------------------------------

    def save_snapshot(self, position: int, data: bytes) -> None:
        """
        Store ``data`` as valid at ``position`` (a new file; earlier snapshots are kept).
        """
        if type(position) is not int or position < 0:
            raise InvalidEvent(f"snapshot position must be an int >= 0, not {position!r}")
        self._check_writable()
        created = now().strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{position:020d}-{created}.snapshot"
        write_atomically(os.path.join(self.path, SNAPSHOTS, name), bytes(data))

    def latest_snapshot(self) -> Snapshot | None:
        """
        The snapshot with the highest position (the newest of those), or None.
        """
        return self.snapshot_at(None)

    def snapshot_at(self, position: int | None) -> Snapshot | None:
        """
        The snapshot with the highest position at or before ``position`` (None: any), the
        newest of those, or None.
        """
        folder = os.path.join(self.path, SNAPSHOTS)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return None
        found = [m for m in map(_SNAPSHOT_NAME.fullmatch, names)
                 if m and (position is None or int(m.group(1)) <= position)]
        if not found:
            return None
        best = max(found, key=lambda m: (int(m.group(1)), m.group(2)))
        with open(os.path.join(folder, best.group(0)), "rb") as f:
            data = f.read()
        created = datetime.strptime(best.group(2), "%Y%m%dT%H%M%S%fZ").replace(tzinfo=timezone.utc)
        return Snapshot(int(best.group(1)), data, created)

    def get_checkpoint(self, consumer: str) -> int:
        """
        The position ``consumer`` recorded last, or 0.
        """
        path = self._checkpoint_path(consumer)
        try:
            with open(path, "rb") as f:
                doc = json.loads(f.read())
        except FileNotFoundError:
            return 0
        except ValueError:
            raise LogCorrupted(f"checkpoint file {path} is not JSON") from None
        position = doc.get("position") if isinstance(doc, dict) else None
        if type(position) is not int:
            raise LogCorrupted(f"checkpoint file {path} holds no position")
        return position

    def set_checkpoint(self, consumer: str, position: int) -> None:
        """
        Record ``position`` for ``consumer`` (an atomic replace of its small file).
        """
        if type(position) is not int or position < 0:
            raise InvalidEvent(f"checkpoint position must be an int >= 0, not {position!r}")
        path = self._checkpoint_path(consumer)
        self._check_writable()
        text = json.dumps({"consumer": consumer, "position": position}, ensure_ascii=False) + "\n"
        write_atomically(path, text.encode())

    def _checkpoint_path(self, consumer: str) -> str:
        if not isinstance(consumer, str) or not consumer:
            raise InvalidEvent(f"a checkpoint's consumer must be a non-empty string, not {consumer!r}")
        name = quote(consumer, safe="")
        if name.startswith("."):
            name = "%2E" + name[1:]
        if len(name) > 200:
            name = "sha256-" + hashlib.sha256(consumer.encode("utf-8", "surrogatepass")).hexdigest()
        return os.path.join(self.path, CHECKPOINTS, name + ".json")

    def _check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError(f"{self.url} was opened read_only=True")
        if self._closed:
            raise ValueError(f"{self.url} is closed")

    # -- closing ------------------------------------------------------------------------

    def close(self) -> None:
        """
        Release the files; safe to call twice.
        """
        with self._lock:
            self._closed = True
            self._epoch += 1
            for name in ("_write_fd", "_read_fd", "_dir_fd"):
                fd = getattr(self, name)
                if fd >= 0:
                    setattr(self, name, -1)
                    os.close(fd)

    def __del__(self) -> None:
        if getattr(self, "_lock", None) is not None and not getattr(self, "_closed", True):
            with suppress(Exception):  # at interpreter exit the os module may be gone
                self.close()
