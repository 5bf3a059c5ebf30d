"""
A compact, fast snapshot codec for the projection (:class:`~eventreg.domain.state.RegistryState`).

The generic codec in :mod:`eventreg.domain.state` (``dump_state``/``load_state``) goes
through cattrs and writes every object as a JSON object with its field names; loading a
projection of a million events that way takes many seconds. This one writes each object
as a JSON array in a fixed field order (a metric as the row of its summary: the points
themselves stay in the log, so a snapshot does not grow with them), and builds the objects
with hand-written loops. It stays JSON (never pickle: a forged snapshot must not be able to
run code) and compressed.

A snapshot is trusted only if its format, the code version that wrote it and the field
layout of every state class all equal this process's; otherwise :func:`load` returns
None and the caller rebuilds from the log. The caller still checks that the snapshot's
position and hash match the log (as ``Registry._load_snapshot`` does).
"""

from __future__ import annotations

import functools
import json
import threading
import zlib
from sys import intern
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import attrs

from eventreg.domain.codec import converter
from eventreg.domain.events import ArtifactEntry, MetricPoint
from eventreg.domain.governance_state import GovernanceState
from eventreg.domain.entities import (
    Alias,
    NO_STEP,
    ExperimentState,
    MetricStats,
    ModelState,
    RegistryState,
    RunState,
    VersionState,
)
from eventreg.domain.state import STATE_FORMAT, bulk
from eventreg.errors import LogCorrupted
from eventreg.log import format_timestamp, parse_timestamp
from eventreg.log_encoding import decode_json

#: Version of this codec's layout; a snapshot of another version is rebuilt.
FORMAT = "eventreg-fast-snapshot/6"
#: The ``format`` a ``projection.snapshot_saved`` event records for this codec's snapshots
#: (1 is :func:`eventreg.domain.state.dump_state`'s, 2 this codec's earlier single-document
#: one, 3 this one's with every metric point inside).
EVENT_FORMAT = 4
#: What a snapshot of this codec starts with; then the compressed header's length (8 bytes,
#: little-endian), the compressed header, and the chunks it locates.
MAGIC = b"eventreg-snapshot/6\n"
#: Most versions (of one model) or runs stored in one chunk. A chunk is decompressed and
#: decoded as a whole the first time one of its records is read.
CHUNK = 256

_CLASSES = (RegistryState, ModelState, VersionState, RunState, ExperimentState, Alias, MetricPoint, ArtifactEntry)
#: The field names of every class, in order: part of the header, so a state class that
#: gained, lost or reordered a field makes old snapshots untrusted.
LAYOUT = {cls.__name__: [f.name for f in attrs.fields(cls)] for cls in _CLASSES}
LAYOUT["MetricStats"] = list(MetricStats.__slots__)
LAYOUT["GovernanceState"] = [f.name for f in attrs.fields(GovernanceState)]

_V = LAYOUT["VersionState"]
_R = LAYOUT["RunState"]
_M = LAYOUT["ModelState"]
_A = LAYOUT["Alias"]
_E = LAYOUT["ExperimentState"]
_TIME_FIELDS = {"created_at", "updated_at", "started_at", "ended_at", "at"}
_LENGTH = len(MAGIC) + 8


def dump(state: RegistryState, code_version: str) -> bytes:
    """
    The projection as compressed snapshot bytes.

    Chunks of a loaded snapshot whose records were never read since are written again
    as they are (neither decoded nor encoded).
    """
    chunks = _ChunkWriter()
    header = {
        "format": FORMAT,
        "code_version": code_version,
        "layout": LAYOUT,
        "position": state.position,
        "hash": state.last_hash,
        "models": [_dump_model(m, chunks) for m in state.models.values()],
        "runs": _dump_table(state.runs, _dump_run, chunks),
        "experiments": [[_plain(e, n) for n in _E] for e in state.experiments.values()],
        "streams": [list(state.streams), list(state.streams.values())],
        "governance": converter.unstructure(state.governance),
        "chunks": chunks.table,
    }
    head = _compress(header)
    return b"".join([MAGIC, len(head).to_bytes(8, "little"), head, *chunks.parts])


