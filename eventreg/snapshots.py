"""
A compact, fast snapshot codec for the projection (:class:`~eventreg.domain.state.RegistryState`).

The generic codec in :mod:`eventreg.domain.state` (``dump_state``/``load_state``) goes
through cattrs and writes every object as a JSON object with its field names; loading a
projection of a million events that way takes many seconds. This one writes each object
as a JSON array in a fixed field order, every metric point in three arrays stored as
bytes (base64) that each history slices, and builds the objects with hand-written loops. It stays JSON (never pickle: a forged snapshot must
not be able to run code) and compressed.

A snapshot is trusted only if its format, the code version that wrote it and the field
layout of every state class all equal this process's; otherwise :func:`load` returns
None and the caller rebuilds from the log. The caller still checks that the snapshot's
position and hash match the log (as ``Registry._load_snapshot`` does).
"""

from __future__ import annotations

import base64
import json
import sys
import zlib
from array import array
from datetime import datetime
from typing import Any

import attrs

from eventreg.domain.codec import converter
from eventreg.domain.events import ArtifactEntry, MetricPoint
from eventreg.domain.state import (
    STATE_FORMAT,
    Alias,
    ExperimentState,
    NO_STEP,
    MetricHistory,
    ModelState,
    RegistryState,
    RunState,
    VersionState,
)
from eventreg.log import format_timestamp

#: Version of this codec's layout; a snapshot of another version is rebuilt.
FORMAT = "eventreg-fast-snapshot/3"
#: The ``format`` a ``projection.snapshot_saved`` event records for this codec's snapshots
#: (1 is :func:`eventreg.domain.state.dump_state`'s).
EVENT_FORMAT = 2

_CLASSES = (RegistryState, ModelState, VersionState, RunState, ExperimentState, Alias, MetricPoint, ArtifactEntry)
#: The field names of every class, in order: part of the header, so a state class that
#: gained, lost or reordered a field makes old snapshots untrusted.
LAYOUT = {cls.__name__: [f.name for f in attrs.fields(cls)] for cls in _CLASSES}

_V = LAYOUT["VersionState"]
_R = LAYOUT["RunState"]
_M = LAYOUT["ModelState"]
_A = LAYOUT["Alias"]
_E = LAYOUT["ExperimentState"]
_TIME_FIELDS = {"created_at", "updated_at", "started_at", "ended_at", "at"}
_parse = datetime.fromisoformat  # reads format_timestamp's "...Z" (Python >= 3.11)


def dump(state: RegistryState, code_version: str) -> bytes:
    """
    The projection as compressed snapshot bytes.
    """
    columns = _Columns()
    document = {
        "format": FORMAT,
        "code_version": code_version,
        "layout": LAYOUT,
        "position": state.position,
        "hash": state.last_hash,
        "models": [_dump_model(m, columns) for m in state.models.values()],
        "runs": [_dump_run(r, columns) for r in state.runs.values()],
        "experiments": [[_plain(e, n) for n in _E] for e in state.experiments.values()],
        "streams": [list(state.streams), list(state.streams.values())],
    }
    document["metric_columns"] = [_b64(columns.values), _b64(columns.steps), _b64(columns.stamps)]
    text = json.dumps(document, allow_nan=True, separators=(",", ":"), ensure_ascii=False)
    return zlib.compress(text.encode("utf-8"), 1)


def load(data: bytes, code_version: str) -> RegistryState | None:
    """
    The projection in snapshot bytes, or None when they are of another format, code
    version or layout, or unreadable (the caller then rebuilds from the log).

    Reads this module's format and, as well, what ``state.dump_state`` writes, so a
    registry can switch codecs without losing its snapshots.
    """
    from eventreg.timetravel import bulk

    with bulk():
        return _load(data, code_version)


