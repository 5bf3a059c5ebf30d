"""
eventreg._cread.Writer: appends to the SQLite events table in one C transaction.

Rows are built as the log builds them (``prepare_events`` + ``seal(..., params=...)``)
and written with multi-row INSERTs (here mostly guarded ones, which insert nothing unless
the row before is stored, to exercise the row count check; the log itself checks the
previous hash with append's ``guard`` query); the file is then reopened with ``open_log``
and read back and verified. ``append`` returns False (nothing written) when the guard
refuses, a chunk inserts fewer rows than it says, or a PRIMARY KEY / UNIQUE constraint
fails, and raises (nothing written) on every other error.
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from datetime import datetime, timezone

import _sqlite3
import pytest

if importlib.util.find_spec("eventreg._cread") is None:  # only when not built
    if os.environ.get("CI"):
        pytest.fail("the C extension eventreg._cread is not built (pip install -e . builds it)", pytrace=False)
    pytest.skip("the eventreg._cread extension is not built", allow_module_level=True)

import eventreg  # noqa: E402
from eventreg import _cread  # noqa: E402
from eventreg.backends.sql import SQLITE_STATEMENTS, _Statements  # noqa: E402
from eventreg.log import GENESIS_HASH, NewEvent, prepare_events, seal_rows  # noqa: E402

_cread.bind(_sqlite3.__file__)

STATEMENTS = _Statements(SQLITE_STATEMENTS)
COLUMNS = 11
ROWS_PER_CHUNK = 64


# -- helpers ---------------------------------------------------------------------------


def build(stream, count, *, after=(0, GENESIS_HASH), version=1, payload=None):
    """Rows for ``count`` events of ``stream`` following the event ``after``: (params, events)."""
    payload = payload or (lambda i: {"i": i, "text": f"event {i} é"})
    pending = prepare_events([NewEvent("thing.happened", payload(i)) for i in range(count)], "tester")
    params: list = []
    events = seal_rows(stream, pending, after[0] + 1, version, after[1], datetime.now(timezone.utc), params)
    assert len(params) == count * COLUMNS
    return params, events


def guarded_insert(rows):
    """A multi-row INSERT that inserts nothing unless the row its last two parameters name is stored."""
    head, _, values = STATEMENTS.insert_texts[rows].partition(" VALUES ")
    return (f"{head} SELECT * FROM (VALUES {values}) WHERE COALESCE((SELECT hash FROM eventreg_events "
            f"WHERE position = ?), '{GENESIS_HASH}') = ?")


def chunks(params, after=(0, GENESIS_HASH), size=ROWS_PER_CHUNK):
    """The append's chunks as the log writes them: each guarded by the row before it."""
    out, previous = [], list(after)
    for start in range(0, len(params), size * COLUMNS):
        part = params[start:start + size * COLUMNS]
        rows = len(part) // COLUMNS
        out.append((guarded_insert(rows), part + previous, rows))
        previous = [part[-COLUMNS], part[-1]]  # this chunk's last position and hash
    return out


def head_of(events):
    return events[-1].position, events[-1].hash


def stored(path):
    """Every event as open_log reads it back, after checking the chain."""
    log = eventreg.open_log(f"sqlite:///{path}")
    try:
        events = list(log.read_all())
        result = log.verify()
        assert result.ok, result
        return events
    finally:
        log.close()


def count_rows(path):
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT count(*) FROM eventreg_events").fetchone()[0]


def execute(path, script):
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.executescript(script)


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def rss_growth(cycle):
    """RSS growth in KiB over cycle(5000) ... cycle(19999), after cycle(0) ... cycle(4999) warmed up."""
    for i in range(5_000):
        cycle(i)
    before = rss_kib()
    for i in range(5_000, 20_000):
        cycle(i)
    return rss_kib() - before


@pytest.fixture
def path(tmp_path):
    p = str(tmp_path / "x.db")
    eventreg.open_log(f"sqlite:///{p}").close()
    return p


@pytest.fixture
def writer(path):
    with _cread.Writer(path, False, 1000, "FULL", 300) as w:
        yield w


# -- appends -----------------------------------------------------------------------------


def test_one_row(path, writer):
    params, events = build("s1", 1)
    assert writer.append(chunks(params)) is True
    assert stored(path) == events