def load(data: bytes, code_version: str) -> RegistryState | None:
    """
    The projection in snapshot bytes, or None when they are of another format, code
    version or layout, or unreadable (the caller then rebuilds from the log).

    Only the header is decoded here: models, aliases, experiments and stream versions.
    Each model's versions and the runs are :class:`LazyDict` tables whose records are
    decoded, a chunk at a time, when first read, so opening a registry of a million
    events does not build a hundred thousand records it may never be asked about. The
    caller must have checked the bytes' sha256 against the log (as
    :func:`eventreg.timetravel.load_trusted_snapshot` does): a chunk found damaged later
    raises :class:`~eventreg.errors.LogCorrupted`.

    Reads, as well, what ``state.dump_state`` writes, so a registry can switch codecs
    without losing its snapshots.
    """
    with bulk():
        return _load(data, code_version)


def _load(data: bytes, code_version: str) -> RegistryState | None:
    try:
        if not data.startswith(MAGIC):
            document = json.loads(zlib.decompress(data))
            if isinstance(document, dict) and document.get("format") == STATE_FORMAT:
                return _load_generic(document, code_version)
            return None
        size = int.from_bytes(data[len(MAGIC):_LENGTH], "little")
        header = decode_json(zlib.decompress(data[_LENGTH:_LENGTH + size]))
        if (not isinstance(header, dict) or header.get("format") != FORMAT
                or header.get("code_version") != code_version or header.get("layout") != LAYOUT):
            return None
        base = _LENGTH + size
        chunks = []
        for offset, length in header["chunks"]:
            if not (isinstance(offset, int) and isinstance(length, int) and 0 <= offset
                    and 0 < length and base + offset + length <= len(data)):
                raise ValueError("a chunk lies outside the snapshot")
            chunks.append(data[base + offset:base + offset + length])
        models = {}
        for row in header["models"]:
            model = _load_model(row, chunks)
            models[model.name] = model
        experiments = {}
        for row in header["experiments"]:
            values = dict(zip(_E, row))
            values["created_at"] = parse_timestamp(values["created_at"])
            if values.get("updated_at") is not None:
                values["updated_at"] = parse_timestamp(values["updated_at"])
            experiments[values["name"]] = ExperimentState(**values)
        ids, versions = header["streams"]
        return RegistryState(position=header["position"], last_hash=header["hash"], models=models,
                             runs=_table(header["runs"], chunks, _decode_runs), experiments=experiments,
                             streams=dict(zip(ids, versions)),
                             governance=converter.structure(header["governance"], GovernanceState))
    except Exception:  # damaged or forged: never trusted, rebuilt from the log
        return None


class _Chunk:
    """
    Records of a snapshot not decoded yet: their keys, in order, and the compressed bytes.
    """

    __slots__ = ("keys", "data", "decode")

    def __init__(self, keys: list[Any], data: bytes | None,
                 decode: Callable[[bytes, list[Any]], list[Any]]) -> None:
        self.keys = keys
        self.data = data  # None once decoded
        self.decode = decode


