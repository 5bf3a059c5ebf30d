"""
The projection: everything the registry shows, as a fold over the log.

``RegistryState`` holds in-memory indexes shaped for the queries (models by name,
versions by number, labels and aliases by name, each alias's history, runs by id, runs
per experiment, a summary of each metric: its points stay in the log). :func:`apply` folds one recorded event into it; it
reads nothing but its arguments (no clock, no I/O, no randomness), so the same events
always give an equal state. For speed it updates the state it is given in place and
returns it: to keep an older state, fold into a fresh one (``as_of`` does exactly that).

Two states compare equal (``==``) when they would answer every query the same way; NaN
metric values compare equal to NaN.
"""

from __future__ import annotations

import gc
import hashlib
import json
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from eventreg.domain import events as ev
from eventreg.domain import governance_state
from eventreg.domain.codec import (
    NOT_PLAIN,
    PLAIN,
    column_lists,
    columns_of_points,
    converter,
    decode_recorded,
    read_artifacts,
)
from eventreg.domain.entities import (
    _MICROSECOND,
    _add_points,
    _point_rows,
    ARCHIVED,
    DEPRECATED,
    FAILED,
    FINISHED,
    KILLED,
    NO_STEP,
    READY,
    RUN_END_STATUSES,
    RUNNING,
    Alias,
    ExperimentState,
    MetricHistory,
    MetricStats,
    ModelState,
    RegistryState,
    RunState,
    VersionState,
)
from eventreg.domain.events import ArtifactEntry
from eventreg.domain.lifecycle_state import LIFECYCLE_HANDLERS
from eventreg.domain.repro_state import REPRO_HANDLERS
from eventreg.domain.tracking_state import TRACKING_HANDLERS
from eventreg.errors import LogCorrupted
from eventreg.log import RecordedEvent

#: Version of the snapshot format of :func:`dump_state`; a snapshot of another is rebuilt.
STATE_FORMAT = 3

__all__ = [
    "ARCHIVED", "DEPRECATED", "FAILED", "FINISHED", "KILLED", "NO_STEP", "READY", "RUN_END_STATUSES", "RUNNING",
    "STATE_FORMAT", "Alias", "ExperimentState", "MetricHistory", "MetricStats", "ModelState", "RegistryState", "RunState",
    "VersionState", "apply", "bulk", "dump_state", "fold", "load_state", "snapshot_digest",
]

# -- folding -----------------------------------------------------------------------------


