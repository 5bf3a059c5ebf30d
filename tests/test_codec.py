"""
The event codec: every event survives the trip through the log, old payloads are
upcast, and an event type from a newer eventreg is a clear error.
"""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given, settings

from eventreg import NewEvent, UnknownEventType, open_log
from eventreg.domain import codec
from eventreg.domain import events as ev
from eventreg.domain.state import fold
from eventreg.log import canonical_json, decode_json

from tests.strategies import EVENT_STRATEGIES, any_event


def test_every_event_class_has_a_strategy_and_a_unique_wire_type():
    assert set(EVENT_STRATEGIES) == set(ev.EVENT_CLASSES)
    assert len(ev.EVENT_TYPES) == len(ev.EVENT_CLASSES)
    for cls in ev.EVENT_CLASSES:
        assert "." in cls.type and cls.schema_version >= 1


@settings(max_examples=300, deadline=None)
@given(any_event)
def test_round_trip_through_canonical_json(event):
    type_, payload = codec.encode(event)
    stored = decode_json(canonical_json(payload))  # exactly what a backend gives back
    assert codec.decode(type_, stored, event.schema_version) == event


@settings(max_examples=30, deadline=None)
@given(any_event)
def test_round_trip_through_a_log(event):
    log = open_log("memory://")
    [recorded] = log.append("s", [codec.to_new_event(event)])
    assert codec.decode_recorded(recorded) == event


def _outcome(structure, payload, cls):
    try:
        return "ok", structure(payload, cls)
    except Exception as e:  # noqa: BLE001 - compared below
        return "error", type(e)


@settings(max_examples=300, deadline=None)
@given(any_event)
def test_stored_payloads_are_built_directly_and_equal_what_cattrs_builds(event):
    cls = type(event)
    payload = decode_json(canonical_json(codec.encode(event)[1]))
    built = codec._PLAIN[cls](payload)
    assert built is not codec._SLOW  # what the codec wrote takes the direct path
    assert built == codec.converter.structure(payload, cls) == event
    for name in payload:  # same types, field by field (== would let 1 and 1.0 pass)
        assert type(getattr(built, name)) is type(getattr(event, name)), name


#: JSON values of every shape, put in place of a field's value
_OTHER_VALUES = [None, True, 0, 7, 1.5, float("nan"), "", "x", [], [1, 2], [True], ["a"], {}, {"a": 1}, {"a": "b"},
                 {"a": None}, [{"key": "k", "value": 1, "step": None, "timestamp": "2026-01-01T00:00:00.000000Z"}],
                 {"f": {"sha256": "0" * 64, "size": 1}}, {"f": {"sha256": "0" * 64, "size": True}}]


@settings(max_examples=100, deadline=None)
@given(any_event)
def test_an_unusual_payload_gives_what_cattrs_gives(event):
    # a value of another JSON type, a missing key or an extra one: the direct path steps
    # aside and cattrs converts or refuses it exactly as it always did
    cls = type(event)
    stored = decode_json(canonical_json(codec.encode(event)[1]))
    variants = [{**stored, "unexpected": 1}]
    for key in stored:
        variants.append({k: v for k, v in stored.items() if k != key})
        variants += [{**stored, key: value} for value in _OTHER_VALUES]
    for payload in variants:
        direct = _outcome(codec.structure_event, payload, cls)
        generic = _outcome(codec.converter.structure, payload, cls)
        assert direct[0] == generic[0], payload
        if direct[0] == "ok":
            assert direct[1] == generic[1], payload
            assert all(type(getattr(direct[1], f.name)) is type(getattr(generic[1], f.name))
                       for f in attrs.fields(cls)), payload
        else:
            assert direct[1] is generic[1], payload


def test_nan_metric_survives_and_compares_equal():
    point = ev.MetricPoint(key="loss", value=float("nan"), timestamp=codec.parse_timestamp("2026-01-01T00:00:00.000000Z"))
    event = ev.RunMetricsLogged(run_id="r", points=(point,))
    type_, payload = codec.encode(event)
    back = codec.decode(type_, decode_json(canonical_json(payload)))
    assert back == event
    assert back.points[0].value != back.points[0].value  # still NaN


def test_unknown_event_type_names_it_and_its_position():
    log = open_log("memory://")
    log.append("model:x", [NewEvent("model.teleported", {"model": "x"})])
    with pytest.raises(UnknownEventType, match=r"position 1.*'model\.teleported'"):
        fold(log.read_all())


def test_newer_schema_version_is_refused_not_guessed():
    payload = codec.encode(ev.ModelCreated(model="x"))[1]
    with pytest.raises(UnknownEventType, match="schema version 99 is newer"):
        codec.decode("model.created", payload, schema_version=99)


def test_older_payload_is_upcast_before_structuring(monkeypatch):
    # pretend model.tag_set is at schema 2 and schema 1 called the value "val"
    monkeypatch.setattr(ev.ModelTagSet, "schema_version", 2)
    monkeypatch.setitem(codec.UPCASTERS, ("model.tag_set", 1),
                        lambda p: {"model": p["model"], "key": p["key"], "value": p["val"]})
    old = {"model": "iris", "key": "team", "val": "vision"}
    assert codec.decode("model.tag_set", old, schema_version=1) == ev.ModelTagSet(
        model="iris", key="team", value="vision")


def test_missing_upcaster_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(ev.ModelArchived, "schema_version", 2)
    with pytest.raises(UnknownEventType, match="no upcaster"):
        codec.decode("model.archived", {"model": "x"}, schema_version=1)


def test_payload_of_the_wrong_shape_is_reported_as_corruption():
    from eventreg.errors import LogCorrupted

    with pytest.raises(LogCorrupted, match="version.tag_set"):
        codec.decode("version.tag_set", {"model": "x"})