class LazyDict(dict):  # type: ignore[type-arg]
    """
    A dict some of whose entries are still undecoded chunks of a snapshot.

    Reading an entry (``d[k]``, ``d.get(k)``) decodes the chunk that holds it; ``len``
    and ``in`` answer without decoding; anything that walks the whole table (iteration,
    ``keys``/``values``/``items``, ``==``, ``repr``, copies) first decodes every chunk
    and restores the snapshot's order, after which it is an ordinary dict (an entry
    already decoded is read at dict speed). Decoding takes a lock, so threads sharing a
    projection never build one record twice.
    """

    __slots__ = ("_pending", "_chunks", "_lock")

    def __init__(self, chunks: list[_Chunk]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = {key: chunk for chunk in chunks for key in chunk.keys}
        self._lock = threading.RLock()

    def _decode(self, chunk: _Chunk) -> None:
        with self._lock, bulk():  # the collector would walk the whole projection for nothing
            data = chunk.data
            if data is None:
                return  # another thread got there first
            try:
                values = chunk.decode(data, chunk.keys)
            except Exception as e:
                raise LogCorrupted(f"a chunk of the projection snapshot cannot be decoded ({e}); the log itself "
                                   "is not affected: open it with snapshot_every=0 and report this") from e
            pending = self._pending
            for key, value in zip(chunk.keys, values):
                if pending.get(key) is chunk:
                    dict.__setitem__(self, key, value)
                    del pending[key]
            chunk.data = None

    def _settle(self) -> None:
        """
        Decode every chunk left and put the entries in the snapshot's order (then the
        ones added since), as a dict built by folding the log would have them.
        """
        if self._chunks is None:
            return
        with bulk(), self._lock:
            chunks = self._chunks
            if chunks is None:
                return  # another thread settled it
            for chunk in chunks:
                if chunk.data is not None:
                    self._decode(chunk)
            entries = dict(dict.items(self))
            ordered = {key: entries.pop(key) for chunk in chunks for key in chunk.keys if key in entries}
            dict.clear(self)
            dict.update(self, ordered)
            dict.update(self, entries)
            self._chunks = None  # last: until then, a reader that misses waits for the lock

    def parts(self) -> Iterator[_Chunk | tuple[Any, Any]]:
        """
        The entries in order, each still undecoded chunk as itself (for :func:`dump`).
        """
        with self._lock:
            chunks = self._chunks
            if chunks is None:
                yield from dict.items(self)
                return
            seen = set()
            for chunk in chunks:
                if chunk.data is not None:
                    yield chunk
                else:
                    for key in chunk.keys:
                        if dict.__contains__(self, key):
                            seen.add(key)
                            yield key, dict.__getitem__(self, key)
            for key, value in dict.items(self):
                if key not in seen:
                    yield key, value

    def __missing__(self, key: Any) -> Any:
        chunk = self._pending.get(key)
        if chunk is not None:
            self._decode(chunk)
        elif self._chunks is not None:
            with self._lock:  # another thread may be putting the entries in order
                pass
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        raise KeyError(key)

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key) or key in self._pending:
            return True
        if self._chunks is None:
            return False
        with self._lock:
            return dict.__contains__(self, key) or key in self._pending

    def __len__(self) -> int:
        if self._chunks is None:
            return dict.__len__(self)
        with self._lock:
            return dict.__len__(self) + len(self._pending)

    def __setitem__(self, key: Any, value: Any) -> None:
        chunk = self._pending.get(key)
        if chunk is not None:
            self._decode(chunk)
        dict.__setitem__(self, key, value)

    def __eq__(self, other: object) -> bool:
        self._settle()
        if isinstance(other, LazyDict):
            other._settle()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None  # type: ignore[assignment]

    def __reduce_ex__(self, protocol: Any) -> Any:
        self._settle()
        return dict, (dict.copy(self),)


def _settled(name: str) -> Callable[..., Any]:
    method = getattr(dict, name)

    def settled(self: LazyDict, *args: Any, **kwargs: Any) -> Any:
        self._settle()
        return method(self, *args, **kwargs)

    settled.__name__ = name
    return settled


for _name in ("__iter__", "__reversed__", "__repr__", "__delitem__", "__or__", "__ror__", "__ior__", "keys",
              "values", "items", "pop", "popitem", "setdefault", "update", "clear", "copy"):
    setattr(LazyDict, _name, _settled(_name))


def _table(segments: list[Any], chunks: list[bytes],
           decode: Callable[[bytes, list[Any]], list[Any]]) -> dict[Any, Any]:
    if not segments:
        return {}
    return LazyDict([_Chunk(keys, chunks[index], decode) for index, keys in segments])


def _load_generic(document: dict[str, Any], code_version: str) -> RegistryState | None:
    """
    A snapshot written by :func:`eventreg.domain.state.dump_state` (same checks as ``load_state``).
    """
    if document.get("code_version") != code_version:
        return None
    state = converter.structure(document["state"], RegistryState)
    if state.position != document.get("position") or state.last_hash != document.get("hash"):
        return None
    return state


# -- encoding ------------------------------------------------------------------------------


def _plain(obj: Any, name: str) -> Any:
    value = getattr(obj, name)
    if name in _TIME_FIELDS:
        return None if value is None else format_timestamp(value)
    return value


