"""
eventreg._cread: the C reader of the SQLite events table and its JSON decoder.

The JSON decoder must give what json.loads gives (types, float bits, key order) for
the text it accepts, and hand everything else to the fallback; the reader must give
what stdlib sqlite3 + ``_decode_rows`` give.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import sqlite3
import subprocess
import sys
import threading
import tracemalloc

import _sqlite3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

if importlib.util.find_spec("eventreg._cread") is None:  # only when not built
    if os.environ.get("CI"):
        pytest.fail("the C reader eventreg._cread is not built (pip install -e . builds it)", pytrace=False)
    pytest.skip("the eventreg._cread extension is not built", allow_module_level=True)

from eventreg import _cread  # noqa: E402
from eventreg.backends.sql import _decode_rows, _decode_stored  # noqa: E402
from eventreg.errors import LogCorrupted  # noqa: E402
from eventreg.log import RecordedEvent, parse_timestamp  # noqa: E402
from tests.strategies import same_json as same  # noqa: E402

_cread.bind(_sqlite3.__file__)

COLUMNS = ("position, stream_id, stream_version, type, schema_version, recorded_at, actor, payload, "
           "metadata, prev_hash, hash")
SQL = f"SELECT {COLUMNS} FROM events WHERE position >= ? ORDER BY position LIMIT ?"


# -- helpers ---------------------------------------------------------------------------


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def no_fallback(text, position):
    raise AssertionError(f"fallback called for {text!r}")


class Recorder:
    """A fallback that records its calls and returns a marker."""

    def __init__(self):
        self.calls = []

    def __call__(self, text, position):
        self.calls.append((text, position))
        return ("fallback", text)


def check_decodes(text: str) -> None:
    assert same(_cread.decode(text, no_fallback), json.loads(text)), text


def check_falls_back(text: str) -> None:
    fb = Recorder()
    assert _cread.decode(text, fb) == ("fallback", text)
    assert fb.calls == [(text, 0)]


# -- JSON: generated values --------------------------------------------------------------

ints = (st.integers()
        | st.integers(-(10**40), 10**40)
        | st.sampled_from([0, -1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 10**17, 10**18 - 1, 10**18,
                           -(10**18) + 1, 10**19, -(10**19), 2**64, 10**300]))
floats = (st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)
          | st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
                             0.1, 1 / 3, 1e22, 1e23, 9007199254740993.0, float("nan"), float("inf"),
                             float("-inf")]))
texts = st.text() | st.text(st.characters(min_codepoint=0, max_codepoint=0x1F) | st.sampled_from('"\\/\x7f'))
scalars = st.none() | st.booleans() | ints | floats | texts
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(texts, children, max_size=6),
    max_leaves=40,
)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_decodes_canonical_text_as_json_loads(value):
    check_decodes(canonical(value))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_decodes_ascii_escaped_text_as_json_loads(value):
    # ensure_ascii=True: every non-ASCII character as \\uXXXX, surrogate pairs included
    check_decodes(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True))


@settings(max_examples=300)
@given(st.lists(st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF) | st.characters()), max_size=4))
def test_escaped_surrogates_decode_as_json_loads(value):
    # lone surrogates and pairs written as \uXXXX escapes (only ensure_ascii=True can write them)
    check_decodes(json.dumps(value, separators=(",", ":"), ensure_ascii=True))


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(["a", "b", "é", "\U0001f600", ""]), ints, max_size=5))
def test_key_order_kept(value):
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)  # insertion order, unsorted
    decoded = _cread.decode(text, no_fallback)
    assert list(decoded) == list(json.loads(text)) and same(decoded, json.loads(text))


JSONISH = st.text(st.sampled_from(list('{}[]",:0123456789.eE+-truefalsnINiyaN\\u/ \t\x00\x1f\x7fé😀dD8c')),
                  max_size=24)


@settings(max_examples=3000)
@given(JSONISH | json_values.map(canonical).map(lambda t: t[: len(t) // 2] + t[len(t) // 2 + 1:]))
def test_accepts_nothing_json_loads_refuses(text):
    """Text the decoder accepts decodes as json.loads decodes it; the rest goes to the fallback."""
    fb = Recorder()
    result = _cread.decode(text, fb)
    if fb.calls:
        assert fb.calls == [(text, 0)] and result == ("fallback", text)
        return
    assert same(result, json.loads(text)), text


# -- JSON: edge cases -------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    r'"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800"',
    r'"\ud800\u0041"', r'"\udc00"', r'"\ud800\ud800\udc00"', r'"\ud83d"', r'"\uD83D\uDE00"', r'"\udbff\udfff"',
    r'"\ud800\udbff"', r'"a\u0000b"', r'"\u001f\u007f\u2028"', r'"x\ud83d\\"', r'"\ud83d\u00e9"',
    '"é😀\x7f\u2028\ufeff\uffff\U0010ffff"', '""', '{}', '[]', '[[]]', '{"":{}}', '[{},[{}]]',
    '{"a":1,"a":2,"b":3,"a":4}', '{"b":1,"a":2}',
    "0", "-0", "1", "-1", "123456789012345678", "-123456789012345678", "999999999999999999",
    "1234567890123456789", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "-9223372036854775809", "1" * 60, "-" + "9" * 200,
    "0.0", "-0.0", "1.5", "1e5", "1E5", "1e+5", "1e-5", "-1.0e-5", "0e0", "0.1", "1e400", "-1e400",
    "1e-400", "4.9e-324", "2.4703282292062327e-324", "2.2250738585072011e-308", "1.7976931348623157e308",
    "0." + "1" * 80, "1" * 30 + ".5", "9007199254740993", "9007199254740993.0",
    "NaN", "Infinity", "-Infinity", "[NaN,Infinity,-Infinity]", "true", "false", "null",
    '[true,false,null,"x",1,-2.5,{"k":[]}]',
])
def test_edge_cases_decode_as_json_loads(text):
    check_decodes(text)


@pytest.mark.parametrize("text", [
    " {}", "{} ", "\n1", "1\n", '{"a": 1}', "[1, 2]", '{"a" :1}', "[ ]", "\t[]", '{"a":1 }',
])
def test_whitespace_goes_to_fallback(text):
    check_falls_back(text)


@pytest.mark.parametrize("text", [
    "", "{", "}", "[", "]", "[1,]", "[,1]", "{,}", '{"a":1,}', '{"a"}', '{"a":}', '{1:2}', "{'a':1}",
    "tru", "nul", "fals", "True", "None", "nan", "inf", "-inf", "-NaN", "+1", "-", "01", "-01", "00",
    "1.", ".5", "1.e5", "1e", "1e+", "-.5", "0x10", "1_000", '"abc', '"\\x"', '"\\u12"', '"\\u12G4"',
    '"\\', "'a'", '"a\x01b"', '"a\nb"', '"\x00"', '"\\\x00"', "\x00", "[1]]", '"\\U0001F600"',
    r'"\ud83d\u00""', r'"\ud83d\uZZZZ"', r'"\ud83d\u',
])
def test_invalid_text_goes_to_fallback(text):
    check_falls_back(text)


@pytest.mark.parametrize("text", [
    "{}x", "1 2", '"a"b', "truex", "NaNa", "[]\x00", "1\x00", '{"a":1}}', "[1][2]", "Infinityy", "nulll",
])
def test_trailing_garbage_goes_to_fallback(text):
    check_falls_back(text)


def test_lone_surrogate_in_the_text_goes_to_fallback():
    check_falls_back('"\ud800"')


def test_int_too_long_for_python_goes_to_fallback():
    text = "7" * 5000  # over sys.get_int_max_str_digits(): json.loads refuses it too
    if not hasattr(sys, "get_int_max_str_digits"):  # pragma: no cover - Python 3.10 before 3.10.7
        pytest.skip("no int digit limit")
    check_falls_back(text)
    with pytest.raises(ValueError):
        json.loads(text)


def test_nesting_deeper_than_the_limit_goes_to_fallback():
    depth = _cread.MAX_DEPTH
    value = _cread.decode("[" * depth + "]" * depth, no_fallback)
    for _ in range(depth - 1):
        assert len(value) == 1
        value = value[0]
    assert value == []
    check_falls_back("[" * (depth + 1) + "]" * (depth + 1))
    check_falls_back('{"a":' * (depth + 1) + "1" + "}" * (depth + 1))


def test_fallback_result_and_exceptions():
    assert _cread.decode("{ }", lambda text, position: {"ok": text}) == {"ok": "{ }"}

    def refuse(text, position):
        raise LogCorrupted(f"bad {text!r} at {position}")

    with pytest.raises(LogCorrupted, match="bad 'nope' at 0"):
        _cread.decode("nope", refuse)
    with pytest.raises(TypeError):
        _cread.decode(b"{}", no_fallback)


def test_values_are_new_objects():
    a, b = _cread.decode('{"a":[1]}', no_fallback), _cread.decode('{"a":[1]}', no_fallback)
    assert a == b and a is not b and a["a"] is not b["a"]
    assert math.isnan(_cread.decode("NaN", no_fallback))


# -- Reader ---------------------------------------------------------------------------------


def make_db(path, rows, wal=False):
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE events (position INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, "
        "stream_version INTEGER NOT NULL, type TEXT NOT NULL, schema_version INTEGER NOT NULL, "
        "recorded_at TEXT NOT NULL, actor TEXT, payload TEXT NOT NULL, metadata TEXT NOT NULL, "
        "prev_hash TEXT NOT NULL, hash TEXT NOT NULL)")
    conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.commit()
    conn.close()


def event_rows(count, start=1, tamper=()):
    rows, prev = [], "0" * 64
    for position in range(start, start + count):
        digest = f"{position:064x}"
        payload = canonical({"i": position, "value": 1.0 / position, "name": f"ü-{position % 7}",
                             "nested": {"list": [position, None, True, "\U0001f600"], "esc": "a\"b\\c\n"}})
        if position in tamper:
            payload = "not json {"
        metadata = "{}" if position % 3 else canonical({"corr": f"c{position}", "n": position % 5})
        rows.append((position, f"stream-{position % 4}" if position % 5 else "strom-é", position,
                     "Thing" if position % 2 else "Other", 1 + position % 2,
                     f"2026-03-0{1 + position // 10 % 9}T14:00:01.{position // 4:06d}Z",
                     None if position % 6 == 0 else ("bob" if position % 4 else "jürgen"),
                     payload, metadata, prev, digest))
        prev = digest
    return rows


def stdlib_read(path, lo, n):
    conn = sqlite3.connect(path)
    try:
        return _decode_rows(conn.execute(SQL, (lo, n)).fetchall())
    finally:
        conn.close()


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "events.db")
    make_db(path, event_rows(250, tamper=(200,)) + [
        # canonical-but-unusual texts and text the fallback decodes (whitespace)
        (300, "s", 1, "T", 1, "2026-03-03T14:00:01.000000Z", None, '{"a": [1, 2]}', ' {"m": 1} ', "0" * 64, "f" * 64),
        (301, "s", 2, "T", 1, "2026-03-03T14:00:01.000000Z", "", "[]", "{}", "f" * 64, "e" * 64),
        (302, "s", 3, "T", 1, "2026-03-03T14:00:01.000000Z", "x", '"just a string"', "{}", "e" * 64, "d" * 64),
        (303, "s", 4, "T", 1, "2026-03-03T14:00:01.000000Z", "x", "12345678901234567890123",
         '{"big":1e400,"nan":NaN}', "d" * 64, "c" * 64),
    ])
    return path


def read(reader, lo, n, fallback=_decode_stored, parse=parse_timestamp):
    return reader.read(SQL, lo, n, RecordedEvent, parse, fallback)


def test_reader_gives_what_stdlib_and_decode_rows_give(db):
    with _cread.Reader(db, False, 1000) as reader:
        for lo, n in [(1, 199), (1, 1), (17, 50), (150, 50), (300, 10), (250, 100), (400, 10), (0, 0)]:
            got = read(reader, lo, n)
            want = stdlib_read(db, lo, n)
            assert all(type(e) is RecordedEvent for e in got)
            assert same(got, want), (lo, n)
            assert [e.position for e in got] == [e.position for e in want]
        got = read(reader, 1, 20)
        assert got[5].actor is None and got[0].metadata == {} and got[2].metadata == {"corr": "c3", "n": 3}
        assert got[0].metadata is not got[1].metadata  # a new {} per row
        assert got[3].stream_id == "stream-0" and got[4].stream_id == "strom-é"
        assert got[0].payload["nested"]["list"][3] == "\U0001f600"


def test_reader_raises_what_the_fallback_raises(db):
    with _cread.Reader(db, False, 1000) as reader:
        with pytest.raises(LogCorrupted, match="position 200"):
            read(reader, 150, 100)
        with pytest.raises(LogCorrupted):
            stdlib_read(db, 150, 100)
        assert same(read(reader, 150, 50), stdlib_read(db, 150, 50))  # still usable
        assert same(read(reader, 201, 120), stdlib_read(db, 201, 120))


def test_reader_calls_fallback_only_for_text_it_does_not_accept(db):
    fb = Recorder()
    with _cread.Reader(db, False, 1000) as reader:
        got = read(reader, 1, 400, fallback=fb)
    assert [(text, position) for text, position in fb.calls] == [
        ("not json {", 200), ('{"a": [1, 2]}', 300), (' {"m": 1} ', 300)]
    assert got[199].payload == ("fallback", "not json {")


def test_reader_parses_each_timestamp_text_once_per_run(db):
    calls = []

    def parse(text):
        calls.append(text)
        return parse_timestamp(text)

    with _cread.Reader(db, False, 1000) as reader:
        got = read(reader, 1, 40, parse=parse)
    texts = [e.recorded_at for e in stdlib_read(db, 1, 40)]
    assert [e.recorded_at for e in got] == texts
    runs = sum(1 for i, _ in enumerate(texts) if i == 0 or texts[i] != texts[i - 1])
    assert len(calls) == runs < 40


def test_reader_keeps_and_replaces_its_statement(db):
    other = f"SELECT {COLUMNS} FROM events WHERE position >= ? ORDER BY position DESC LIMIT ?"
    with _cread.Reader(db, False, 1000) as reader:
        first = read(reader, 1, 5)
        assert [e.position for e in reader.read(other, 1, 3, RecordedEvent, parse_timestamp, _decode_stored)] == [
            303, 302, 301]
        assert same(read(reader, 1, 5), first)
        assert same(reader.read("".join(SQL), 1, 5, RecordedEvent, parse_timestamp, _decode_stored), first)


def test_reader_refuses_other_statements(db):
    with _cread.Reader(db, False, 1000) as reader:
        with pytest.raises(ValueError, match="11 columns"):
            reader.read("SELECT position FROM events WHERE position >= ? LIMIT ?", 1, 1, RecordedEvent,
                        parse_timestamp, _decode_stored)
        with pytest.raises(ValueError, match="2 parameters"):
            reader.read(SQL + " OFFSET ?", 1, 1, RecordedEvent, parse_timestamp, _decode_stored)
        with pytest.raises(ValueError, match="one statement"):
            reader.read(SQL + "; SELECT 1", 1, 1, RecordedEvent, parse_timestamp, _decode_stored)
        with pytest.raises(_cread.Error, match="no such table"):
            reader.read(SQL.replace("events", "no_table"), 1, 1, RecordedEvent, parse_timestamp, _decode_stored)
        with pytest.raises(TypeError):
            reader.read(SQL, 1, 1, dict, parse_timestamp, _decode_stored)
        assert type(reader.read(SQL, 1, 1, tuple, parse_timestamp, _decode_stored)[0]) is tuple


def test_reader_is_query_only(db):
    with _cread.Reader(db, False, 1000) as reader:
        with pytest.raises(_cread.Error) as info:
            reader.read("DELETE FROM events WHERE position >= ? AND position < ? RETURNING " + COLUMNS, 1, 2,
                        RecordedEvent, parse_timestamp, _decode_stored)
    assert "readonly" in str(info.value) or "read-only" in str(info.value) or "query_only" in str(info.value)
    assert len(stdlib_read(db, 1, 5)) == 5


def test_missing_file_is_an_error(tmp_path):
    path = tmp_path / "missing.db"
    with pytest.raises(_cread.Error) as info:
        _cread.Reader(str(path), False, 50)
    assert isinstance(info.value, Exception) and info.value.code & 0xFF == 14  # SQLITE_CANTOPEN
    assert not path.exists()
    with pytest.raises(_cread.Error):
        _cread.Reader(f"file:{path}?mode=rw", True, 50)
    assert not path.exists()


def test_uri_filename(db):
    with _cread.Reader(f"file:{db}?mode=ro", True, 1000) as reader:
        assert same(read(reader, 1, 10), stdlib_read(db, 1, 10))


@pytest.mark.parametrize("schema_known", [False, True])
def test_locked_database_is_a_busy_error(db, schema_known):
    reader = _cread.Reader(db, False, 50)
    if schema_known:
        read(reader, 1, 1)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(_cread.Error) as info:
            read(reader, 1, 10)
        assert info.value.code & 0xFF == _cread.SQLITE_BUSY
        assert "locked" in str(info.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert same(read(reader, 1, 10), stdlib_read(db, 1, 10))
    reader.close()


def test_reader_ends_its_read_transaction(tmp_path):
    path = str(tmp_path / "wal.db")
    make_db(path, event_rows(30), wal=True)
    with _cread.Reader(path, False, 1000) as reader:
        assert len(read(reader, 1, 10)) == 10
        writer = sqlite3.connect(path, isolation_level=None)
        writer.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?)", event_rows(5, start=31))
        # a reader still inside a transaction would block a full checkpoint
        assert writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        writer.close()
        assert [e.position for e in read(reader, 29, 10)] == [29, 30, 31, 32, 33, 34, 35]


def test_closed_reader(db):
    reader = _cread.Reader(db, False, 1000)
    reader.close()
    reader.close()
    with pytest.raises(RuntimeError):
        read(reader, 1, 1)


def test_reader_is_not_reentrant(db):
    with _cread.Reader(db, False, 1000) as reader:
        def fallback(text, position):
            return read(reader, 1, 1)

        with pytest.raises(RuntimeError, match="inside its own read"):
            read(reader, 195, 10, fallback=fallback)
        assert len(read(reader, 1, 3)) == 3


def test_reader_shared_between_threads(db):
    want = stdlib_read(db, 1, 199)
    errors = []
    with _cread.Reader(db, False, 1000) as reader:
        def work():
            try:
                for _ in range(30):
                    assert same(read(reader, 1, 199), want)
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []


def test_no_leaks(db):
    """Memory stays flat over many reads, successful and failing."""
    def raising(text, position):
        raise LogCorrupted("x")

    with _cread.Reader(db, False, 1000) as reader:
        def cycle():
            read(reader, 1, 400, fallback=lambda t, p: None)
            with pytest.raises(LogCorrupted):
                read(reader, 190, 20, fallback=raising)
            with pytest.raises(_cread.Error):
                reader.read(SQL.replace("events", "no_table"), 1, 1, RecordedEvent, parse_timestamp, raising)
            _cread.decode('{"a":[1,2.5,"x\\u00e9",{"b":null}]}', no_fallback)
            _cread.decode('{"a" :1}', lambda t, p: json.loads(t))

        for _ in range(20):
            cycle()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            for _ in range(200):
                cycle()
            grown = tracemalloc.get_traced_memory()[0] - base
        finally:
            tracemalloc.stop()
    assert grown < 64_000, grown


def test_bind_and_unbound_module():
    script = f"""