def test_three_chunks_in_one_append(path, writer):
    params, events = build("s1", 131)
    parts = chunks(params)
    assert [rows for _, _, rows in parts] == [64, 64, 3]
    assert writer.append(parts) is True
    more, later = build("s2", 70, after=head_of(events))  # the statements again, from the cache
    assert writer.append(chunks(more, after=head_of(events))) is True
    assert stored(path) == events + later


def test_no_chunks_is_a_no_op(path, writer):
    assert writer.append([]) is True
    assert count_rows(path) == 0


def test_more_statements_than_the_cache_holds(path, writer):
    """20 different SQL texts in one append: statements are replaced mid-transaction."""
    params, events = build("s1", 210)
    parts, previous, start = [], [0, GENESIS_HASH], 0
    for rows in range(1, 21):
        part = params[start:start + rows * COLUMNS]
        parts.append((guarded_insert(rows), part + previous, rows))
        previous, start = [part[-COLUMNS], part[-1]], start + rows * COLUMNS
    assert writer.append(parts) is True
    assert writer.append([(sql, list(p), rows) for sql, p, rows in parts]) is False  # same rows: PK conflict
    assert stored(path) == events


def test_guard_refuses_a_wrong_previous_hash(path, writer):
    first, events = build("s1", 1)
    assert writer.append(chunks(first)) is True
    wrong = (1, "f" * 64)
    params, _ = build("s1", 70, after=wrong, version=2)
    assert writer.append(chunks(params, after=wrong)) is False
    missing = (5, events[0].hash)  # no event at position 5
    params, _ = build("s1", 1, after=missing, version=2)
    assert writer.append(chunks(params, after=missing)) is False
    assert stored(path) == events
    params, later = build("s1", 3, after=head_of(events), version=2)  # still usable
    assert writer.append(chunks(params, after=head_of(events))) is True
    assert stored(path) == events + later


def test_primary_key_conflict_returns_false(path, writer):
    first, events = build("s1", 1)
    assert writer.append(chunks(first)) is True
    again, _ = build("s2", 1)  # position 1 again; the guard (position 0) passes
    assert writer.append(chunks(again)) is False
    assert stored(path) == events


def test_unique_conflict_in_a_later_chunk_returns_false(path, writer):
    first, events = build("s1", 1)
    assert writer.append(chunks(first)) is True
    ok, ok_events = build("s2", 64, after=head_of(events))
    clash, _ = build("s1", 1, after=head_of(ok_events), version=1)  # s1 version 1 exists
    parts = chunks(ok, after=head_of(events)) + chunks(clash, after=head_of(ok_events))
    assert [rows for _, _, rows in parts] == [64, 1]
    assert writer.append(parts) is False
    assert stored(path) == events
    assert writer.append(parts[:1]) is True
    assert stored(path) == events + ok_events


def test_trigger_abort_after_a_good_chunk_raises(path):
    """
    RAISE(ABORT) in a trigger is SQLITE_CONSTRAINT_TRIGGER: append raises Error (a retry
    would meet the same trigger, unlike a PRIMARY KEY / UNIQUE conflict), nothing written.
    """
    execute(path, "CREATE TRIGGER boom BEFORE INSERT ON eventreg_events WHEN NEW.payload LIKE '%boom%' "
                  "BEGIN SELECT RAISE(ABORT, 'boom'); END")
    with _cread.Writer(path, False, 1000, "FULL", 300) as writer:
        params, events = build("s1", 67, payload=lambda i: {"say": "boom" if i == 65 else "ok"})
        parts = chunks(params)
        assert [rows for _, _, rows in parts] == [64, 3]
        with pytest.raises(_cread.Error, match="boom") as info:
            writer.append(parts)
        assert info.value.code == _cread.SQLITE_CONSTRAINT_TRIGGER
        assert count_rows(path) == 0
        params, events = build("s1", 67)
        assert writer.append(chunks(params)) is True
    execute(path, "DROP TRIGGER boom")
    assert stored(path) == events