def _summaries(summaries: dict[str, MetricStats]) -> list[Any]:
    return [[key, *stats._row()] for key, stats in summaries.items()]


def _artifacts(artifacts: dict[str, ArtifactEntry]) -> list[Any]:
    return [[path, entry.sha256, entry.size] for path, entry in artifacts.items()]


def _dump_version(v: VersionState) -> list[Any]:
    out = []
    for name in _V:
        if name == "metric_summaries":
            out.append(_summaries(v.metric_summaries))
        elif name == "artifacts":
            out.append(_artifacts(v.artifacts))
        elif name == "parents":
            out.append(list(v.parents))
        else:
            out.append(_plain(v, name))
    return out


def _dump_run(r: RunState) -> list[Any]:
    out = []
    for name in _R:
        if name == "metric_summaries":
            out.append(_summaries(r.metric_summaries))
        elif name == "artifacts":
            out.append(_artifacts(r.artifacts))
        else:
            out.append(_plain(r, name))
    return out


def _dump_model(m: ModelState, chunks: _ChunkWriter) -> list[Any]:
    out = []
    for name in _M:
        if name == "versions":
            out.append(_dump_table(m.versions, _dump_version, chunks))
        elif name == "alias_history":
            out.append([[alias, [[_plain(a, n) for n in _A] for a in moves]]
                        for alias, moves in m.alias_history.items()])
        else:
            out.append(_plain(m, name))
    return out


class _ChunkWriter:
    """
    The chunks of a snapshot being written, and their table (offset, length).
    """

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.table: list[list[int]] = []
        self.size = 0

    def add(self, data: bytes) -> int:
        self.table.append([self.size, len(data)])
        self.parts.append(data)
        self.size += len(data)
        return len(self.table) - 1

    def encode(self, values: list[Any], encode: Callable[[Any], list[Any]]) -> int:
        return self.add(_compress([encode(value) for value in values]))


def _dump_table(table: dict[Any, Any], encode: Callable[[Any], list[Any]],
                chunks: _ChunkWriter) -> list[Any]:
    """
    ``[[chunk index, [key, ...]], ...]``: the table's records in chunks of at most
    :data:`CHUNK`, in its order; a chunk loaded and never decoded is copied as it is.
    """
    segments: list[Any] = []
    keys: list[Any] = []
    values: list[Any] = []

    def flush() -> None:
        if keys:
            segments.append([chunks.encode(values, encode), list(keys)])
            keys.clear()
            values.clear()

    for part in table.parts() if isinstance(table, LazyDict) else table.items():
        if isinstance(part, _Chunk):
            flush()
            segments.append([chunks.add(part.data), part.keys])  # type: ignore[arg-type]
        else:
            keys.append(part[0])
            values.append(part[1])
            if len(keys) >= CHUNK:
                flush()
    flush()
    return segments


def _compress(document: Any) -> bytes:
    text = json.dumps(document, allow_nan=True, separators=(",", ":"), ensure_ascii=False)
    return zlib.compress(text.encode("utf-8"), 1)


# -- decoding ------------------------------------------------------------------------------


def _load_summaries(rows: list[Any]) -> dict[str, MetricStats]:
    if rows == []:  # records without metrics: no loop set-up
        return {}
    return {key: _stats(*row) for key, *row in rows}


def _stats(value: float, step: int, stamp: int, low: float, high: float, count: int, last_stamp: int,
           first: int, last: int) -> MetricStats:
    # equal numbers share one object, as the fold's do (a metric of one point: a third the memory)
    return MetricStats(value, NO_STEP if step == NO_STEP else step, stamp, value if low == value else low,
                       value if high == value else high, count, stamp if last_stamp == stamp else last_stamp,
                       first, first if last == first else last)


def _load_artifacts(rows: list[Any]) -> dict[str, ArtifactEntry]:
    if rows == []:
        return {}
    return {path: ArtifactEntry(sha256=sha, size=size) for path, sha, size in rows}


#: records written together (a batch, an import) share their times: one datetime each (immutable)
_shared_time = functools.lru_cache(maxsize=1024)(parse_timestamp)


