"""
The log's JSON: the canonical text that is hashed, and reading it back.

``decode_json`` lets msgspec read and hands what msgspec refuses to ``json.loads``; the
two must never differ, for the text eventreg writes and for any text a hand may have
put in a database (types, float bits, key order, errors). The canonical encoding is
stdlib ``json``: these tests pin its bytes for the values where other encoders differ.
"""

from __future__ import annotations

import json
import math
import sys
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventreg import log as L
from eventreg import log_encoding
from eventreg.backends.sql_rows import decode_rows
from eventreg.errors import InvalidEvent, LogCorrupted
from eventreg.log import NewEvent, canonical_json, decode_json, prepare_events
from tests.strategies import same_json as same


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def outcome(decode, text):
    """What ``decode(text)`` gives, or the kind of error it raises (a ValueError either way)."""
    try:
        return decode(text)
    except (ValueError, RecursionError):  # json.loads: RecursionError; decode_json: ValueError
        return ValueError


def check_decodes(text) -> None:
    expected = outcome(json.loads, text)
    got = outcome(decode_json, text)
    if expected is ValueError:
        assert got is ValueError, text
    else:
        assert got is not ValueError and same(got, expected), text
        if isinstance(expected, dict):
            assert list(got) == list(expected)


# -- generated values --------------------------------------------------------------------

ints = (st.integers()
        | st.integers(-(10**40), 10**40)
        | st.sampled_from([0, -1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 10**17, 10**18 - 1, 10**18,
                           -(10**18) + 1, 10**19, -(10**19), 2**64, -(2**64) - 1, 10**300]))
floats = (st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)
          | st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
                             0.1, 1 / 3, 1e-05, 1e-9, 1e22, 1e23, 9007199254740993.0, float("nan"),
                             float("inf"), float("-inf")]))
texts = st.text() | st.text(st.characters(min_codepoint=0, max_codepoint=0x1F) | st.sampled_from('"\\/\x7f'))
scalars = st.none() | st.booleans() | ints | floats | texts
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(texts, children, max_size=6),
    max_leaves=40,
)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_canonical_text_decodes_as_json_loads_decodes_it(value):
    check_decodes(canonical(value))
    check_decodes(canonical(value).encode("utf-8", "surrogatepass"))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_ascii_escaped_text_decodes_as_json_loads_decodes_it(value):
    check_decodes(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True))
    check_decodes(json.dumps(value, indent=1))  # whitespace, unsorted keys


@settings(max_examples=300)
@given(st.lists(st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF) | st.characters()), max_size=4))
def test_escaped_surrogates_decode_as_json_loads_decodes_them(value):
    check_decodes(json.dumps(value, separators=(",", ":"), ensure_ascii=True))


JSONISH = st.text(st.sampled_from(list('{}[]",:0123456789.eE+-truefalsnINiyaN\\u/ \t\x00\x1f\x7fé😀dD8c')),
                  max_size=24)