def _load(data: bytes, code_version: str) -> RegistryState | None:
    try:
        document = json.loads(zlib.decompress(data))
        if isinstance(document, dict) and document.get("format") == STATE_FORMAT:
            return _load_generic(document, code_version)
        if (not isinstance(document, dict) or document.get("format") != FORMAT
                or document.get("code_version") != code_version or document.get("layout") != LAYOUT):
            return None
        columns = _Columns(*(_column(kind, text) for kind, text in zip("dqq", document["metric_columns"])))
        models = {}
        for row in document["models"]:
            model = _load_model(row, columns)
            models[model.name] = model
        runs = {}
        for row in document["runs"]:
            run = _load_run(row, columns)
            runs[run.run_id] = run
        experiments = {}
        for row in document["experiments"]:
            values = dict(zip(_E, row))
            values["created_at"] = _parse(values["created_at"])
            experiments[values["name"]] = ExperimentState(**values)
        ids, versions = document["streams"]
        return RegistryState(position=document["position"], last_hash=document["hash"], models=models,
                             runs=runs, experiments=experiments, streams=dict(zip(ids, versions)))
    except Exception:  # damaged or forged: never trusted, rebuilt from the log
        return None


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


class _Columns:
    """
    Every metric point of a snapshot in three arrays (values, steps, timestamps); each
    history is stored as ``[key, offset, length]`` into them, so a load decodes three
    strings and slices, with no Python object per point.
    """

    def __init__(self, values: array | None = None, steps: array | None = None,
                 stamps: array | None = None) -> None:
        self.values = array("d") if values is None else values
        self.steps = array("q") if steps is None else steps
        self.stamps = array("q") if stamps is None else stamps
        if not len(self.values) == len(self.steps) == len(self.stamps):
            raise ValueError("metric columns of different lengths")


def _history(history: dict[str, MetricHistory], columns: _Columns) -> list[Any]:
    rows = []
    for key, points in history.items():
        rows.append([key, len(columns.values), len(points)])
        columns.values.extend(points.values)
        columns.steps.extend(points.steps)
        columns.stamps.extend(points.stamps)
    return rows


def _b64(column: array) -> str | list[Any]:
    # bytes load without a Python object per point; a few points are smaller as numbers
    if len(column) <= 64:
        return [None if item == NO_STEP and column.typecode == "q" else item for item in column]
    if sys.byteorder == "big":  # stored little-endian on every machine
        column = array(column.typecode, column)
        column.byteswap()
    return base64.b64encode(column.tobytes()).decode("ascii")


def _column(kind: str, stored: str | list[Any]) -> array:
    if isinstance(stored, list):
        return array(kind, [NO_STEP if item is None else item for item in stored])
    column = array(kind)
    column.frombytes(base64.b64decode(stored))
    if sys.byteorder == "big":
        column.byteswap()
    return column


def _artifacts(artifacts: dict[str, ArtifactEntry]) -> list[Any]:
    return [[path, entry.sha256, entry.size] for path, entry in artifacts.items()]


def _dump_version(v: VersionState, columns: _Columns) -> list[Any]:
    out = []
    for name in _V:
        if name == "metric_history":
            out.append(_history(v.metric_history, columns))
        elif name == "artifacts":
            out.append(_artifacts(v.artifacts))
        elif name == "parents":
            out.append(list(v.parents))
        else:
            out.append(_plain(v, name))
    return out


def _dump_run(r: RunState, columns: _Columns) -> list[Any]:
    out = []
    for name in _R:
        if name == "metric_history":
            out.append(_history(r.metric_history, columns))
        elif name == "artifacts":
            out.append(_artifacts(r.artifacts))
        else:
            out.append(_plain(r, name))
    return out


def _dump_model(m: ModelState, columns: _Columns) -> list[Any]:
    out = []
    for name in _M:
        if name == "versions":
            out.append([_dump_version(v, columns) for v in m.versions.values()])
        elif name == "alias_history":
            out.append([[alias, [[_plain(a, n) for n in _A] for a in moves]]
                        for alias, moves in m.alias_history.items()])
        else:
            out.append(_plain(m, name))
    return out


