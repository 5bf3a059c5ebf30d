"""
Folding: the direct paths that fold plain payloads without building event objects give
exactly the projection (or the error) that decoding each payload and folding the event
object gives.
"""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventreg import open_log
from eventreg.domain import codec, state
from eventreg.domain import events as ev
from eventreg.errors import EventregError
from eventreg.log import canonical_json, decode_json

from tests.strategies import EVENT_STRATEGIES
from tests.test_codec import _OTHER_VALUES

#: the types folded straight from their payloads
DIRECT = sorted({ev.EVENT_TYPES[type_] for type_, _ in state._DIRECT}, key=lambda cls: cls.type)
#: the metric events, whose points are stored as columns from schema version 2 (a list of objects before)
METRIC_EVENTS = (ev.RunMetricsLogged, ev.VersionMetricsLogged)


def _prefix() -> list:
    """
    Events every generated event can apply to: model "m" with versions 1-2, run "r".
    """
    return [
        ev.ModelCreated(model="m"),
        ev.VersionRegistered(model="m", version=1),
        ev.VersionRegistered(model="m", version=2),
        ev.AliasPromoted(model="m", alias="prod", version=1, previous=None),
        ev.ExperimentCreated(experiment="e"),
        ev.RunStarted(run_id="r", experiment="e"),
    ]


def _aimed(event):
    """
    ``event`` pointed at the prefix's model, versions and run (where it names them).
    """
    names = {f.name for f in attrs.fields(type(event))}
    changes = {"model": "m", "run_id": "r", "experiment": "e"}
    changes = {k: v for k, v in changes.items() if k in names}
    if isinstance(event, ev.VersionRegistered):
        changes["version"] = 3
    elif "version" in names:
        changes["version"] = 1 + event.version % 2
    if isinstance(event, ev.RunStarted):
        changes["run_id"] = "r2"
    return attrs.evolve(event, **changes)


def _fold_both_ways(payloads: list[tuple]) -> tuple:
    """
    The outcome of folding ``(type, payload)`` pairs directly and through the codec:
    ``("ok", state)`` or ``("error", exception type, message)`` for each.
    """
    log = open_log("memory://")
    for type_, payload, *version in payloads:  # (type, payload[, schema version])
        log.append("s", [codec.NewEvent(type_, payload, schema_version=version[0] if version else 1)])
    recorded = list(log.read_all())
    outcomes = []
    for fast in (state._FAST, {}):
        saved = dict(state._FAST)
        state._FAST.clear()
        state._FAST.update(fast if fast is not state._FAST else saved)
        try:
            outcomes.append(("ok", state.fold(recorded)))
        except EventregError as e:
            outcomes.append(("error", type(e), str(e)))
        finally:
            state._FAST.clear()
            state._FAST.update(saved)
    return tuple(outcomes)


def _stored(event, schema_version: int | None = None) -> tuple[str, dict, int]:
    """
    ``(type, payload, schema version)`` of ``event`` as a backend gives it back; a metric
    event at ``schema_version`` 1 holds its points as a list of objects, as before columns.
    """
    type_, payload = codec.encode(event)
    if schema_version == 1 and isinstance(event, METRIC_EVENTS):
        payload = {**payload, "points": codec.converter.unstructure(event.points, tuple[ev.MetricPoint, ...])}
        return type_, decode_json(canonical_json(payload)), 1
    return type_, decode_json(canonical_json(payload)), event.schema_version


def test_every_direct_path_is_in_the_fold_table():
    assert DIRECT and all(state._FAST[key] is fold for key, fold in state._DIRECT.items())
    assert all((cls.type, version) in state._DIRECT for cls in METRIC_EVENTS for version in (1, 2))


@settings(max_examples=150, deadline=None)
@given(st.one_of(*(EVENT_STRATEGIES[cls] for cls in DIRECT)), st.sampled_from([1, 2]))
def test_a_plain_payload_folds_the_same_both_ways(event, version):
    # a metric event at schema version 1 (points a list of objects) or 2 (columns)
    direct, decoded = _fold_both_ways([*map(_stored, _prefix()), _stored(_aimed(event), version)])
    assert direct[0] == "ok", direct
    assert direct == decoded


