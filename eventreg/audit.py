"""
The audit side of the registry: history, diffs and proof, as results and functions.

The history *is* the log: every answer here is recomputed from recorded events, so it is
exactly as trustworthy as ``verify()`` says the log is. The functions read a log or a
projection and never write; :class:`~eventreg.view.RegistryView` and
:class:`~eventreg.registry.Registry` call them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs

from eventreg.domain.entities import ModelState, RegistryState
from eventreg.domain.events import EVENT_TYPES
from eventreg.domain.governance_events import summarize as governance_summary
from eventreg.errors import NotFound, ValidationError
from eventreg.log import BaseLog, Head, RecordedEvent
from eventreg.timetravel import Moment, advance, describe, fold_until, parse_moment, position_at, reached

__all__ = [
    "AliasTenure",
    "ArtifactFinding",
    "Change",
    "HistoryEvent",
    "RegistryDiff",
    "VerifyReport",
    "alias_tenures",
    "diff",
    "event_types",
    "page_of",
    "select_history",
    "stream_page",
    "summarize",
    "verify",
    "with_artifacts",
    "with_database_users",
]


# -- results -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class HistoryEvent:
    """
    One recorded event as an auditor reads it: who, when, what, and why.

    ``model``, ``version``, ``alias``, ``run_id`` and ``reason`` are taken from the payload
    when the event has them; ``summary`` says what happened in one line; ``payload`` and
    ``metadata`` are the event's full data; ``hash`` its link in the chain.
    ``database_user`` is who the database itself says inserted the event (PostgreSQL's
    login role, MySQL's ``user@host``; see :func:`with_database_users`), ``None`` where
    the backend records none; it does not take part in ``==``.
    """

    position: int
    recorded_at: datetime
    actor: str | None
    type: str
    stream_id: str
    model: str | None
    version: int | None
    alias: str | None
    run_id: str | None
    reason: str | None
    summary: str
    payload: dict[str, Any]
    metadata: dict[str, Any]
    hash: str
    #: where the row was stored, not what happened: two copies of a log hold the same
    #: history though different users inserted their rows, so equality ignores it
    database_user: str | None = attrs.field(default=None, eq=False)

    @classmethod
    def of(cls, recorded: RecordedEvent) -> HistoryEvent:
        payload = recorded.payload
        reason = payload.get("reason")
        if reason is None and recorded.type == "run.finished":
            reason = payload.get("error")
        return cls(
            position=recorded.position, recorded_at=recorded.recorded_at, actor=recorded.actor,
            type=recorded.type, stream_id=recorded.stream_id, model=_text(payload.get("model")),
            version=_int(payload.get("version")), alias=_text(payload.get("alias")),
            run_id=_text(payload.get("run_id")), reason=_text(reason), summary=summarize(recorded),
            payload=payload, metadata=recorded.metadata, hash=recorded.hash,
        )


@attrs.frozen(kw_only=True)
class AliasTenure:
    """
    One holder of an alias and the interval it held it.

    From ``since`` (log ``since_position``) to ``until`` (``until_position``; both None
    while it still holds it); ``actor``, ``action`` (``promote``/``rollback``), ``reason``
    and ``forced`` describe the move that gave it the alias, ``previous`` the holder
    it replaced.
    """

    model: str
    alias: str
    version: int
    previous: int | None
    action: str
    actor: str | None
    reason: str | None
    forced: bool
    since: datetime
    since_position: int
    until: datetime | None
    until_position: int | None

    @property
    def current(self) -> bool:
        """
        Whether this version still holds the alias.
        """
        return self.until_position is None


@attrs.frozen(kw_only=True)
class Change:
    """
    One difference between two moments: ``what`` changed on ``model`` (and ``version``)
    under ``key``, from ``before`` to ``after`` (None where absent).
    """

    what: str
    model: str
    version: int | None
    key: str | None
    before: Any
    after: Any


@attrs.frozen(kw_only=True)
class RegistryDiff:
    """
    What changed between moment ``a`` (log position ``a_position``) and ``b``.

    Lists of :class:`Change`: ``models_added`` / ``models_removed``, ``versions_added`` /
    ``versions_removed``, ``aliases_moved`` (key = alias), ``tags_changed`` (version None
    for a model's tags), ``metrics_changed`` (latest values), ``statuses_changed`` and
    ``descriptions_changed``. ``changes`` is all of them in that order.
    """

    a: Moment
    b: Moment
    a_position: int
    b_position: int
    models_added: tuple[Change, ...]
    models_removed: tuple[Change, ...]
    versions_added: tuple[Change, ...]
    versions_removed: tuple[Change, ...]
    aliases_moved: tuple[Change, ...]
    tags_changed: tuple[Change, ...]
    metrics_changed: tuple[Change, ...]
    statuses_changed: tuple[Change, ...]
    descriptions_changed: tuple[Change, ...]

    @property
    def changes(self) -> tuple[Change, ...]:
        """
        Every change, grouped by kind.
        """
        return (self.models_added + self.models_removed + self.versions_added + self.versions_removed
                + self.aliases_moved + self.tags_changed + self.metrics_changed + self.statuses_changed
                + self.descriptions_changed)

    def __bool__(self) -> bool:
        return bool(self.changes)


@attrs.frozen(kw_only=True)
class ArtifactFinding:
    """
    A stored artifact that does not match its recorded digest: whose it is, and what is wrong.
    """

    owner: str
    path: str
    sha256: str
    position: int | None
    problem: str

    def __str__(self) -> str:
        return f"{self.owner}: {self.problem}"


@attrs.frozen(kw_only=True)
class VerifyReport:
    """
    The outcome of ``Registry.verify``.

    ``ok`` is true when the hash chain is intact (and contains ``expected_head`` if one
    was given) and, when artifacts were checked, every object matches its digest.
    Otherwise ``first_bad_position`` and ``problem`` say where and what, and
    ``artifact_problems`` lists each bad artifact.
    """

    ok: bool
    checked: int
    head: Head
    first_bad_position: int | None = None
    problem: str | None = None
    expected_head: Head | None = None
    artifacts_checked: int | None = None
    artifact_problems: tuple[ArtifactFinding, ...] = ()
    #: signed events whose signature was checked (see eventreg.signing)
    signatures_checked: int | None = None

    def __bool__(self) -> bool:
        return self.ok


# -- history, diff and proof over a log ---------------------------------------------------


def check_from_position(from_position: Any) -> int:
    """
    ``from_position`` of ``events()``, checked.

    Raises:
        ValidationError: ``from_position`` is not an int >= 1.
    """
    if isinstance(from_position, bool) or not isinstance(from_position, int) or from_position < 1:
        raise ValidationError(f"from_position must be an int >= 1, not {from_position!r}")
    return from_position


def select_history(source: Iterable[RecordedEvent], *, since: Any = None, until: Any = None,
                   actor: str | None = None, types: Iterable[str] | str | None = None,
                   limit: int | None = None, enough: int | None = None) -> list[HistoryEvent]:
    """
    The events of ``source`` (in log order) inside the moments, by ``actor``, of ``types``,
    up to position ``limit``, as :class:`HistoryEvent` items; at most ``enough`` of them
    (``source`` is not read further).

    Raises:
        ValidationError: a moment or an event type is not valid.
    """
    start = None if since is None else parse_moment(since)
    end = None if until is None else parse_moment(until)
    wanted = _types(types)
    out: list[HistoryEvent] = []
    for recorded in source:
        if enough is not None and len(out) >= enough:
            break
        if limit is not None and recorded.position > limit:
            break
        if end is not None and reached(end, recorded):
            break
        if start is not None and (recorded.position < start if isinstance(start, int)
                                  else recorded.recorded_at < start):
            continue
        if actor is not None and recorded.actor != actor:
            continue
        if wanted is not None and recorded.type not in wanted:
            continue
        out.append(HistoryEvent.of(recorded))
    return out


def with_database_users(events: list[HistoryEvent], log: Any) -> list[HistoryEvent]:
    """
    ``events`` with the database user the log's database recorded on each, on a log with
    the capability ``records_database_user`` (PostgreSQL, MySQL); else ``events`` as they are.
    """
    if not events or not getattr(log, "records_database_user", False):
        return events
    streams = {event.stream_id for event in events}  # one stream (a model's history): ask by stream
    stream_id = streams.pop() if len(streams) == 1 else None
    users = log.database_users(events[0].position, events[-1].position, stream_id=stream_id)
    return [attrs.evolve(event, database_user=users.get(event.position)) for event in events]


def page_of(events: list[HistoryEvent], limit: int | None, offset: int, newest_first: bool) -> list[HistoryEvent]:
    """
    ``limit`` events of ``events`` (oldest first) after skipping ``offset``, in the order asked.
    """
    ordered = events[::-1] if newest_first else events
    return ordered[offset:] if limit is None else ordered[offset:offset + limit]


def stream_page(log: Any, stream: str, length: int, limit: int | None, offset: int,
                newest_first: bool) -> list[HistoryEvent]:
    """
    A page of the first ``length`` events of ``stream``, reading from the page's first
    stream version on (newest first: only the events of the page and none older).
    """
    if newest_first:
        high = length - offset
        low = 1 if limit is None else high - limit + 1
    else:
        low = offset + 1
        high = length if limit is None else min(length, offset + limit)
    if high < max(low, 1):
        return []
    found = [HistoryEvent.of(r) for r in log.read_stream(stream, from_version=max(low, 1))
             if r.stream_version <= high]
    return found[::-1] if newest_first else found


def event_types() -> list[str]:
    """
    Every event type this eventreg records, sorted (the names ``history(types=...)`` and
    ``subscribe(types=...)`` accept), e.g. ``"alias.promoted"``, ``"version.registered"``.
    """
    return sorted(EVENT_TYPES)


def first_position(since: Any) -> int:
    """
    Where to start reading the whole log for a history starting at ``since``.
    """
    start = None if since is None else parse_moment(since)
    return max(start, 1) if isinstance(start, int) else 1


def alias_tenures(model: ModelState, alias: str) -> list[AliasTenure]:
    """
    Each holder of ``alias`` of ``model`` with the interval it held it, oldest first
    (a removal of the alias ends a tenure without starting one).

    Raises:
        NotFound: the model has no such alias.
    """
    moves = list(model.alias_history.get(alias) or ())
    if not moves:
        raise NotFound(f"model {model.name!r} has no alias {alias!r}")
    out = []
    for index, move in enumerate(moves):
        if move.action == "remove":  # ends the tenure before it; nothing holds the alias after it
            continue
        following = moves[index + 1] if index + 1 < len(moves) else None
        out.append(AliasTenure(
            model=model.name, alias=alias, version=move.version, previous=move.previous,
            action=move.action, actor=move.actor, reason=move.reason, forced=move.forced,
            since=move.at, since_position=move.position,
            until=following.at if following else None,
            until_position=following.position if following else None,
        ))
    return out


def diff(log: Any, a: Any, b: Any, *, code_version: str | None) -> RegistryDiff:
    """
    What changed in the log's projection between two moments (see ``Registry.diff``).

    Raises:
        ValidationError: a moment is not valid or lies after the head.
    """
    first, second = parse_moment(a), parse_moment(b)
    head = log.head().position
    positions = [position_at(log, m) for m in (first, second)]
    for moment, position in zip((first, second), positions):
        if position > head:
            raise ValidationError(f"{describe(moment)} is after the log's head (position {head})")
    low, high = sorted(positions)
    state = fold_until(log, low, code_version=code_version)
    summaries = {low: _summary(state)}
    advance(log, state, high)
    summaries[high] = _summary(state)
    return _compare(first, second, (summaries[positions[0]], positions[0]),
                    (summaries[positions[1]], positions[1]))


def verify(log: Any, expected_head: Head | tuple[int, str] | str | None = None, *,
           signatures: bool = False) -> VerifyReport:
    """
    The log's hash chain checked, and ``expected_head`` (``(position, hash)`` or
    ``"POS:HASH"``) found in it if given.

    With ``signatures``, every signed event is checked too against the key the log held at
    its position (:class:`eventreg.signing.SignatureChecker`), in the same pass over the
    log; a broken chain is reported first, as it makes every later check moot.
    """
    if isinstance(expected_head, str):
        expected_head = Head.parse(expected_head)
    elif expected_head is not None:
        expected_head = Head(int(expected_head[0]), str(expected_head[1]).lower())
    if not signatures:
        result = log.verify(expected_head)
        signed = None
    else:
        from eventreg.signing import SignatureChecker

        checker = SignatureChecker()
        try:
            if getattr(type(log), "verify", None) is BaseLog.verify:
                result = log.verify(expected_head, each=checker.feed)
            else:  # a backend's own verify: a second pass for the signatures
                result = log.verify(expected_head)
                for event in log.read_all() if result.ok else ():
                    checker.feed(event)
            signed = checker.result() if result.ok else None
        finally:
            checker.close()
    report = VerifyReport(ok=result.ok, checked=result.checked, head=result.head,
                          first_bad_position=result.first_bad_position, problem=result.problem,
                          expected_head=expected_head)
    if signed is None:
        return report
    return attrs.evolve(report, ok=signed.ok, first_bad_position=signed.first_bad_position,
                        problem=signed.problem, signatures_checked=signed.checked)


def with_artifacts(report: VerifyReport, state: RegistryState, store: Any) -> VerifyReport:
    """
    ``report`` completed by re-hashing every stored object of every version and run of
    ``state`` in ``store``.
    """
    checked, findings = _verify_artifacts(state, store)
    if findings:
        first = min((f.position for f in findings if f.position is not None), default=None)
        problem = f"{len(findings)} stored artifact(s) missing or changed: {findings[0]}"
        if not report.ok:
            first, problem = report.first_bad_position, report.problem
        return attrs.evolve(report, ok=False, first_bad_position=first, problem=problem,
                            artifacts_checked=checked, artifact_problems=tuple(findings))
    return attrs.evolve(report, artifacts_checked=checked)


def _verify_artifacts(state: RegistryState, store: Any) -> tuple[int, list[ArtifactFinding]]:
    from eventreg.artifacts import Manifest

    owners: dict[tuple[str, int], list[tuple[str, str, int | None]]] = {}
    for model in state.models.values():
        for version in model.versions.values():
            for path, entry in version.artifacts.items():
                owners.setdefault((entry.sha256, entry.size), []).append(
                    (f"{model.name} version {version.version}", path, version.position))
    for run in state.runs.values():
        for path, entry in run.artifacts.items():
            owners.setdefault((entry.sha256, entry.size), []).append((f"run {run.run_id}", path, None))
    if not owners:
        return 0, []
    keys = sorted(owners)
    manifest = Manifest.from_json({f"object-{i}": {"sha256": sha, "size": size}
                                   for i, (sha, size) in enumerate(keys)})
    findings = []
    for problem in store.verify(manifest):
        key = keys[int(problem.path.split("-", 1)[1])]
        text = str(problem).split(": ", 1)[1]
        for owner, path, position in owners[key]:
            findings.append(ArtifactFinding(owner=owner, path=path, sha256=key[0], position=position,
                                            problem=f"{path}: {text}"))
    findings.sort(key=lambda f: (f.position is None, f.position or 0, f.owner, f.path))
    return len(keys), findings


# -- helpers -----------------------------------------------------------------------------


def _types(types: Iterable[str] | str | None) -> frozenset[str] | None:
    if types is None:
        return None
    names = frozenset([types] if isinstance(types, str) else types)
    unknown = sorted(n for n in names if n not in EVENT_TYPES)
    if unknown:
        raise ValidationError(
            f"unknown event type(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(EVENT_TYPES))}"
        )
    return names


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def summarize(recorded: RecordedEvent) -> str:
    """
    One line saying what an event did, e.g. ``promoted iris version 3 to production (was
    version 2)``: a number is shown as "version N", never as "vN", which is how labels look.
    """
    p = recorded.payload
    kind = recorded.type
    model = p.get("model")
    version = p.get("version")
    if kind == "alias.promoted":
        was = f" (was version {p['previous']})" if p.get("previous") is not None else ""
        return f"promoted {model} version {version} to {p.get('alias')}{was}" + (" [forced]" if p.get("forced") else "")
    if kind == "alias.rolled_back":
        return (f"rolled {p.get('alias')} of {model} back to version {version} (from version {p.get('previous')})"
                + (" [forced]" if p.get("forced") else ""))
    if kind == "version.registered":
        label = f" labelled {p['label']}" if p.get("label") else ""
        return f"registered {model} version {version}{label}"
    if kind == "model.created":
        return f"created model {model}"
    if kind == "version.reproduced":
        found = f", {len(p.get('differences') or {})} difference(s)" if p.get("differences") else ""
        return f"reproduction of {model} version {version}: {str(p.get('outcome', '')).replace('_', ' ')}{found}"
    if kind in ("version.tag_set", "model.tag_set"):
        where = f"{model} version {version}" if version is not None else str(model)
        return f"set tag {p.get('key')}={p.get('value')} on {where}"
    if kind in ("version.tag_deleted", "model.tag_deleted"):
        where = f"{model} version {version}" if version is not None else str(model)
        return f"deleted tag {p.get('key')} of {where}"
    if kind in ("version.deprecated", "version.archived"):
        return f"{kind.split('.')[1]} {model} version {version}"
    if kind == "model.archived":
        return f"archived model {model}"
    if kind == "version.metrics_logged":
        points = p.get("points", ())
        if isinstance(points, dict):  # stored as columns (schema version 2): one key, or one a point
            found = points.get("key")
            found = [found] if isinstance(found, str) else found if isinstance(found, list) else []
        else:
            found = [point.get("key") for point in points if isinstance(point, dict)]
        keys = sorted({key for key in found if isinstance(key, str)})
        return f"logged {', '.join(map(str, keys))} on {model} version {version}"
    if kind in ("version.updated", "model.updated"):
        return f"updated description of {model}" + (f" version {version}" if version is not None else "")
    if kind == "run.started":
        return f"started run {p.get('run_id')} in {p.get('experiment')}"
    if kind == "run.finished":
        return f"run {p.get('run_id')} {str(p.get('status', '')).lower()}"
    if kind == "projection.snapshot_saved":
        return f"saved a projection snapshot at position {p.get('position')}"
    if kind == "experiment.created":
        return f"created experiment {p.get('experiment')}"
    if kind.startswith("run."):
        return f"{kind.split('.', 1)[1].replace('_', ' ')} on run {p.get('run_id')}"
    governed = governance_summary(kind, p)
    if governed is not None:
        signed = recorded.metadata.get("signed_by") if recorded.metadata else None
        return governed + (f" [signed, key {signed}]" if signed else "")
    return kind


def _summary(state: RegistryState) -> dict[str, Any]:
    """
    The parts of a projection that a diff compares, copied.
    """
    models = {}
    for name, model in state.models.items():
        models[name] = {
            "tags": dict(model.tags), "status": model.status, "description": model.description,
            "aliases": dict(model.aliases),
            "versions": {n: {"tags": dict(v.tags), "metrics": dict(v.metrics), "status": v.status,
                             "description": v.description}
                         for n, v in model.versions.items()},
        }
    return models


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return type(a) is type(b) and a == b


def _dict_changes(what: str, model: str, version: int | None, before: dict, after: dict) -> list[Change]:
    out = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if key in before and key in after and _same(old, new):
            continue
        out.append(Change(what=what, model=model, version=version, key=key, before=old, after=new))
    return out


def _compare(a: Moment, b: Moment, first: tuple[dict, int], second: tuple[dict, int]) -> RegistryDiff:
    before, after = first[0], second[0]
    kinds: dict[str, list[Change]] = {k: [] for k in (
        "models_added", "models_removed", "versions_added", "versions_removed", "aliases_moved",
        "tags_changed", "metrics_changed", "statuses_changed", "descriptions_changed")}
    empty = {"tags": {}, "status": None, "description": None, "aliases": {}, "versions": {}}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old is None:
            kinds["models_added"].append(Change(what="model added", model=name, version=None, key=None,
                                                before=None, after=new["status"]))
        elif new is None:
            kinds["models_removed"].append(Change(what="model removed", model=name, version=None, key=None,
                                                  before=old["status"], after=None))
        old, new = old or empty, new or empty
        for number in sorted(set(new["versions"]) - set(old["versions"])):
            kinds["versions_added"].append(Change(what="version added", model=name, version=number, key=None,
                                                  before=None, after=new["versions"][number]["status"]))
        for number in sorted(set(old["versions"]) - set(new["versions"])):
            kinds["versions_removed"].append(Change(what="version removed", model=name, version=number,
                                                    key=None, before=old["versions"][number]["status"], after=None))
        kinds["aliases_moved"] += _dict_changes("alias moved", name, None, old["aliases"], new["aliases"])
        if name in before and name in after:
            kinds["tags_changed"] += _dict_changes("model tag", name, None, old["tags"], new["tags"])
        if old["status"] is not None and new["status"] is not None and old["status"] != new["status"]:
            kinds["statuses_changed"].append(Change(what="model status", model=name, version=None, key=None,
                                                    before=old["status"], after=new["status"]))
        if old["description"] != new["description"] and name in before and name in after:
            kinds["descriptions_changed"].append(Change(what="model description", model=name, version=None,
                                                        key=None, before=old["description"],
                                                        after=new["description"]))
        for number in sorted(set(old["versions"]) | set(new["versions"])):
            was, now = old["versions"].get(number), new["versions"].get(number)
            if was is None or now is None:  # added or removed: listed above, with its contents
                continue
            kinds["tags_changed"] += _dict_changes("version tag", name, number, was["tags"], now["tags"])
            kinds["metrics_changed"] += _dict_changes("metric", name, number, was["metrics"], now["metrics"])
            if was["status"] != now["status"]:
                kinds["statuses_changed"].append(Change(what="version status", model=name, version=number,
                                                        key=None, before=was["status"], after=now["status"]))
            if was["description"] != now["description"]:
                kinds["descriptions_changed"].append(Change(what="version description", model=name,
                                                            version=number, key=None, before=was["description"],
                                                            after=now["description"]))
    return RegistryDiff(a=a, b=b, a_position=first[1], b_position=second[1],
                        **{k: tuple(v) for k, v in kinds.items()})