# -- decoding ------------------------------------------------------------------------------


def _load_history(rows: list[Any], columns: _Columns) -> dict[str, MetricHistory]:
    history = {}
    if rows == []:  # most records: no loop set-up (anything else but a list still fails below)
        return history
    values, steps, stamps = columns.values, columns.steps, columns.stamps
    total = len(values)
    for key, offset, length in rows:
        end = offset + length
        if not 0 <= offset <= end <= total:
            raise ValueError(f"metric {key!r} lies outside the snapshot's columns")
        history[key] = MetricHistory(key, values[offset:end], steps[offset:end], stamps[offset:end])
    return history


def _load_artifacts(rows: list[Any]) -> dict[str, ArtifactEntry]:
    if rows == []:
        return {}
    return {path: ArtifactEntry(sha256=sha, size=size) for path, sha, size in rows}


def _times(created: str, updated: str) -> tuple[datetime, datetime]:
    # most records were never updated: parse once (datetimes are immutable)
    first = _parse(created)
    return first, (first if updated == created else _parse(updated))


#: The decoders below unpack rows by position; they are written for these layouts (a
#: changed state class fails this check at import, so the decoders are updated with it).
_DECODED_LAYOUT = {
    "VersionState": ["model", "version", "label", "description", "params", "metrics", "metric_history",
                     "tags", "artifacts", "model_info", "data", "code", "environment", "architecture",
                     "run_id", "parents", "status", "status_reason", "created_at", "updated_at", "actor",
                     "position"],
    "RunState": ["run_id", "experiment", "name", "status", "error", "params", "metrics", "metric_history",
                 "tags", "artifacts", "model_info", "environment", "code", "started_at", "ended_at", "actor"],
}
if any(LAYOUT[name] != fields for name, fields in _DECODED_LAYOUT.items()):  # pragma: no cover
    raise ImportError("eventreg.snapshots: the row decoders do not match the state classes' fields")


def _load_version(row: list[Any], columns: _Columns) -> VersionState:
    (model, version, label, description, params, metrics, metric_history, tags, artifacts, model_info, data,
     code, environment, architecture, run_id, parents, status, status_reason, created_at, updated_at, actor,
     position) = row
    created_at, updated_at = _times(created_at, updated_at)
    return VersionState(
        model=model, version=version, label=label, description=description, params=params, metrics=metrics,
        metric_history=_load_history(metric_history, columns), tags=tags, artifacts=_load_artifacts(artifacts),
        model_info=model_info, data=data, code=code, environment=environment, architecture=architecture,
        run_id=run_id, parents=tuple(parents), status=status, status_reason=status_reason,
        created_at=created_at, updated_at=updated_at, actor=actor, position=position)


def _load_run(row: list[Any], columns: _Columns) -> RunState:
    (run_id, experiment, name, status, error, params, metrics, metric_history, tags, artifacts, model_info,
     environment, code, started_at, ended_at, actor) = row
    return RunState(
        run_id=run_id, experiment=experiment, name=name, status=status, error=error, params=params,
        metrics=metrics, metric_history=_load_history(metric_history, columns), tags=tags,
        artifacts=_load_artifacts(artifacts), model_info=model_info, environment=environment, code=code,
        started_at=_parse(started_at), ended_at=None if ended_at is None else _parse(ended_at), actor=actor)


def _load_model(row: list[Any], columns: _Columns) -> ModelState:
    values = dict(zip(_M, row))
    versions = {}
    for version_row in values["versions"]:
        version = _load_version(version_row, columns)
        versions[version.version] = version
    values["versions"] = versions
    history = {}
    for alias, moves in values["alias_history"]:
        entries = []
        for move in moves:
            fields = dict(zip(_A, move))
            fields["at"] = _parse(fields["at"])
            entries.append(Alias(**fields))
        history[alias] = entries
    values["alias_history"] = history
    values["created_at"], values["updated_at"] = _times(values["created_at"], values["updated_at"])
    return ModelState(**values)