def test_failing_commit_rolls_back_and_raises(path):
    """A deferred foreign key fails only at COMMIT: Error, rolled back, the Writer goes on."""
    execute(path, "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
                  "CREATE TABLE child (pid REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);")
    with _cread.Writer(path, False, 1000, "FULL", 300) as writer:
        assert writer.pragma("foreign_keys", 1) is None and writer.pragma("foreign_keys") == 1
        params, events = build("s1", 5)
        orphan = ("INSERT INTO child VALUES (?)", [99], 1)
        with pytest.raises(_cread.Error, match="FOREIGN KEY") as info:
            writer.append(chunks(params) + [orphan])
        assert info.value.code & 0xFF == _cread.SQLITE_CONSTRAINT
        assert count_rows(path) == 0
        assert writer.append(chunks(params)) is True
    assert stored(path) == events


def test_full_database_raises_and_rolls_back(path, writer):
    first, events = build("s1", 1)
    assert writer.append(chunks(first)) is True
    pages = writer.pragma("page_count")
    assert writer.pragma("max_page_count", pages) == pages
    params, later = build("s1", 200, after=head_of(events), version=2, payload=lambda i: {"pad": "x" * 2000})
    with pytest.raises(_cread.Error) as info:
        writer.append(chunks(params, after=head_of(events)))
    assert info.value.code & 0xFF == 13  # SQLITE_FULL
    assert stored(path) == events
    writer.pragma("max_page_count", 1 << 30)
    assert writer.append(chunks(params, after=head_of(events))) is True
    assert stored(path) == events + later


def test_locked_database_is_a_busy_error(path):
    with _cread.Writer(path, False, 50, "FULL", 300) as writer:
        params, events = build("s1", 3)
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            started = time.monotonic()
            with pytest.raises(_cread.Error, match="locked") as info:
                writer.append(chunks(params))
            assert time.monotonic() - started >= 0.04  # waited out the busy timeout
            assert info.value.code & 0xFF == _cread.SQLITE_BUSY
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert writer.append(chunks(params)) is True
    assert stored(path) == events


BAD_VALUES = [object(), {"a": 1}, [1], bytearray(b"x"), 2**63, -(2**63) - 1, "\ud800"]


@pytest.mark.parametrize("bad", BAD_VALUES, ids=repr)
@pytest.mark.parametrize("where", ["first chunk", "third chunk"])
def test_bad_parameters_raise_and_write_nothing(path, writer, bad, where):
    params, events = build("s1", 131)
    parts = chunks(params)
    index = 0 if where == "first chunk" else 2
    sql, values, rows = parts[index]
    spoiled = list(values)
    spoiled[COLUMNS + 7] = bad  # the second row's payload
    expected = (OverflowError if isinstance(bad, int) else UnicodeEncodeError if isinstance(bad, str)
                else TypeError)
    with pytest.raises(expected):
        writer.append(parts[:index] + [(sql, spoiled, rows)] + parts[index + 1:])
    assert count_rows(path) == 0
    assert writer.append(parts) is True
    assert stored(path) == events


def test_one_guarded_chunk_is_checked_as_any_other(path, writer):
    # a guard and one chunk run in one release of the GIL, bound beforehand
    from eventreg.backends.sql import HASH_AT

    first, events = build("s1", 1)
    assert writer.append(STATEMENTS.insert_chunks(first)) is True
    guard = (HASH_AT, [1], events[0].hash)
    params, more = build("s1", 2, after=head_of(events), version=2)
    ((sql, values, rows),) = STATEMENTS.insert_chunks(params)
    for bad in BAD_VALUES:
        spoiled = list(values)
        spoiled[COLUMNS + 7] = bad
        with pytest.raises((OverflowError, UnicodeEncodeError, TypeError)):
            writer.append([(sql, spoiled, rows)], guard, True)
    cases = [
        ((sql, values[:-1], rows), ValueError, "parameters"),
        ((sql, values, 1), ValueError, "more rows"),
        (("INSERT INTO nowhere VALUES (1)", [], 1), _cread.Error, "no such table"),
        (("SELECT 1", [], 0), ValueError, "write"),
        ((sql, values), TypeError, "chunk 0"),
    ]
    for chunk, error, text in cases:
        with pytest.raises(error, match=text):
            writer.append([chunk], guard, True)
    assert count_rows(path) == 1
    assert writer.append([(sql, values, rows)], (HASH_AT, [1], "f" * 64)) is False
    assert writer.append([(sql, values, rows)], guard, True) is True
    assert stored(path) == events + more


