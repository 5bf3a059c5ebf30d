"""
The audit side of the registry: history, time travel, diffs, proof, reports, subscriptions.

:class:`AuditMixin` gives :class:`~eventreg.registry.Registry` these methods. They read
the log (``self.log``) and the projection (``self._reading()``) and never write, except
``subscribe``, which stores its consumer's checkpoint. The history *is* the log: every
answer here is recomputed from recorded events, so it is exactly as trustworthy as
``verify()`` says the log is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from eventreg.domain.events import EVENT_TYPES, model_stream
from eventreg.domain.state import RegistryState
from eventreg.errors import NotFound, ValidationError
from eventreg.log import Head, RecordedEvent
from eventreg.timetravel import (
    CHUNK,
    Moment,
    RegistryView,
    advance,
    describe,
    fold_until,
    known_model,
    parse_moment,
    reached,
)

__all__ = [
    "AliasTenure",
    "ArtifactFinding",
    "AuditMixin",
    "Change",
    "HistoryEvent",
    "RegistryDiff",
    "VerifyReport",
]


# -- results -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class HistoryEvent:
    """
    One recorded event as an auditor reads it: who, when, what, and why.

    ``model``, ``version``, ``alias``, ``run_id`` and ``reason`` are taken from the payload
    when the event has them; ``summary`` says what happened in one line; ``payload`` and
    ``metadata`` are the event's full data; ``hash`` its link in the chain.
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
    The outcome of :meth:`Registry.verify`.

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

    def __bool__(self) -> bool:
        return self.ok


# -- the mixin -------------------------------------------------------------------------------