import _sqlite3, _json
from eventreg import _cread
for call in (lambda: _cread.Reader({__file__!r}, False, 1), _cread.sqlite_version):
    try:
        call()
    except RuntimeError as e:
        print("RuntimeError", e)
print(_cread.decode('[1]', None))
try:
    _cread.bind("/nonexistent/_sqlite3.so")
except ImportError as e:
    print("ImportError not loaded")
try:
    _cread.bind(_json.__file__)
except ImportError as e:
    print("ImportError", e)
_cread.bind(_sqlite3.__file__)
_cread.bind(_sqlite3.__file__)
import sqlite3
print(_cread.sqlite_version() == sqlite3.sqlite_version)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert lines[0].startswith("RuntimeError") and lines[1].startswith("RuntimeError")
    assert lines[2] == "[1]"
    assert lines[3] == "ImportError not loaded"
    assert lines[4].startswith("ImportError") and "sqlite3_open_v2" in lines[4]
    assert lines[5] == "True"


def test_nan_and_infinities_are_the_objects_json_loads_gives():
    # lists and dicts compare items by identity first: [nan] == [nan] only for one NaN
    # object, and history, states and copies are compared that way
    for text in ("NaN", "Infinity", "-Infinity"):
        assert _cread.decode(f"[{text}]", no_fallback)[0] is json.loads(f"[{text}]")[0]
    assert _cread.decode('{"a":NaN}', no_fallback) == json.loads('{"a":NaN}')