@settings(max_examples=15, deadline=None)
@given(st.one_of(*(EVENT_STRATEGIES[cls] for cls in DIRECT)), st.sampled_from([1, 2]))
def test_an_unusual_payload_folds_the_same_both_ways(event, version):
    # a value of another JSON type, a missing key or an extra one: the direct path steps
    # aside and the codec converts or refuses it as it always did
    prefix = [_stored(e) for e in _prefix()]
    type_, stored, version = _stored(_aimed(event), version)
    variants = [{**stored, "unexpected": 1}]
    for key in stored:
        variants.append({k: v for k, v in stored.items() if k != key})
        variants += [{**stored, key: value} for value in _OTHER_VALUES]
    points = stored.get("points")
    if type(points) is dict:  # columns: each of them missing, another JSON type, one short
        for name in points:
            variants.append({**stored, "points": {k: v for k, v in points.items() if k != name}})
            variants += [{**stored, "points": {**points, name: value}} for value in _OTHER_VALUES]
            if type(points[name]) is list and points[name]:
                variants.append({**stored, "points": {**points, name: points[name][1:]}})
    for payload in variants:
        direct, decoded = _fold_both_ways([*prefix, (type_, payload, version)])
        assert direct == decoded, payload


def test_a_realistic_log_folds_the_same_both_ways():
    ts = codec.parse_timestamp("2026-01-01T00:00:00.000000Z")
    events = _prefix() + [
        ev.RunMetricsLogged(run_id="r", points=(ev.MetricPoint(key="loss", value=0.5, step=1, timestamp=ts),
                                                ev.MetricPoint(key="loss", value=0.4, step=2, timestamp=ts))),
        ev.VersionRegistered(model="m", version=3, label="best", params={"lr": 0.1}, tags={"a": "b"},
                             metrics=(ev.MetricPoint(key="acc", value=0.9, timestamp=ts),),
                             artifacts={"model.pkl": ev.ArtifactEntry(sha256="0" * 64, size=3)},
                             model_info={"path": "model", "flavor": {"name": "sklearn"}},
                             data={"uri": "s3://x"}, code={"commit": "abc"}, environment={"python": "3.11"},
                             architecture={"layers": 3}, run_id="r", parents=(1, 2)),
        ev.VersionMetricsLogged(model="m", version=3, points=(ev.MetricPoint(key="auc", value=1, timestamp=ts),)),
        ev.AliasPromoted(model="m", alias="prod", version=3, previous=1, reason="better", forced=True),
        ev.AliasRolledBack(model="m", alias="prod", version=1, previous=3, reason="regression"),
        ev.AliasRolledBack(model="m", alias="staging", version=2, previous=1),
    ]
    direct, decoded = _fold_both_ways([_stored(e) for e in events])
    assert direct[0] == "ok" and direct == decoded
    model = direct[1].models["m"]
    assert model.aliases == {"prod": 1, "staging": 2}
    assert model.versions[3].metrics == {"acc": 0.9, "auc": 1.0}
    assert [a.action for a in model.alias_history["prod"]] == ["promote", "promote", "rollback"]


@pytest.mark.parametrize("payload, version, message", [
    ({"run_id": "nobody", "points": []}, 1, "refers to something missing"),
    ({"run_id": "r", "points": [{"key": "k", "value": 1.0, "step": 2**63, "timestamp": "2026-01-01T00:00:00Z"}]}, 1,
     "out of range"),
    ({"run_id": "nobody", "points": {"key": [], "value": [], "step": [], "timestamp": []}}, 2,
     "refers to something missing"),
    ({"run_id": "r", "points": {"key": "k", "value": [1.0], "step": [2**63], "timestamp": "2026-01-01T00:00:00Z"}}, 2,
     "out of range"),
    ({"run_id": "r", "points": {"key": "k", "value": [1.0, 2.0], "step": [1], "timestamp": "2026-01-01T00:00:00Z"}},
     2, "does not match its type"),
    ({"run_id": "r", "points": [{"key": "k", "value": 1.0, "step": 1, "timestamp": "2026-01-01T00:00:00Z"}]}, 2,
     "does not match its type"),  # schema version 2 stores columns, not a list
])
def test_a_bad_metric_payload_is_the_same_error_both_ways(payload, version, message):
    prefix = [_stored(e) for e in _prefix()]
    direct, decoded = _fold_both_ways([*prefix, ("run.metrics_logged", payload, version)])
    assert direct == decoded and direct[0] == "error" and message in direct[2]