def test_malformed_chunks(path, writer):
    params, events = build("s1", 2)
    sql, values, rows = chunks(params)[0]
    good = (sql, values, rows)
    cases = [
        ([(sql, values[:-1], rows)], ValueError, "parameters"),
        ([(sql, values + [1], rows)], ValueError, "parameters"),
        ([good, ("SELECT 1", [], 0)], ValueError, "write"),
        ([good, ("BEGIN", [], 0)], ValueError, "write"),
        ([good, ("COMMIT", [], 0)], ValueError, "write"),
        ([good, ("INSERT INTO eventreg_checkpoints VALUES ('a', 1); SELECT 1", [], 1)], ValueError, "one statement"),
        ([good, ("", [], 0)], ValueError, "no statement"),
        ([good, ("INSERT INTO nowhere VALUES (1)", [], 1)], _cread.Error, "no such table"),
        ([(sql, values, 1)], ValueError, "more rows"),  # says 1 row, inserts 2
        ([good, (sql, values, -1)], ValueError, "rows"),
        ([good, (sql, tuple(values), "2")], TypeError, "chunk 1"),
        ([good, (sql, values)], TypeError, "chunk 1"),
        ([good, [sql, values, rows, 0]], TypeError, "chunk 1"),
        ([good, "INSERT"], TypeError, "chunk 1"),
    ]
    for parts, error, text in cases:
        with pytest.raises(error, match=text):
            writer.append(parts)
        assert count_rows(path) == 0, parts
    with pytest.raises(TypeError):
        writer.append(iter([good]))
    assert writer.append((list(good),)) is True  # a tuple of lists is accepted too
    assert stored(path) == events


def test_value_types_bind_as_stdlib_sqlite3_binds_them(path):
    execute(path, "CREATE TABLE scratch (a, b, c, d, e, f, g)")
    values = [
        [2**63 - 1, 2.5, "plain", b"\x00blob", None, True, "é😀\x00after nul"],
        [-(2**63), float("-inf"), "", b"", None, False, "\U0010ffff"],
    ]
    with _cread.Writer(path, False, 1000, "OFF", 300) as writer:
        for row in values:
            assert writer.append([("INSERT INTO scratch VALUES (?, ?, ?, ?, ?, ?, ?)", row, 1)]) is True
    with closing(sqlite3.connect(path)) as conn:
        got = conn.execute("SELECT * FROM scratch ORDER BY rowid").fetchall()
        conn.execute("DELETE FROM scratch")
        conn.executemany("INSERT INTO scratch VALUES (?, ?, ?, ?, ?, ?, ?)", values)
        want = conn.execute("SELECT * FROM scratch ORDER BY rowid").fetchall()
        types = conn.execute("SELECT typeof(a), typeof(b), typeof(c), typeof(d), typeof(e), typeof(f), typeof(g) "
                             "FROM scratch").fetchall()
    assert got == want
    assert types[0] == ("integer", "real", "text", "blob", "null", "integer", "text")


# -- the connection ------------------------------------------------------------------------


@pytest.mark.parametrize("level, number", [("OFF", 0), ("NORMAL", 1), ("FULL", 2), ("EXTRA", 3)])
def test_synchronous_and_other_settings(path, level, number):
    with _cread.Writer(path, False, 1234, level, 77) as writer:
        assert writer.pragma("synchronous") == number
        assert writer.pragma("wal_autocheckpoint") == 77
        assert writer.pragma("busy_timeout") == 1234
        assert writer.pragma("journal_mode") == "wal"
    with _cread.Writer(path) as writer:  # the defaults
        assert writer.pragma("synchronous") == 2 and writer.pragma("busy_timeout") == 5000


@pytest.mark.parametrize("level", ["full", "ON", "FULL; DROP TABLE eventreg_events", "", "2"])
def test_other_synchronous_values_are_refused(path, level):
    with pytest.raises(ValueError, match="synchronous"):
        _cread.Writer(path, False, 1000, level, 300)


