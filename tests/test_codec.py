"""
The event codec: every event survives the trip through the log, old payloads are
upcast, and an event type from a newer eventreg is a clear error.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventreg import LogCorrupted, NewEvent, UnknownEventType, open_log
from eventreg.domain import codec
from eventreg.domain import events as ev
from eventreg.domain.state import RegistryState, fold
from eventreg.log import canonical_json, decode_json, format_timestamp, parse_timestamp

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
    built = codec.PLAIN[cls](payload)
    assert built is not codec.NOT_PLAIN  # what the codec wrote takes the direct path
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


_json_objects = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    | st.dictionaries(st.integers(), inner, max_size=2),
    max_leaves=12,
).filter(lambda value: isinstance(value, dict)) | st.dictionaries(
    st.text(max_size=3), st.dictionaries(st.text(max_size=3), st.integers() | st.text(max_size=3)), max_size=3)


def _typed(value):
    """
    ``value`` with every leaf's type beside it (== would let 1 and 1.0, a list and a tuple pass).
    """
    if isinstance(value, dict):
        return ("dict", [(_typed(k), _typed(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_typed(v) for v in value])
    return (type(value).__name__, repr(value))


@settings(max_examples=300, deadline=None)
@given(_json_objects)
def test_an_object_field_is_unstructured_as_cattrs_unstructures_it(value):
    # params, environment, data ...: a plain object is copied directly, the rest by cattrs
    hook = codec.converter.get_unstructure_hook(dict[str, Any])
    assert hook is codec._unstructure_plain_object
    assert _typed(hook(value)) == _typed(codec._unstructure_object(value))


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


def test_metric_events_store_their_points_as_columns_and_read_the_list_written_before():
    # schema version 2 of the metric events: one object of columns, a key or a timestamp
    # every point shares written once; version 1's list of point objects is upcast
    t1, t2 = (datetime(2026, 1, 1, 0, 0, s, tzinfo=timezone.utc) for s in (1, 2))
    points = (ev.MetricPoint(key="loss", value=0.5, step=1, timestamp=t1),
              ev.MetricPoint(key="loss", value=float("nan"), step=None, timestamp=t1))
    event = ev.RunMetricsLogged(run_id="r", points=points)
    new = codec.to_new_event(event)
    assert new.schema_version == 2
    assert new.payload["points"]["key"] == "loss" and new.payload["points"]["timestamp"] == format_timestamp(t1)
    assert new.payload["points"]["step"] == [1, None]
    mixed = ev.VersionMetricsLogged(model="m", version=2, points=(
        ev.MetricPoint(key="a", value=1.0, step=0, timestamp=t1), ev.MetricPoint(key="b", value=2.0, timestamp=t2)))
    stored = decode_json(canonical_json(codec.encode(mixed)[1]))
    assert stored["points"] == {"key": ["a", "b"], "value": [1.0, 2.0], "step": [0, None],
                                "timestamp": [format_timestamp(t1), format_timestamp(t2)]}
    assert codec.decode("version.metrics_logged", stored, 2) == mixed
    listed = [{"key": p.key, "value": p.value, "step": p.step, "timestamp": format_timestamp(p.timestamp)}
              for p in mixed.points]
    assert codec.decode("version.metrics_logged", {"model": "m", "version": 2, "points": listed}, 1) == mixed
    with pytest.raises(LogCorrupted, match="run.metrics_logged"):  # version 2 is columns, not a list
        codec.decode("run.metrics_logged", {"run_id": "r", "points": listed}, 2)
    with pytest.raises(LogCorrupted, match="one length"):
        codec.decode("run.metrics_logged", {"run_id": "r", "points": {**stored["points"], "step": [0]}}, 2)


def test_missing_upcaster_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(ev.ModelArchived, "schema_version", 2)
    with pytest.raises(UnknownEventType, match="no upcaster"):
        codec.decode("model.archived", {"model": "x"}, schema_version=1)


def test_payload_of_the_wrong_shape_is_reported_as_corruption():
    from eventreg.errors import LogCorrupted

    with pytest.raises(LogCorrupted, match="version.tag_set"):
        codec.decode("version.tag_set", {"model": "x"})


@settings(max_examples=300, deadline=None)
@given(st.datetimes(timezones=st.just(timezone.utc)) | st.datetimes(timezones=st.timezones()))
def test_timestamps_read_back_as_written_on_every_path(moment):
    # format_timestamp/parse_timestamp have fast paths for UTC; both must give exactly
    # what the original formulas give, for any aware datetime
    text = format_timestamp(moment)
    utc = moment.astimezone(timezone.utc)
    assert text == utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    back = parse_timestamp(text)
    assert back == utc and back.tzinfo is timezone.utc
    assert back == datetime.fromisoformat(text[:-1]).replace(tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["2026-01-01Z", "2026-01-01T10:00:00", "2026-01-01T10:00:00+00:00Z"])
def test_a_timestamp_not_written_by_eventreg_is_read_as_before(text):
    # text another tool wrote: the last character dropped, the rest read as UTC (or refused)
    try:
        expected = datetime.fromisoformat(text[:-1]).replace(tzinfo=timezone.utc)
    except ValueError:
        with pytest.raises(ValueError):
            parse_timestamp(text)
    else:
        assert parse_timestamp(text) == expected


def test_a_fold_that_fails_keeps_every_event_before_the_bad_one():
    log = open_log("memory://")
    log.append("model:a", [codec.to_new_event(ev.ModelCreated(model="a"))])
    log.append("model:a", [codec.to_new_event(ev.ModelTagSet(model="a", key="k", value="v"))])
    log.append("model:b", [codec.to_new_event(ev.ModelTagSet(model="b", key="k", value="v"))])  # no model b
    state = RegistryState()
    with pytest.raises(LogCorrupted, match="at position 3: model.tag_set refers to something missing"):
        fold(log.read_all(), state)
    good = list(log.read_all())[1]
    assert (state.position, state.last_hash) == (2, good.hash)
    assert state.models["a"].tags == {"k": "v"} and state.streams == {"model:a": 2}