class AuditMixin:
    """
    History, time travel, diff, verification, reports and subscriptions of a registry.
    """

    log: Any

    def _event_source(self) -> tuple[Any, int | None]:
        """
        The log to read and the last position to show (None: the whole log).
        """
        return self.log, None

    # -- history ------------------------------------------------------------------------

    def history(self, model: str | None = None, *, since: Any = None, until: Any = None,
                actor: str | None = None, types: Iterable[str] | str | None = None) -> list[HistoryEvent]:
        """
        The recorded events, oldest first: who did what, when and why.

        Args:
            model: only the events of this model (its versions, tags and aliases).
            since: only events at or after this moment (a position, a datetime or an
                ISO-8601 string).
            until: only events at or before this moment.
            actor: only events recorded by this actor.
            types: only events of these types, e.g. ``["alias.promoted", "alias.rolled_back"]``.

        Returns:
            A list of :class:`HistoryEvent`.

        Raises:
            NotFound: ``model`` does not exist.
            ValidationError: a moment or an event type is not valid.
        """
        start = None if since is None else parse_moment(since)
        end = None if until is None else parse_moment(until)
        wanted = _types(types)
        log, limit = self._event_source()
        if model is not None:
            with self._reading() as state:  # type: ignore[attr-defined]
                known_model(state, model)
            source: Iterable[RecordedEvent] = log.read_stream(model_stream(model))
        else:
            first = start if isinstance(start, int) else 1
            source = _read(log, max(first, 1), limit)
        out = []
        for recorded in source:
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

    def alias_history(self, model: str, alias: str) -> list[AliasTenure]:
        """
        Each version that held ``alias`` of ``model``, with the interval it held it.

        Returns:
            :class:`AliasTenure` items, oldest first; the last has ``until`` None while
            it still holds the alias.

        Raises:
            NotFound: the model or the alias does not exist.
        """
        with self._reading() as state:  # type: ignore[attr-defined]
            known_model(state, model)
            moves = list(state.models[model].alias_history.get(alias) or ())
        if not moves:
            raise NotFound(f"model {model!r} has no alias {alias!r}")
        out = []
        for index, move in enumerate(moves):
            following = moves[index + 1] if index + 1 < len(moves) else None
            out.append(AliasTenure(
                model=model, alias=alias, version=move.version, previous=move.previous,
                action=move.action, actor=move.actor, reason=move.reason, forced=move.forced,
                since=move.at, since_position=move.position,
                until=following.at if following else None,
                until_position=following.position if following else None,
            ))
        return out

    def events(self, from_position: int = 1) -> Iterator[RecordedEvent]:
        """
        Every recorded event from ``from_position`` to the current end of the log, in order.

        Reads in chunks, so it is cheap to stop early; events appended while iterating
        are included.
        """
        if isinstance(from_position, bool) or not isinstance(from_position, int) or from_position < 1:
            raise ValidationError(f"from_position must be an int >= 1, not {from_position!r}")
        log, limit = self._event_source()
        return _read(log, from_position, limit)

    # -- time travel and diff ----------------------------------------------------------

    def as_of(self, when: Any) -> RegistryView:
        """
        The registry as it stood at ``when``: a read-only view with every query method.

        Args:
            when: a global position (int; 0 = before the first event), a ``datetime``
                (naive means UTC) or an ISO-8601 string. A time includes every event
                recorded at or before it.

        Returns:
            A :class:`~eventreg.timetravel.RegistryView`; its commands raise
            :class:`~eventreg.errors.ReadOnlyError`.

        Raises:
            ValidationError: ``when`` is not a moment, or a position after the head.
        """
        moment = parse_moment(when)
        log, _ = self._event_source()
        return RegistryView(self, fold_until(log, moment, code_version=_code_version()), moment)

    def diff(self, a: Any, b: Any) -> RegistryDiff:
        """
        What changed between two moments: models and versions added, aliases moved, tags,
        metrics, statuses and descriptions changed.

        Args:
            a: the earlier moment (position, datetime or ISO-8601 string).
            b: the later moment; if it is earlier than ``a``, the changes run backwards.

        Raises:
            ValidationError: a moment is not valid or lies after the head.
        """
        first, second = parse_moment(a), parse_moment(b)
        log, _ = self._event_source()
        head = log.head().position
        positions = [position_at(log, m) for m in (first, second)]
        for moment, position in zip((first, second), positions):
            if position > head:
                raise ValidationError(f"{describe(moment)} is after the log's head (position {head})")
        low, high = sorted(positions)
        state = fold_until(log, low, code_version=_code_version())
        summaries = {low: _summary(state)}
        advance(log, state, high)
        summaries[high] = _summary(state)
        return _compare(first, second, (summaries[positions[0]], positions[0]),
                        (summaries[positions[1]], positions[1]))

    # -- proof --------------------------------------------------------------------------

    def head(self) -> Head:
        """
        The log's last ``(position, hash)``: publish it to prove the log later.
        """
        return self.log.head()

    def verify(self, *, expected_head: Head | tuple[int, str] | str | None = None,
               artifacts: bool = False) -> VerifyReport:
        """
        Check the whole hash chain and, optionally, every artifact's stored bytes.

        Args:
            expected_head: a ``(position, hash)`` (or ``"POS:HASH"``) published earlier:
                the log must still hold exactly that hash at that position, even if it
                has grown since.
            artifacts: also re-hash every object of every version's and run's artifacts
                (slower; reads every byte).

        Returns:
            A :class:`VerifyReport` (true when all is well).
        """
        if isinstance(expected_head, str):
            expected_head = Head.parse(expected_head)
        elif expected_head is not None:
            expected_head = Head(int(expected_head[0]), str(expected_head[1]).lower())
        result = self.log.verify(expected_head)
        report = VerifyReport(ok=result.ok, checked=result.checked, head=result.head,
                              first_bad_position=result.first_bad_position, problem=result.problem,
                              expected_head=expected_head)
        if not artifacts:
            return report
        checked, findings = self._verify_artifacts()
        if findings:
            first = min((f.position for f in findings if f.position is not None), default=None)
            problem = f"{len(findings)} stored artifact(s) missing or changed: {findings[0]}"
            if not report.ok:
                first, problem = report.first_bad_position, report.problem
            return attrs.evolve(report, ok=False, first_bad_position=first, problem=problem,
                                artifacts_checked=checked, artifact_problems=tuple(findings))
        return attrs.evolve(report, artifacts_checked=checked)

    def _verify_artifacts(self) -> tuple[int, list[ArtifactFinding]]:
        from eventreg.artifacts import Manifest

        owners: dict[tuple[str, int], list[tuple[str, str, int | None]]] = {}
        with self._reading() as state:  # type: ignore[attr-defined]
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
        for problem in self._artifact_store().verify(manifest):  # type: ignore[attr-defined]
            key = keys[int(problem.path.split("-", 1)[1])]
            text = str(problem).split(": ", 1)[1]
            for owner, path, position in owners[key]:
                findings.append(ArtifactFinding(owner=owner, path=path, sha256=key[0], position=position,
                                                problem=f"{path}: {text}"))
        findings.sort(key=lambda f: (f.position is None, f.position or 0, f.owner, f.path))
        return len(keys), findings

    # -- reports and subscriptions -------------------------------------------------------

    def audit_report(self, model: str, since: Any = None, until: Any = None, format: str = "json",
                     path: str | Path | None = None) -> str | Path:
        """
        An audit report of ``model``: a timeline of promotions and rollbacks and each
        version's lineage (data digest, code commit, params, metrics, who and when).

        Args:
            model: the model's name.
            since: start of the period (position, datetime or ISO-8601 string).
            until: end of the period; versions and aliases are shown as they stood then.
            format: ``"json"``, ``"csv"`` or ``"html"`` (one self-contained page).
            path: write the report to this file instead of returning its text.

        Returns:
            The report's text, or the ``Path`` written.

        Raises:
            NotFound: the model does not exist (at ``until``).
            ValidationError: an unknown format or an invalid moment.
        """
        from eventreg.reporting import build_report, render

        data = build_report(self, model, since=since, until=until)
        text = render(data, format)
        if path is None:
            return text
        target = Path(path)
        target.write_text(text, encoding="utf-8", newline="")
        return target

    def subscribe(self, consumer: str, handler: Callable[[RecordedEvent], Any], types: Iterable[str] | None = None,
                  *, poll_interval: float = 0.5, stop: Any = None, timeout: float | None = None,
                  batch: int = 1000) -> int:
        """
        Deliver every new event, in order, to ``handler``, durably: a restart resumes.

        The consumer's checkpoint (the last position it has handled) is stored in the
        log's backend after ``handler`` returns, so each event is delivered at least
        once, and exactly once unless the process dies between the handler and the
        checkpoint. Blocks, polling every ``poll_interval`` seconds, until ``stop`` or
        ``timeout``.

        Args:
            consumer: the consumer's durable name, e.g. ``"deployer"``.
            handler: called with each :class:`~eventreg.log.RecordedEvent`; if it
                raises, the error propagates and the event is delivered again next time.
            types: only these event types (the checkpoint still moves past others).
            poll_interval: seconds to wait when there is nothing new.
            stop: a ``threading.Event`` or a function returning true to stop.
            timeout: stop after this many seconds (None: only ``stop`` ends it; 0: deliver
                what is there now and return).
            batch: events read per query.

        Returns:
            How many events were delivered to ``handler``.
        """
        from eventreg.subscriptions import Subscription

        subscription = Subscription(self.log, consumer, handler, types=types, batch=batch)
        return subscription.run(poll_interval=poll_interval, stop=stop, timeout=timeout)