def test_pragma_names_are_checked(writer):
    for name in ["", "synchronous=0", "x; DROP TABLE eventreg_events", "a" * 65]:
        with pytest.raises(ValueError):
            writer.pragma(name)
    with pytest.raises(TypeError):
        writer.pragma("synchronous", "OFF")


def test_needs_an_existing_wal_database(tmp_path):
    missing = str(tmp_path / "missing.db")
    with pytest.raises(_cread.Error):
        _cread.Writer(missing, False, 1000, "FULL", 300)
    assert not os.path.exists(missing)  # never created
    rollback_journal = str(tmp_path / "delete.db")
    execute(rollback_journal, "CREATE TABLE t (x)")
    with pytest.raises(_cread.Error, match="journal_mode delete, not wal"):
        _cread.Writer(rollback_journal, False, 1000, "FULL", 300)


def test_uri_filename(path):
    params, events = build("s1", 2)
    with _cread.Writer(f"file:{path}?cache=private", True, 1000, "FULL", 300) as writer:
        assert writer.append(chunks(params)) is True
    assert stored(path) == events
    with pytest.raises(_cread.Error):
        _cread.Writer(f"file:{path}?mode=ro", True, 1000, "FULL", 300).append(chunks(params))


def test_closed_writer(path):
    writer = _cread.Writer(path, False, 1000, "FULL", 300)
    writer.close()
    writer.close()
    params, _ = build("s1", 1)
    with pytest.raises(RuntimeError, match="closed"):
        writer.append(chunks(params))
    with pytest.raises(RuntimeError, match="closed"):
        writer.pragma("synchronous")
    with _cread.Writer(path) as other:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        other.append([])