def _times(created: str, updated: str) -> tuple[datetime, datetime]:
    # most records were never updated: parse once
    first = _shared_time(created)
    return first, (first if updated == created else _shared_time(updated))


#: The decoders below unpack rows by position; they are written for these layouts (a
#: changed state class fails this check at import, so the decoders are updated with it).
_DECODED_LAYOUT = {
    "VersionState": ["model", "version", "label", "description", "params", "metrics", "metric_summaries",
                     "tags", "artifacts", "model_info", "data", "code", "environment", "architecture",
                     "run_id", "parents", "status", "status_reason", "created_at", "updated_at", "actor",
                     "position"],
    "Alias": ["model", "name", "version", "previous", "action", "reason", "forced", "actor", "at", "position"],
    "RunState": ["run_id", "experiment", "name", "status", "error", "params", "metrics", "metric_summaries",
                 "tags", "artifacts", "model_info", "environment", "code", "datasets", "started_at", "ended_at", "actor"],
}
if any(LAYOUT[name] != fields for name, fields in _DECODED_LAYOUT.items()):  # pragma: no cover
    raise ImportError("eventreg.snapshots: the row decoders do not match the state classes' fields")


def _load_version(row: list[Any]) -> VersionState:
    (model, version, label, description, params, metrics, metric_summaries, tags, artifacts, model_info, data,
     code, environment, architecture, run_id, parents, status, status_reason, created_at, updated_at, actor,
     position) = row
    created_at, updated_at = _times(created_at, updated_at)
    return VersionState(
        model=intern(model), version=version, label=label, description=description, params=params, metrics=metrics,
        metric_summaries=_load_summaries(metric_summaries), tags=tags, artifacts=_load_artifacts(artifacts),
        model_info=model_info, data=data, code=code, environment=environment, architecture=architecture,
        run_id=run_id, parents=tuple(parents) if parents else (), status=intern(status),
        status_reason=status_reason, created_at=created_at, updated_at=updated_at,
        actor=None if actor is None else intern(actor), position=position)


def _load_run(row: list[Any]) -> RunState:
    (run_id, experiment, name, status, error, params, metrics, metric_summaries, tags, artifacts, model_info,
     environment, code, datasets, started_at, ended_at, actor) = row
    return RunState(
        run_id=run_id, experiment=experiment, name=name, status=status, error=error, params=params,
        metrics=metrics, metric_summaries=_load_summaries(metric_summaries), tags=tags,
        artifacts=_load_artifacts(artifacts), model_info=model_info, environment=environment, code=code,
        datasets=datasets, started_at=parse_timestamp(started_at), ended_at=None if ended_at is None else parse_timestamp(ended_at), actor=actor)


def _decode_chunk(data: bytes, decode: Callable[[list[Any]], Any]) -> list[Any]:
    return [decode(row) for row in decode_json(zlib.decompress(data))]


def _decode_versions(data: bytes, keys: list[Any]) -> list[VersionState]:
    versions = _decode_chunk(data, _load_version)
    if [v.version for v in versions] != keys:
        raise ValueError("the chunk holds other versions than its keys say")
    return versions


def _decode_runs(data: bytes, keys: list[Any]) -> list[RunState]:
    runs = _decode_chunk(data, _load_run)
    if [r.run_id for r in runs] != keys:
        raise ValueError("the chunk holds other runs than its keys say")
    return runs


def _load_model(row: list[Any], chunks: list[bytes]) -> ModelState:
    values = dict(zip(_M, row))
    values["versions"] = _table(values["versions"], chunks, _decode_versions)
    history = {}
    name = intern(values["name"])
    for alias, moves in values["alias_history"]:
        history[alias] = [
            Alias(model=name, name=alias, version=version, previous=previous, action=intern(action), reason=reason,
                  forced=forced, actor=None if actor is None else intern(actor), at=_shared_time(at),
                  position=position)
            for _, _, version, previous, action, reason, forced, actor, at, position in moves]
    values["alias_history"] = history
    values["created_at"], values["updated_at"] = _times(values["created_at"], values["updated_at"])
    return ModelState(**values)