@contextmanager
def bulk() -> Iterator[None]:
    """
    Pause the cyclic garbage collector while building many objects that all stay alive.

    A fold or a snapshot load creates millions of long-lived objects; each collection
    would walk all of them again for nothing (it makes a large fold 2-3 times slower).
    The collector's previous setting is restored afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def apply(state: RegistryState, recorded: RecordedEvent, event: Any = None) -> RegistryState:
    """
    Fold one recorded event into ``state`` and return it.

    ``event`` may give the event object already decoded from ``recorded`` (the one a
    command just appended) to save decoding it again; it must equal what
    :func:`~eventreg.domain.codec.decode_recorded` returns.

    Raises:
        UnknownEventType: the event's type is newer than this eventreg.
        LogCorrupted: the event does not fit the state (it refers to something missing,
            or it is out of order).
    """
    return _fold(state, (recorded,), event)


def fold(events: Iterable[RecordedEvent], state: RegistryState | None = None) -> RegistryState:
    """
    Fold events, in log order, into ``state`` (a new empty state by default).

    Raises:
        UnknownEventType, LogCorrupted: as :func:`apply`; ``state`` then holds every
            event before the one that failed.
    """
    return _fold(RegistryState() if state is None else state, events, None)


def _fold(state: RegistryState, events: Iterable[RecordedEvent], event: Any) -> RegistryState:
    """
    The one loop behind :func:`apply` and :func:`fold` (``event``: see :func:`apply`,
    only with a single event). The position and hash reached are kept in locals and
    stored in ``state`` when the loop ends, also when an event fails.
    """
    streams, fast_for, handlers = state.streams, _FAST.get, _HANDLERS
    position, digest = state.position, state.last_hash
    try:
        for recorded in events:
            at, stream_id, stream_version, type_, schema_version, _, _, payload, _, _, hash_ = recorded
            if at != position + 1:
                raise LogCorrupted(f"event at position {at} folded after position {position}")
            try:
                if event is None:
                    fast = fast_for((type_, schema_version))
                    if fast is None or not fast(state, payload, recorded):
                        decoded = decode_recorded(recorded)
                        handlers[type(decoded)](state, decoded, recorded)
                else:
                    handlers[type(event)](state, event, recorded)
            except (KeyError, IndexError) as e:
                raise LogCorrupted(f"at position {at}: {type_} refers to something missing ({e})") from None
            except OverflowError as e:
                raise LogCorrupted(f"at position {at}: {type_} holds a number out of range ({e})") from None
            streams[stream_id] = stream_version
            position, digest = at, hash_
    finally:
        state.position, state.last_hash = position, digest
    return state


def _plain_points(items: Any) -> list[tuple[str, float, int, int]] | None:
    """
    ``(key, value, step, microseconds)`` of each metric point of a payload in the plain
    shape the codec writes (a list of point objects: schema version 1 of the metric events
    and ``version.registered``), or None for anything else (the caller then decodes the
    payload, with the codec's conversions and errors).
    """
    return _plain_columns(columns_of_points(items))


def _plain_columns(columns: Any) -> list[tuple[str, float, int, int]] | None:
    """
    :func:`_plain_points` of points stored as columns (schema version 2 of the metric
    events, see :func:`eventreg.domain.codec.point_columns`).
    """
    lists = column_lists(columns)
    return None if lists is None else _rows_of(*lists)


def _rows_of(keys: list[Any], values: list[Any], steps: list[Any],
             stamps: list[Any]) -> list[tuple[str, float, int, int]] | None:
    """
    The point rows of columns of equal length holding exactly the JSON types the codec
    writes, or None.
    """
    rows = []
    text = micros = None
    for key, value, step, stamp in zip(keys, values, steps, stamps):
        if type(key) is not str:
            return None
        if type(value) is not float:
            if type(value) is not int:
                return None
            value = float(value)
        if step is None:
            step = NO_STEP
        elif type(step) is not int or not NO_STEP < step < 2**63:
            return None
        if stamp != text:  # points logged together share a timestamp
            micros = _stamp_micros(stamp)
            if micros is None:
                return None
            text = stamp
        rows.append((key, value, step, micros))
    return rows


def _stamp_micros(stamp: Any) -> int | None:
    """
    Microseconds since the epoch of a stored timestamp text, as ``parse_timestamp`` reads it, or None.
    """
    if type(stamp) is not str:
        return None
    try:
        moment = datetime.fromisoformat(stamp[:-1])
    except ValueError:
        return None
    if moment.tzinfo is not None:
        return None
    return (moment - _NAIVE_EPOCH) // _MICROSECOND


_NAIVE_EPOCH = datetime(1970, 1, 1)
_MISSING = object()


# -- folding plain payloads directly ---------------------------------------------------------
#
# The most numerous event types are folded straight from their stored payload, without
# building event objects (about half their cost), when the payload has exactly the plain
# shape the codec writes: every key present, each value of its exact JSON type, objects
# copied as the codec copies them. Anything else returns False having changed nothing, and
# the payload is decoded by the codec. Each shares the code that changes the state with its
# handler of event objects below; tests/test_fold.py folds payloads of every shape both ways
# and compares the results.


def _metrics_direct(read_points: Any, run: bool) -> Any:
    """
    The direct fold of ``run.metrics_logged`` (``run``) or ``version.metrics_logged``
    payloads whose points ``read_points`` reads (a list of point objects, schema version
    1, or columns, 2).
    """

    def fold_run_metrics(state: RegistryState, payload: dict[str, Any], r: RecordedEvent) -> bool:
        if len(payload) != 2:
            return False
        run_id = payload.get("run_id")
        if type(run_id) is not str:
            return False
        rows = read_points(payload.get("points"))
        if rows is None:
            return False
        found = state.runs[run_id]
        _add_points(found.metrics, found.metric_summaries, rows, r[2])
        return True

    def fold_version_metrics(state: RegistryState, payload: dict[str, Any], r: RecordedEvent) -> bool:
        if len(payload) != 3:
            return False
        name, number = payload.get("model"), payload.get("version")
        if type(name) is not str or type(number) is not int:
            return False
        rows = read_points(payload.get("points"))
        if rows is None:
            return False
        _add_version_points(state, r, name, number, rows)
        return True

    return fold_run_metrics if run else fold_version_metrics


def _alias_direct(rollback: bool) -> Any:
    def fold_alias(state: RegistryState, payload: dict[str, Any], r: RecordedEvent) -> bool:
        if len(payload) != 6:
            return False
        get = payload.get
        name, alias, number, forced = get("model"), get("alias"), get("version"), get("forced")
        previous, reason = get("previous", _MISSING), get("reason", _MISSING)
        if (type(name) is not str or type(alias) is not str or type(number) is not int
                or type(forced) is not bool or ((previous is not None or rollback) and type(previous) is not int)
                or (reason is not None and type(reason) is not str)):
            return False
        _move_alias(state, r, name, alias, number, previous, reason, forced, rollback)
        return True

    return fold_alias


def _copy_objects(values: tuple[Any, ...], optional: bool) -> tuple[Any, ...] | None:
    """
    Shallow copies of JSON objects (None kept if ``optional``), as the codec makes them;
    None if one is anything else.
    """
    out = []
    for value in values:
        if type(value) is dict:
            out.append(dict(value))
        elif value is None and optional:
            out.append(None)
        else:
            return None
    return tuple(out)


def _version_registered_direct(state: RegistryState, payload: dict[str, Any], r: RecordedEvent) -> bool:
    if len(payload) != 15:
        return False
    get = payload.get
    name, number, tags, parents = get("model"), get("version"), get("tags"), get("parents")
    texts = (get("label", _MISSING), get("description", _MISSING), get("run_id", _MISSING))
    if (type(name) is not str or type(number) is not int or type(tags) is not dict or type(parents) is not list
            or any(value is not None and type(value) is not str for value in texts)
            or any(type(value) is not str for value in tags.values())
            or any(type(value) is not int for value in parents)):
        return False
    required = _copy_objects((get("params"), get("environment")), optional=False)
    optional = _copy_objects((get("model_info", _MISSING), get("data", _MISSING), get("code", _MISSING),
                              get("architecture", _MISSING)), optional=True)
    artifacts = read_artifacts(get("artifacts"))
    rows = _plain_points(get("metrics"))
    if required is None or optional is None or artifacts is NOT_PLAIN or rows is None:
        return False
    label, description, run_id = texts
    (params, environment), (model_info, data, code, architecture) = required, optional
    _add_version(state, r, name, number, label, description, params, rows, dict(tags), artifacts,
                 model_info, data, code, environment, architecture, run_id, tuple(parents))
    return True


def _run_started_direct(state: RegistryState, payload: dict[str, Any], r: RecordedEvent) -> bool:
    if len(payload) != 6 + ("started_at" in payload) or payload.get("started_at") is not None:
        return False  # a run with its own start time is rare: the codec reads it
    get = payload.get
    run_id, experiment, name, tags = get("run_id"), get("experiment"), get("name", _MISSING), get("tags")
    if (type(run_id) is not str or type(experiment) is not str or (name is not None and type(name) is not str)
            or type(tags) is not dict or any(type(value) is not str for value in tags.values())):
        return False
    environment = _copy_objects((get("environment"),), optional=False)
    code = _copy_objects((get("code", _MISSING),), optional=True)
    if environment is None or code is None:
        return False
    _start_run(state, r, run_id, experiment, name, dict(tags), environment[0], code[0], None)
    return True


# -- handlers of event objects ---------------------------------------------------------------


def _model_created(state: RegistryState, e: ev.ModelCreated, r: RecordedEvent) -> None:
    state.models[e.model] = ModelState(
        name=e.model, description=e.description, tags=dict(e.tags),
        created_at=r.recorded_at, updated_at=r.recorded_at, actor=r.actor,
    )


def _touch(state: RegistryState, name: str, r: RecordedEvent) -> ModelState:
    model = state.models[name]
    model.updated_at = r.recorded_at
    return model


def _model_updated(state: RegistryState, e: ev.ModelUpdated, r: RecordedEvent) -> None:
    _touch(state, e.model, r).description = e.description


def _model_tag_set(state: RegistryState, e: ev.ModelTagSet, r: RecordedEvent) -> None:
    _touch(state, e.model, r).tags[e.key] = e.value


def _model_tag_deleted(state: RegistryState, e: ev.ModelTagDeleted, r: RecordedEvent) -> None:
    _touch(state, e.model, r).tags.pop(e.key, None)


def _model_archived(state: RegistryState, e: ev.ModelArchived, r: RecordedEvent) -> None:
    model = _touch(state, e.model, r)
    model.status = ARCHIVED
    model.status_reason = e.reason


def _version_registered(state: RegistryState, e: ev.VersionRegistered, r: RecordedEvent) -> None:
    _add_version(state, r, e.model, e.version, e.label, e.description, dict(e.params), _point_rows(e.metrics),
                 dict(e.tags), dict(e.artifacts), e.model_info, e.data, e.code, e.environment, e.architecture,
                 e.run_id, tuple(e.parents))


def _add_version(state: RegistryState, r: RecordedEvent, name: str, number: int, label: str | None,
                 description: str | None, params: dict[str, Any], rows: list[tuple[str, float, int, int]],
                 tags: dict[str, str], artifacts: dict[str, ArtifactEntry], model_info: dict[str, Any] | None,
                 data: dict[str, Any] | None, code: dict[str, Any] | None, environment: dict[str, Any],
                 architecture: dict[str, Any] | None, run_id: str | None, parents: tuple[int, ...]) -> None:
    model = _touch(state, name, r)
    if number != len(model.versions) + 1:
        raise LogCorrupted(f"at position {r.position}: version {number} of {name!r} out of sequence")
    latest: dict[str, float] = {}
    summaries: dict[str, MetricStats] = {}
    _add_points(latest, summaries, rows, r.stream_version)
    model.versions[number] = VersionState(
        model=name, version=number, label=label, description=description,
        params=params, metrics=latest, metric_summaries=summaries, tags=tags,
        artifacts=artifacts, model_info=model_info, data=data, code=code,
        environment=environment, architecture=architecture, run_id=run_id,
        parents=parents, created_at=r.recorded_at, updated_at=r.recorded_at,
        actor=r.actor, position=r.position,
    )
    if label is not None:
        model.labels[label] = number


def _version(state: RegistryState, name: str, number: int, r: RecordedEvent) -> VersionState:
    version = _touch(state, name, r).versions[number]
    version.updated_at = r.recorded_at
    return version


def _version_updated(state: RegistryState, e: ev.VersionUpdated, r: RecordedEvent) -> None:
    _version(state, e.model, e.version, r).description = e.description


# A version's metrics and tags are replaced, never changed in place, like its other
# mappings: views share them until read (see ModelVersion.of).


def _version_metrics_logged(state: RegistryState, e: ev.VersionMetricsLogged, r: RecordedEvent) -> None:
    _add_version_points(state, r, e.model, e.version, _point_rows(e.points))


def _add_version_points(state: RegistryState, r: RecordedEvent, name: str, number: int,
                        rows: list[tuple[str, float, int, int]]) -> None:
    version = _version(state, name, number, r)
    latest, summaries = version.metrics, version.metric_summaries  # fresh dicts (kept encoded)
    _add_points(latest, summaries, rows, r.stream_version)
    version.metrics, version.metric_summaries = latest, summaries


def _version_tag_set(state: RegistryState, e: ev.VersionTagSet, r: RecordedEvent) -> None:
    version = _version(state, e.model, e.version, r)
    version.tags = {**version.tags, e.key: e.value}


def _version_tag_deleted(state: RegistryState, e: ev.VersionTagDeleted, r: RecordedEvent) -> None:
    version = _version(state, e.model, e.version, r)
    if e.key in version.tags:
        version.tags = {key: value for key, value in version.tags.items() if key != e.key}


def _version_deprecated(state: RegistryState, e: ev.VersionDeprecated, r: RecordedEvent) -> None:
    version = _version(state, e.model, e.version, r)
    version.status = DEPRECATED
    version.status_reason = e.reason


def _version_archived(state: RegistryState, e: ev.VersionArchived, r: RecordedEvent) -> None:
    version = _version(state, e.model, e.version, r)
    version.status = ARCHIVED
    version.status_reason = e.reason


def _alias_moved(state: RegistryState, e: ev.AliasPromoted | ev.AliasRolledBack, r: RecordedEvent) -> None:
    _move_alias(state, r, e.model, e.alias, e.version, e.previous, e.reason, e.forced,
                isinstance(e, ev.AliasRolledBack))


def _move_alias(state: RegistryState, r: RecordedEvent, name: str, alias: str, number: int,
                previous: int | None, reason: str | None, forced: bool, rollback: bool) -> None:
    model = _touch(state, name, r)
    if number not in model.versions:
        raise KeyError(f"version {number}")
    stack = model.alias_stacks.get(alias)
    if stack is None:
        stack = model.alias_stacks[alias] = []
    if rollback:
        action = "rollback"
        earlier = stack[:-1]
        if number in earlier:
            del stack[len(earlier) - earlier[::-1].index(number):]
        else:  # not an earlier holder: written by another tool; still a move
            stack.append(number)
    else:
        action = "promote"
        stack.append(number)
    model.aliases[alias] = number
    moves = model.alias_history.get(alias)
    if moves is None:
        moves = model.alias_history[alias] = []
    moves.append(Alias(model=name, name=alias, version=number, previous=previous, action=action,
                       reason=reason, forced=forced, actor=r.actor, at=r.recorded_at, position=r.position))


def _experiment_created(state: RegistryState, e: ev.ExperimentCreated, r: RecordedEvent) -> None:
    state.experiments.setdefault(
        e.experiment, ExperimentState(name=e.experiment, created_at=r.recorded_at, actor=r.actor, position=r.position)
    )


def _run_started(state: RegistryState, e: ev.RunStarted, r: RecordedEvent) -> None:
    _start_run(state, r, e.run_id, e.experiment, e.name, dict(e.tags), e.environment, e.code, e.started_at)


def _start_run(state: RegistryState, r: RecordedEvent, run_id: str, experiment_name: str, name: str | None,
               tags: dict[str, str], environment: dict[str, Any], code: dict[str, Any] | None,
               started_at: datetime | None) -> None:
    state.runs[run_id] = RunState(
        run_id=run_id, experiment=experiment_name, name=name, tags=tags, environment=environment, code=code,
        started_at=r.recorded_at if started_at is None else started_at, actor=r.actor,
    )
    experiment = state.experiments.get(experiment_name)
    if experiment is None:  # a run may start before its experiment's event is seen
        experiment = state.experiments[experiment_name] = ExperimentState(
            name=experiment_name, created_at=r.recorded_at, actor=r.actor, position=r.position
        )
    experiment.runs.append(run_id)


def _run_params_logged(state: RegistryState, e: ev.RunParamsLogged, r: RecordedEvent) -> None:
    state.runs[e.run_id].params.update(e.params)


def _run_metrics_logged(state: RegistryState, e: ev.RunMetricsLogged, r: RecordedEvent) -> None:
    run = state.runs[e.run_id]
    _add_points(run.metrics, run.metric_summaries, _point_rows(e.points), r.stream_version)


def _run_tags_set(state: RegistryState, e: ev.RunTagsSet, r: RecordedEvent) -> None:
    state.runs[e.run_id].tags.update(e.tags)


def _run_artifacts_logged(state: RegistryState, e: ev.RunArtifactsLogged, r: RecordedEvent) -> None:
    state.runs[e.run_id].artifacts.update(e.artifacts)


def _run_model_logged(state: RegistryState, e: ev.RunModelLogged, r: RecordedEvent) -> None:
    run = state.runs[e.run_id]
    run.artifacts.update(e.artifacts)
    run.model_info = {"path": e.path, "flavor": e.flavor}


def _run_finished(state: RegistryState, e: ev.RunFinished, r: RecordedEvent) -> None:
    run = state.runs[e.run_id]
    run.status = e.status
    run.error = e.error
    run.ended_at = r.recorded_at if e.ended_at is None else e.ended_at


def _snapshot_saved(state: RegistryState, e: ev.SnapshotSaved, r: RecordedEvent) -> None:
    pass  # vouches for a snapshot; changes nothing a query shows


_HANDLERS: dict[type, Any] = {
    ev.ModelCreated: _model_created,
    ev.ModelUpdated: _model_updated,
    ev.ModelTagSet: _model_tag_set,
    ev.ModelTagDeleted: _model_tag_deleted,
    ev.ModelArchived: _model_archived,
    ev.VersionRegistered: _version_registered,
    ev.VersionUpdated: _version_updated,
    ev.VersionMetricsLogged: _version_metrics_logged,
    ev.VersionTagSet: _version_tag_set,
    ev.VersionTagDeleted: _version_tag_deleted,
    ev.VersionDeprecated: _version_deprecated,
    ev.VersionArchived: _version_archived,
    ev.AliasPromoted: _alias_moved,
    ev.AliasRolledBack: _alias_moved,
    ev.ExperimentCreated: _experiment_created,
    ev.RunStarted: _run_started,
    ev.RunParamsLogged: _run_params_logged,
    ev.RunMetricsLogged: _run_metrics_logged,
    ev.RunTagsSet: _run_tags_set,
    ev.RunArtifactsLogged: _run_artifacts_logged,
    ev.RunModelLogged: _run_model_logged,
    ev.RunFinished: _run_finished,
    ev.SnapshotSaved: _snapshot_saved,
    **REPRO_HANDLERS,
    **TRACKING_HANDLERS,
    **LIFECYCLE_HANDLERS,
    **governance_state.HANDLERS,
}
assert set(_HANDLERS) == set(ev.EVENT_CLASSES)


def _fold_plain(cls: type) -> Any:
    """
    ``(state, payload, recorded) -> bool`` folding a plain payload of ``cls`` (current
    schema version) built by the codec's direct structurer: the steps of
    :func:`~eventreg.domain.codec.decode_recorded` a stored payload does not need. False,
    changing nothing, for a payload that is not plain (the caller decodes it fully).
    """
    plain, handler, not_plain = PLAIN[cls], _HANDLERS[cls], NOT_PLAIN

    def fold_plain(state: RegistryState, payload: dict[str, Any], recorded: RecordedEvent) -> bool:
        event = plain(payload)
        if event is not_plain:
            return False
        handler(state, event, recorded)
        return True

    return fold_plain


#: ``(type, schema version) -> fold`` for the stored payloads of a type at its current schema
#: version that its direct structurer builds, and for those folded straight from their
#: payload (the metric events at both their versions: ``run.metrics_logged``, the most
#: numerous, builds no event objects at all); other versions are upcast by the codec first
_FAST: dict[tuple[str, int], Any] = {(cls.type, cls.schema_version): _fold_plain(cls) for cls in PLAIN}
_DIRECT = {
    (ev.RunMetricsLogged.type, 1): _metrics_direct(_plain_points, run=True),
    (ev.RunMetricsLogged.type, 2): _metrics_direct(_plain_columns, run=True),
    (ev.VersionMetricsLogged.type, 1): _metrics_direct(_plain_points, run=False),
    (ev.VersionMetricsLogged.type, 2): _metrics_direct(_plain_columns, run=False),
    (ev.VersionRegistered.type, 1): _version_registered_direct,
    (ev.AliasPromoted.type, 1): _alias_direct(rollback=False),
    (ev.AliasRolledBack.type, 1): _alias_direct(rollback=True),
    (ev.RunStarted.type, 1): _run_started_direct,
}
for _key, _direct in _DIRECT.items():
    assert _key[1] <= ev.EVENT_TYPES[_key[0]].schema_version, f"the direct fold of {_key}"
    _FAST[_key] = _direct


# -- snapshots ---------------------------------------------------------------------------

converter.register_unstructure_hook(MetricStats, MetricStats._row)
converter.register_structure_hook(MetricStats, lambda row, _: MetricStats(*row))


def dump_state(state: RegistryState, code_version: str) -> bytes:
    """
    The state as snapshot bytes: compressed JSON (never pickle, so a forged snapshot
    cannot run code), tagged with :data:`STATE_FORMAT` and ``code_version``.
    """
    document = {
        "format": STATE_FORMAT,
        "code_version": code_version,
        "position": state.position,
        "hash": state.last_hash,
        "state": converter.unstructure(state),
    }
    return zlib.compress(json.dumps(document, allow_nan=True, separators=(",", ":")).encode("utf-8"), 1)


def snapshot_digest(data: bytes) -> str:
    """
    The sha256 (hex) of snapshot bytes, as recorded by a ``projection.snapshot_saved`` event.
    """
    return hashlib.sha256(data).hexdigest()


def load_state(data: bytes, code_version: str) -> RegistryState | None:
    """
    The state in snapshot bytes, or None when they are of another format or code
    version, or unreadable (the caller then rebuilds from the log).
    """
    try:
        document = json.loads(zlib.decompress(data))
        if document.get("format") != STATE_FORMAT or document.get("code_version") != code_version:
            return None
        state = converter.structure(document["state"], RegistryState)
    except Exception:
        return None
    if state.position != document.get("position") or state.last_hash != document.get("hash"):
        return None
    return state