@settings(max_examples=1500)
@given(JSONISH | json_values.map(canonical).map(lambda t: t[: len(t) // 2] + t[len(t) // 2 + 1:]))
def test_mutated_text_decodes_or_fails_as_json_loads_does(text):
    check_decodes(text)


@pytest.mark.parametrize("text", [
    r'"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800"',
    r'"\ud800\u0041"', r'"\udc00"', r'"\ud800\ud800\udc00"', r'"\ud83d"', r'"\uD83D\uDE00"', r'"\udbff\udfff"',
    '"é😀\x7f\u2028\ufeff\uffff\U0010ffff"', '""', '{}', '[]', '[[]]', '{"":{}}',
    '{"a":1,"a":2,"b":3,"a":4}', '{"b":1,"a":2}',
    "0", "-0", "123456789012345678", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
    "1" * 60, "-" + "9" * 200, "0.0", "-0.0", "1e5", "1E5", "1e-5", "1e-05", "1e400", "-1e400", "1e-400",
    "4.9e-324", "2.4703282292062327e-324", "1.7976931348623157e308", "0." + "1" * 80, "9007199254740993.0",
    "NaN", "Infinity", "-Infinity", "[NaN,Infinity,-Infinity]", "true", "false", "null",
    " {} ", "\n[1, 2]\n", "", "{", "[1,]", "01", "nan", '"\\x"', '"a\x01b"', "{}x", "1 2", "[1][2]",
    '"\ud800"', "7" * 5000, "[" * 100 + "]" * 100, "[" * 5000 + "]" * 5000,
])
def test_edge_cases_decode_as_json_loads_decodes_them(text):
    check_decodes(text)


def test_nan_and_infinities_decode_to_the_floats_json_loads_gives():
    value = decode_json('{"a":NaN,"b":Infinity,"c":-Infinity}')
    assert math.isnan(value["a"]) and value["b"] == math.inf and value["c"] == -math.inf


def test_text_nested_deeper_than_python_reads_is_a_value_error():
    with pytest.raises(ValueError, match="nested deeper"):
        decode_json("[" * 100_000 + "]" * 100_000)


def test_an_int_longer_than_python_converts_is_a_value_error():
    if not hasattr(sys, "get_int_max_str_digits"):  # pragma: no cover - Python 3.10 before 3.10.7
        pytest.skip("no int digit limit")
    with pytest.raises(ValueError):
        decode_json("7" * 5000)


def test_values_are_new_objects():
    a, b = decode_json('{"a":[1]}'), decode_json('{"a":[1]}')
    assert a == b and a is not b and a["a"] is not b["a"]


# -- reading stored rows ---------------------------------------------------------------------


def row(payload, metadata="{}", recorded_at="2026-01-02T03:04:05.000006Z"):
    return (7, "s", 1, "t", 1, recorded_at, None, payload, metadata, "0" * 64, "1" * 64)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(texts, json_values, max_size=6), st.dictionaries(texts, json_values, max_size=3))
def test_stored_rows_decode_as_json_loads_decodes_them(payload, metadata):
    text, meta = canonical(payload), canonical(metadata)
    try:
        text.encode("utf-8"), meta.encode("utf-8")
    except UnicodeEncodeError:  # eventreg never stores a lone surrogate: that is damage
        with pytest.raises(LogCorrupted, match="position 7"):
            decode_rows([row(text, meta)])
        return
    (event,) = decode_rows([row(text, meta)])
    assert same(event.payload, json.loads(text)) and same(event.metadata, json.loads(meta))
    assert list(event.payload) == list(json.loads(text))


@pytest.mark.parametrize("payload, recorded_at, problem", [
    ("[" * 1000 + "]" * 1000, None, "not JSON"),
    ('{"a":' * 1000 + "1" + "}" * 1000, None, "nested"),
    ('{"a":"\\ud800"}', None, "lone surrogate"),
    (b'{"a":1}', None, "stored as bytes"),
    ('{"a":1', None, "not JSON"),
    ("[1,2]", None, "not a JSON object"),
    ('{"a":NaN}', "garbage", "recorded_at"),
    ('{"a":1}', "2026-13-45T99:99:99.000000Z", "recorded_at"),
    ('{"a":1}', 12345, "recorded_at"),
])
def test_a_damaged_row_is_log_corrupted_naming_its_position(payload, recorded_at, problem):
    with pytest.raises(LogCorrupted, match=f"position 7.*{problem}|{problem}.*position 7"):
        decode_rows([row(payload, recorded_at=recorded_at or "2026-01-02T03:04:05.000006Z")])


# -- the canonical text ------------------------------------------------------------------------


@pytest.mark.parametrize("value, text", [
    (1e-05, "1e-05"), (1e-9, "1e-09"), (0.0001, "0.0001"), (1e16, "1e+16"), (-0.0, "-0.0"),
    (float("nan"), "NaN"), (float("inf"), "Infinity"), (-float("inf"), "-Infinity"),
    (2**70, "1180591620717411303424"), (-(2**65), "-36893488147419103232"), (1 / 3, "0.3333333333333333"),
    ({"b": 1, "a": 2, "\u00e9": 3, "A": 4}, '{"A":4,"a":2,"b":1,"\u00e9":3}'),
    ("\u2028\x7f\x00\"\\/\U0001f600", '"\u2028\x7f\\u0000\\"\\\\/\U0001f600"'),
])
def test_canonical_text_of_the_values_other_encoders_write_differently(value, text):
    assert canonical_json(value) == text
    assert log_encoding._encode_checked(value) == text


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
    (NewEvent("t", {"a": datetime(2026, 1, 1)}), "payload.a is of type datetime"),
])
def test_prepare_refuses_what_cannot_be_recorded(event, message):
    prepare_events([NewEvent("t", {})], "known")  # "t" and "known" are remembered as valid names
    with pytest.raises(InvalidEvent) as raised:
        prepare_events([NewEvent("t", {}), event], None)
    assert message in str(raised.value)