def test_writer_needs_bind():
    script = """
from eventreg import _cread
try:
    _cread.Writer("x.db", False, 1, "FULL", 300)
except RuntimeError as e:
    print("RuntimeError", e)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.startswith("RuntimeError") and "bind()" in out


def test_two_threads_share_one_writer(path):
    """
    Two threads append through one Writer, each to its own stream, reading the head
    again (as the log does) whenever append answers False: every event lands once, in a
    valid chain, with each stream's versions in order.
    """
    per_thread, batch = 150, 3
    errors, refused = [], []
    with _cread.Writer(path, False, 5000, "OFF", 300) as writer:
        def work(stream):
            try:
                conn = sqlite3.connect(path)
                version, done, misses = 1, 0, 0
                while done < per_thread:
                    head = conn.execute("SELECT position, hash FROM eventreg_events ORDER BY position DESC "
                                        "LIMIT 1").fetchone() or (0, GENESIS_HASH)
                    params, _ = build(stream, batch, after=head, version=version)
                    if writer.append(chunks(params, after=head)):
                        version, done = version + batch, done + 1
                    else:
                        misses += 1
                conn.close()
                refused.append(misses)
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(name,)) for name in ("left", "right")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == [] and len(refused) == 2  # refusals (head moved) are usual, their number varies
    events = stored(path)
    assert len(events) == 2 * per_thread * batch
    assert [e.position for e in events] == list(range(1, len(events) + 1))
    for stream in ("left", "right"):
        assert [e.stream_version for e in events if e.stream_id == stream] == list(range(1, per_thread * batch + 1))


def test_memory_stays_flat(path):
    """
    RSS stays flat over 20,000 appends, with refusals and errors among them. SQLite's page
    cache is kept small: its growth with the file (2 MB by default) is not a leak.
    """
    sql = guarded_insert(1)
    with _cread.Writer(path, False, 1000, "OFF", 300) as writer:
        writer.pragma("cache_size", 10)
        head, version = (0, GENESIS_HASH), 1
        template, _ = build("s1", 1)

        def cycle(i):
            nonlocal head, version
            params, events = build("s1", 1, after=head, version=version, payload=lambda _: {"n": i, "pad": "é" * 50})
            if i % 10 == 0:  # the guard refuses
                assert writer.append([(sql, params + [head[0], "f" * 64], 1)]) is False
            elif i % 10 == 1:  # a value that does not bind
                with pytest.raises(TypeError):
                    writer.append([(sql, params[:-1] + [object()] + list(head), 1)])
            elif i % 10 == 2:  # an SQLite error
                with pytest.raises(_cread.Error):
                    writer.append([("INSERT INTO nowhere VALUES (?)", [i], 1)])
            assert writer.append([(sql, params + list(head), 1)]) is True
            head, version = head_of(events), version + 1

        grown = rss_growth(cycle)
    assert count_rows(path) == 20_000
    assert grown < 512, f"RSS grew {grown} KiB over 15,000 appends"


def test_the_guard_query_decides_before_anything_is_written(path, writer):
    from eventreg.backends.sql import HASH_AT

    first, events = build("s1", 1)
    assert writer.append(STATEMENTS.insert_chunks(first)) is True
    head = head_of(events)
    more, later = build("s1", 130, after=head, version=2)
    plain = STATEMENTS.insert_chunks(more)
    assert [rows for _, _, rows in plain] == [64, 64, 2]
    assert writer.append(plain, (HASH_AT, [head[0]], "f" * 64)) is False  # another hash there
    assert writer.append(plain, (HASH_AT, [head[0] + 1], head[1])) is False  # no event there
    assert writer.append([], (HASH_AT, [head[0]], head[1])) is True  # a guard alone writes nothing
    assert count_rows(path) == 1
    assert writer.append(plain, (HASH_AT, [head[0]], head[1])) is True
    assert stored(path) == events + later
    with pytest.raises(ValueError, match="guard is a query"):
        writer.append(plain, (STATEMENTS.insert_texts[1], [], head[1]))
    with pytest.raises(TypeError, match="guard"):
        writer.append(plain, ("SELECT 1", [], None))


def test_a_guard_is_skipped_only_while_nobody_else_has_committed(path, writer):
    from eventreg.backends.sql import HASH_AT

    first, events = build("s1", 1)
    assert writer.append(STATEMENTS.insert_chunks(first)) is True
    wrong = (HASH_AT, [events[0].position], "f" * 64)  # a guard that would refuse
    second, more = build("s1", 1, after=head_of(events), version=2)
    # nothing committed since this Writer's append: the guard is taken on trust
    assert writer.append(STATEMENTS.insert_chunks(second), wrong, True) is True
    assert writer.guards_skipped == 1
    # another connection commits (here a change to another table): the guard runs again
    execute(path, "INSERT INTO eventreg_checkpoints VALUES ('c', 1)")
    third, _ = build("s1", 1, after=head_of(more), version=3)
    assert writer.append(STATEMENTS.insert_chunks(third), (HASH_AT, [2], "f" * 64), True) is False
    assert writer.guards_skipped == 1 and count_rows(path) == 2
    # a refusal trusts nothing next time either; a guard that holds lets the append in
    assert writer.append(STATEMENTS.insert_chunks(third), (HASH_AT, [2], more[0].hash), True) is True
    assert writer.guards_skipped == 1
    # and without skip_if_unchanged the guard always runs
    fourth, _ = build("s1", 1, after=(3, "0" * 64), version=4)
    assert writer.append(STATEMENTS.insert_chunks(fourth), (HASH_AT, [3], "0" * 64)) is False
    assert writer.guards_skipped == 1 and count_rows(path) == 3


# -- Appender: the log's append state and its one-call append ---------------------------


def test_the_appender_passes_whatever_is_not_its_common_case(path):
    from eventreg.log import ANY

    with eventreg.open_log(f"sqlite:///{path}", actor="tester") as log:
        appender = log._appender
        events = [NewEvent("e", {"i": 1})]
        assert appender.append("s", events, ANY, None) is None  # the head is not known yet
        log.append("s", [NewEvent("e", {"i": 0})])  # the stdlib path: head and version known
        assert (appender.head, appender.versions) == ((1, log.head().hash), {"s": 1})
        passing = [("t", events, ANY),  # a stream not seen at this head
                   ("s", events, 0),  # another expected version (a conflict to confirm)
                   ("s", events, True),  # not an int: the Python path says what is wrong
                   ("s", tuple(events), ANY),  # not a list
                   ("s\t", events, ANY),  # not check_stream_id's common case
                   ("é", events, ANY),
                   ("", events, ANY),
                   ("s" * 201, events, ANY)]
        for stream_id, given, expected in passing:
            assert appender.append(stream_id, given, expected, None) is None
        assert count_rows(path) == 1 and appender.writer is None  # nothing done
        (event,) = appender.append("s", events, 1, "tester")
        assert (event.position, event.stream_version, event.actor, event.payload) == (2, 2, "tester", {"i": 1})
        assert (appender.head, appender.versions) == ((2, event.hash), {"s": 2})
        assert appender.writer.guards_skipped == 0  # the head was read by another connection
        (event,) = appender.append("s", events, ANY, "someone")
        assert (event.position, event.actor) == (3, "someone")
        assert appender.writer.guards_skipped == 1  # its own last commit: taken on trust
        appender.head = appender.head  # set from outside: the guard runs next time
        appender.append("s", events, ANY, None)
        assert appender.writer.guards_skipped == 1
        assert [e.position for e in stored(path)] == [1, 2, 3, 4]


def test_the_appender_passes_when_another_writer_moved_the_head(path):
    with eventreg.open_log(f"sqlite:///{path}") as log, eventreg.open_log(f"sqlite:///{path}") as other:
        log.append("s", [NewEvent("e", {})])
        log.append("s", [NewEvent("e", {})])  # in C
        other.append("s", [NewEvent("e", {})])
        head = log._appender.head
        assert log._appender.append("s", [NewEvent("e", {})], 2, None) is None  # refused: nothing written
        assert log._appender.head == head and count_rows(path) == 3
        assert log.append("s", [NewEvent("e", {})], expected_version=3)[0].position == 4  # the Python path
        assert [e.stream_version for e in stored(path)] == [1, 2, 3, 4]


def test_the_appenders_lock_is_the_logs_write_lock(path):
    with eventreg.open_log(f"sqlite:///{path}") as log:
        log.append("s", [NewEvent("e", {})])
        with log._appender:
            with pytest.raises(RuntimeError, match="already held"):  # not a deadlock
                log._appender.append("s", [NewEvent("e", {})], 1, None)
            # another thread waits until the lock is released
            done = []
            thread = threading.Thread(target=lambda: done.append(log.append("s", [NewEvent("e", {})])))
            thread.start()
            time.sleep(0.2)
            assert done == [] and count_rows(path) == 1
        thread.join(10)
        assert [e.position for e in done[0]] == [2]
        with pytest.raises(RuntimeError, match="not held"):
            log._appender.__exit__(None, None, None)


def test_the_appenders_memory_stays_flat(path):
    """
    RSS stays flat over 20,000 one-call appends with every other outcome among them:
    a refused guard (another handle moved the head), a stream it does not know, an invalid
    event, an append of 100 events (two INSERTs).
    """
    from eventreg.errors import InvalidEvent
    from eventreg.log import ANY

    with eventreg.open_log(f"sqlite:///{path}", sqlite_synchronous="OFF") as log, \
            eventreg.open_log(f"sqlite:///{path}", sqlite_synchronous="OFF") as other:
        log.append("s", [NewEvent("e", {})])
        appender = log._appender
        assert appender.append("s", [NewEvent("e", {})], ANY, "x") is not None
        appender.writer.pragma("cache_size", 10)
        version = 2

        def cycle(i):
            nonlocal version
            if i % 10 == 0:
                other.append("t", [NewEvent("e", {"n": i})])
                assert appender.append("s", [NewEvent("e", {})], ANY, "x") is None
                appender.head = tuple(log.head())  # only "t" moved: what "s" is at still holds
            elif i % 10 == 1:
                assert appender.append(f"new-{i}", [NewEvent("e", {})], ANY, "x") is None
            elif i % 10 == 2:
                with pytest.raises(InvalidEvent):
                    appender.append("s", [NewEvent("e", {"n": i}), NewEvent("e", {"bad": {i}})], version, "x")
            elif i % 1000 == 3:
                assert len(appender.append("s", [NewEvent("e", {"n": k}) for k in range(100)], version, "x")) == 100
                version += 100
            (event,) = appender.append("s", [NewEvent("e", {"n": i, "pad": "é" * 50})], version, "x")
            version += 1
            assert event.stream_version == version

        grown = rss_growth(cycle)
        assert log.verify().ok
    assert count_rows(path) == 1 + 1 + 20_000 + 2_000 + 20 * 100
    assert grown < 512, f"RSS grew {grown} KiB over 15,000 appends"
