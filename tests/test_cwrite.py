"""
The C accelerator of the append path (eventreg/_cwrite.c) against the Python code.

The hash chain is only as good as its canonical bytes: the C code must give exactly what
the Python code gives (which any outside tool can re-check), or hand the call back. Each
test runs both on the same input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventreg import NewEvent, open_log
from eventreg import log as L
from eventreg.errors import InvalidEvent
from tests.strategies import any_json, any_json_objects, any_texts, same_json

if L._accel is None:
    if os.environ.get("CI"):
        pytest.fail("the C accelerator eventreg._cwrite is not built (pip install -e . builds it)",
                    pytrace=False)
    pytest.skip("eventreg._cwrite is not built here", allow_module_level=True)

C = L._accel


#: the Python functions behind the bound C ones
PYTHON = {L.prepare_events: L._prepare_events_py, L.seal_rows: L._seal_rows_py}


def pure(function, *args, **kwargs):
    """
    ``function(*args, **kwargs)`` with the accelerator switched off: the reference result.
    """
    function = PYTHON.get(function, function)
    L._accel = None
    try:
        return function(*args, **kwargs)
    finally:
        L._accel = C


def has_surrogate(value) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# -- canonical JSON -----------------------------------------------------------------------


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(any_json)
def test_encode_gives_the_canonical_text(value):
    expected = L.canonical_json(value)
    got = C.encode(value)
    assert got == expected


@pytest.mark.parametrize("value", [
    0.1, 1e-05, 1e16, 1e22, -0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1 / 3,
    float("nan"), float("inf"), -float("inf"), 10**30, -(2**63), 2**63 - 1, 2**63, True, False, None,
    "\u2028\u2029\x7f\x00\x1f\"\\/\U0001f600\u00e9", {"b": 1, "a": 2, "\u00e9": 3, "A": 4, "": 5},
    {"\U0001f600": 1, "\uffff": 2}, [[[]], {}], {"z": {"y": [1.5, {"x": None}]}},
])
def test_encode_edge_values(value):
    assert C.encode(value) == L.canonical_json(value)


@pytest.mark.parametrize("value", [
    {"a": (1, 2)}, {1: "x"}, {"a": {1, 2}}, {"a": b"x"}, {"a": "\ud800"}, {"\udfff": 1},
    {"a": datetime(2026, 1, 1)}, [object()],
    type("D", (dict,), {})(a=1), type("F", (float,), {})(1.5), type("I", (int,), {})(3),
])
def test_encode_hands_back_what_only_python_judges(value):
    assert C.encode(value) is None


def test_encode_hands_back_deep_nesting():
    deep: list = []
    for _ in range(300):
        deep = [deep]
    assert C.encode(deep) is None
    assert C.encode({"a": [[[[1]]]]}) == '{"a":[[[[1]]]]}'


# -- prepare_events -----------------------------------------------------------------------

event_types = st.sampled_from(["metric.logged", "version.registered", "t\u00e9st"])
actors = st.none() | st.sampled_from(["alice", "\u00e9ve", "ci-bot"])
new_events = st.builds(
    NewEvent, event_types, any_json_objects, schema_version=st.integers(1, 3), actor=actors,
    metadata=st.none() | any_json_objects,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(new_events, max_size=5), actors)
def test_prepare_gives_what_python_gives(events, default_actor):
    try:
        expected = pure(L.prepare_events, events, default_actor)
    except InvalidEvent as e:
        expected = e
    # the names are known now (the Python code remembers valid ones), so C may take them
    try:
        got = L.prepare_events(events, default_actor)
    except InvalidEvent as e:
        assert isinstance(expected, InvalidEvent) and str(e) == str(expected)
        return
    assert not isinstance(expected, Exception), expected
    assert [type(p) for p in got] == [L.PendingEvent] * len(events)
    assert all(same_json(a, b) for a, b in zip(got, expected))
    if events and not any(has_surrogate((e.payload, e.metadata)) for e in events):
        # C took this call itself, not handing it back
        assert C.prepare(L._GOOD_TYPES, L._GOOD_ACTORS, NewEvent, L.PendingEvent, L.MAX_EVENT_BYTES, None,
                         events, default_actor) is not None


@pytest.mark.parametrize("event, message", [
    (NewEvent("t", {"a": (1, 2)}), "payload.a is of type tuple"),
    (NewEvent("t", {1: 2}), "key of type int"),
    (NewEvent("t", {"a": "\ud800"}), "not valid Unicode"),
    (NewEvent("t", {"a": "x" * (L.MAX_EVENT_BYTES + 1)}), "the limit is"),
    (NewEvent("t", {"a": 1}, metadata={"m": {1}}), "metadata.m is of type set"),
    (NewEvent("bad\ntype", {}), "event type"),
    (NewEvent("t", {}, schema_version=0), "schema_version"),
    (NewEvent("t", {}, actor="a\x00b"), "actor"),
    (NewEvent("t", type("D", (dict,), {})(a=1)), "payload is of type D"),
])
def test_prepare_refuses_like_python(event, message):
    L.prepare_events([NewEvent("t", {})], "known")  # "t" and "known" are valid names now
    with pytest.raises(InvalidEvent) as expected:
        pure(L.prepare_events, [NewEvent("t", {}), event], None)
    with pytest.raises(InvalidEvent) as got:
        L.prepare_events([NewEvent("t", {}), event], None)
    assert message in str(got.value)
    assert str(got.value) == str(expected.value)


def test_prepare_hands_back_generators_and_unknown_names():
    events = [NewEvent("never.seen.before", {"a": 1})]
    args = (L._GOOD_TYPES, L._GOOD_ACTORS, NewEvent, L.PendingEvent, L.MAX_EVENT_BYTES)
    assert C.prepare(*args, None, events, None) is None  # the Python code checks new names
    L.prepare_events(events, None)
    assert C.prepare(*args, None, events, None) is not None
    assert C.prepare(*args, None, iter(events), None) is None
    # given the Python function, C calls it with what it hands back
    calls = []
    assert C.prepare(*args, lambda *a: calls.append(a) or "python", iter(events), "me") == "python"
    assert len(calls) == 1 and calls[0][1] == "me"
    assert L.prepare_events(iter(events), None) == L.prepare_events(events, None)


# -- seal -----------------------------------------------------------------------------------

pending_lists = st.lists(new_events, min_size=1, max_size=6)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(pending_lists, any_texts.filter(lambda s: s and s.isprintable()), st.integers(1, 2**40),
       st.integers(1, 2**40), st.text("0123456789abcdef", min_size=64, max_size=64),
       st.datetimes(timezones=st.just(timezone.utc)))
def test_seal_gives_what_python_gives(events, stream_id, position, version, prev_hash, moment):
    try:
        pending = pure(L.prepare_events, events, "bench")
    except InvalidEvent:
        return
    kwargs = dict(first_position=position, first_stream_version=version, prev_hash=prev_hash, recorded_at=moment)
    expected = pure(L.seal, stream_id, pending, **kwargs)
    got = L.seal(stream_id, pending, **kwargs)
    if not has_surrogate(stream_id):
        assert C.seal(L.RecordedEvent, L.Prepared, None, stream_id, pending, position, version, prev_hash,
                      moment) is not None
    assert [type(p) for p in got] == [L.Prepared] * len(pending)
    assert [type(p.event) for p in got] == [L.RecordedEvent] * len(pending)
    assert all(same_json(a, b) for a, b in zip(got, expected))
    for item in got:  # each hash is the one anybody recomputes from the fields
        assert item.event.hash == L.event_hash(item.event)
    # seal_rows: the same events, and their stored rows appended to the list given
    expected_params: list = []
    expected_rows = pure(L.seal_rows, stream_id, pending, position, version, prev_hash, moment, expected_params)
    params: list = ["kept"]
    rows = L.seal_rows(stream_id, pending, position, version, prev_hash, moment, params)
    assert [type(e) for e in rows] == [L.RecordedEvent] * len(pending)
    assert same_json(rows, [item.event for item in expected]) and same_json(expected_rows, rows)
    assert params[0] == "kept" and same_json(params[1:], expected_params)
    assert same_json(expected_params, [v for item in expected for v in L.stored_row(item)])


def test_seal_hands_back_other_clocks():
    pending = L.prepare_events([NewEvent("t", {"a": 1})], None)
    args = (L.RecordedEvent, L.Prepared, None, "s", pending, 1, 1, "0" * 64)
    plus_one = datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    assert C.seal(*args, plus_one) is None
    assert C.seal(*args, datetime(2026, 1, 1)) is None
    assert C.seal(*args[:-1], "not hex", datetime.now(timezone.utc)) is None
    # seal_rows hands them to the Python function, with the list of rows as it was
    params = ["kept"]
    (event,) = L.seal_rows("s", pending, 1, 1, "0" * 64, plus_one, params)
    assert event.recorded_at == plus_one and event.recorded_at.tzinfo is timezone.utc
    assert params[0] == "kept" and params[6] == "2025-12-31T23:00:00.000000Z" and len(params) == 12
    # the Python code still records them, converted to UTC
    sealed = L.seal("s", pending, first_position=1, first_stream_version=1, prev_hash="0" * 64,
                    recorded_at=plus_one)
    assert sealed[0].recorded_at_text == "2025-12-31T23:00:00.000000Z"


@settings(max_examples=500)
@given(st.integers(-62135596800, 253402300799), st.integers(0, 999999))
def test_the_c_clock_makes_the_datetime_python_makes(seconds, micros):
    # seal(..., moment=None) reads the clock itself; its calendar arithmetic, on any second
    # from year 1 to 9999
    expected = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds, microseconds=micros)
    got = C.utc_datetime(seconds, micros)
    assert got == expected and got.tzinfo is timezone.utc and type(got) is datetime


def test_seal_rows_without_a_moment_records_now():
    pending = L.prepare_events([NewEvent("t", {"a": 1})], None)
    before = datetime.now(timezone.utc)
    params: list = []
    (event,) = L.seal_rows("s", pending, 1, 1, "0" * 64, None, params)
    after = datetime.now(timezone.utc)
    assert before <= event.recorded_at <= after and event.recorded_at.tzinfo is timezone.utc
    assert params[5] == L.format_timestamp(event.recorded_at)
    assert event.hash == L.event_hash(event)
    # and the Python code does the same
    params = []
    (event,) = pure(L.seal_rows, "s", pending, 1, 1, "0" * 64, None, params)
    assert after <= event.recorded_at <= datetime.now(timezone.utc) and params[5] == L.format_timestamp(event.recorded_at)


# -- whole logs -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["memory://", "sqlite", "file"])
def test_a_log_written_in_c_verifies_in_python(tmp_path, url):
    url = {"sqlite": f"sqlite:///{tmp_path}/c.db", "file": f"file://{tmp_path}/log"}.get(url, url)
    log = open_log(url, actor="ci")
    log.append("run:\u00e9", [NewEvent("metric.logged", {"value": 1 / 3, "step": i, "s": "\u2028\x01"})
                              for i in range(130)])
    log.append("model:iris", [NewEvent("version.registered", {"v": [1.5, None, {"k": float("nan")}]},
                                       metadata={"host": "\U0001f600"})])
    result = pure(log.verify)
    assert result.ok and result.checked == 131, result
    log.close()


def test_pure_python_switch():
    code = "import eventreg.log as L; print(L._accel is None)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "EVENTREG_PURE_PYTHON": "1"})
    assert out.stdout.strip() == "True"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={k: v for k, v in os.environ.items() if k != "EVENTREG_PURE_PYTHON"})
    assert out.stdout.strip() == "False"