# -- helpers -----------------------------------------------------------------------------


def _code_version() -> str:
    from eventreg import __version__

    return __version__


def _read(log: Any, first: int, limit: int | None) -> Iterator[RecordedEvent]:
    """
    The log's events from ``first`` (up to ``limit``), read in chunks.
    """
    position = first
    while limit is None or position <= limit:
        size = CHUNK if limit is None else min(CHUNK, limit - position + 1)
        chunk = list(log.read_all(from_position=position, limit=size))
        yield from chunk
        if len(chunk) < size:
            return
        position = chunk[-1].position + 1


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
    One line saying what an event did, e.g. ``promoted iris v3 to production (was v2)``.
    """
    p = recorded.payload
    kind = recorded.type
    model = p.get("model")
    version = p.get("version")
    if kind == "alias.promoted":
        was = f" (was v{p['previous']})" if p.get("previous") is not None else ""
        return f"promoted {model} v{version} to {p.get('alias')}{was}" + (" [forced]" if p.get("forced") else "")
    if kind == "alias.rolled_back":
        return (f"rolled {p.get('alias')} of {model} back to v{version} (from v{p.get('previous')})"
                + (" [forced]" if p.get("forced") else ""))
    if kind == "version.registered":
        label = f" ({p['label']})" if p.get("label") else ""
        return f"registered {model} v{version}{label}"
    if kind == "model.created":
        return f"created model {model}"
    if kind in ("version.tag_set", "model.tag_set"):
        where = f"{model} v{version}" if version is not None else str(model)
        return f"set tag {p.get('key')}={p.get('value')} on {where}"
    if kind in ("version.tag_deleted", "model.tag_deleted"):
        where = f"{model} v{version}" if version is not None else str(model)
        return f"deleted tag {p.get('key')} of {where}"
    if kind in ("version.deprecated", "version.archived"):
        return f"{kind.split('.')[1]} {model} v{version}"
    if kind == "model.archived":
        return f"archived model {model}"
    if kind == "version.metrics_logged":
        keys = sorted({point.get("key") for point in p.get("points", ()) if isinstance(point, dict)})
        return f"logged {', '.join(map(str, keys))} on {model} v{version}"
    if kind in ("version.updated", "model.updated"):
        return f"updated description of {model}" + (f" v{version}" if version is not None else "")
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
    return kind


def position_at(log: Any, moment: Moment) -> int:
    """
    The last position at or before ``moment``: a position as is, a time by scanning
    the log up to the first event recorded after it.
    """
    if isinstance(moment, int):
        return moment
    position = 0
    for recorded in _read(log, 1, None):
        if recorded.recorded_at > moment:
            break
        position = recorded.position
    return position


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

