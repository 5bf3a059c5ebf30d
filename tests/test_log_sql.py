"""
The SQL event log (SQLite, PostgreSQL, MariaDB): the shared contract plus what is
particular to SQL storage.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from contextlib import closing

import pytest
import sqlalchemy as sa

from eventreg import open_log
from eventreg.backends.sql import SQLLog
from eventreg.backends.sql_namespace import split_namespace
from eventreg.errors import (
    BackendUnavailable,
    ConcurrencyConflict,
    ConfigurationError,
    EventregError,
    InvalidEvent,
    MissingDriver,
    NotAnEventLog,
)
from eventreg.log import NewEvent, RecordedEvent
from eventreg.testing import EventLogContract


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url)


def _target(url: str) -> tuple[str, str]:
    """
    The plain database URL of a log URL and its events table's name (in the URL's namespace).
    """
    plain, ns = split_namespace(url, url.split(":", 1)[0].split("+", 1)[0])
    return plain, ns.qualified("events")


class SQLTampering:
    """
    Tamper hooks that change the events table directly, as an attacker with database access would.
    """

    def tamper_edit_payload(self, url: str, position: int, payload_text: str) -> None:
        url, table = _target(url)
        engine = _engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {table} SET payload = :p WHERE position = :pos"),
                         {"p": payload_text, "pos": position})
        engine.dispose()

    def tamper_delete(self, url: str, position: int) -> None:
        url, table = _target(url)
        engine = _engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text(f"DELETE FROM {table} WHERE position = :pos"), {"pos": position})
        engine.dispose()

    def tamper_swap(self, url: str, a: int, b: int) -> None:
        url, table = _target(url)
        columns = ["stream_id", "stream_version", "type", "schema_version", "recorded_at", "actor",
                   "payload", "metadata", "prev_hash", "hash"]
        select = sa.text(f"SELECT {', '.join(columns)} FROM {table} WHERE position = :pos")
        update = sa.text(f"UPDATE {table} SET {', '.join(f'{c} = :{c}' for c in columns)} "
                         "WHERE position = :pos")
        engine = _engine(url)
        with engine.begin() as conn:
            row_a = conn.execute(select, {"pos": a}).mappings().one()
            row_b = conn.execute(select, {"pos": b}).mappings().one()
            # step aside first: (stream_id, stream_version) is unique
            conn.execute(update, {**row_a, "stream_id": "tamper-tmp", "stream_version": -1, "pos": a})
            conn.execute(update, {**row_a, "pos": b})
            conn.execute(update, {**row_b, "pos": a})
        engine.dispose()


def _in_namespace(url: str, namespace: str) -> str:
    """
    ``url`` in a namespace (``""``: the default one); the database's default namespace
    then already holds a log with events, which the namespaced log must never see.
    """
    if not namespace:
        return url
    with open_log(url) as neighbour:
        neighbour.append("neighbour", [NewEvent("e", {"n": 1}), NewEvent("e", {"n": 2})])
    return f"{url}{'&' if '?' in url else '?'}{namespace}"


# every SQL log passes the contract in its database's default namespace and in a named one
class TestSQLiteLog(SQLTampering, EventLogContract):
    @pytest.fixture(params=["", "prefix=team_a_"], ids=["default", "prefixed"])
    def log_url(self, sqlite_url, request):
        return _in_namespace(sqlite_url, request.param)


class TestPostgresLog(SQLTampering, EventLogContract):
    @pytest.fixture(params=["", "schema=team_a"], ids=["default", "schema"])
    def log_url(self, postgres_url, request):
        return _in_namespace(postgres_url, request.param)


class TestMariaDBLog(SQLTampering, EventLogContract):
    @pytest.fixture(params=["", "prefix=team_a_"], ids=["default", "prefixed"])
    def log_url(self, mysql_url, request):
        return _in_namespace(mysql_url, request.param)


# -- what is particular to the SQL backends --------------------------------------------


@pytest.fixture(params=["sqlite_url", "postgres_url", "mysql_url"], ids=["sqlite", "postgres", "mariadb"])
def sql_url(request):
    return request.getfixturevalue(request.param)


def test_urls_of_every_sql_kind_open_an_sqllog(sql_url):
    with open_log(sql_url) as log:
        assert isinstance(log, SQLLog)
        assert log.supports_concurrent_writers and log.shared_between_processes and log.persistent


def test_stream_ids_are_compared_exactly(sql_url):
    # MySQL's default collations would make these equal (case, trailing spaces)
    ids = ["model:a", "model:A", "model:a ", "model:ä", "model:a\u0301", "model:🚀", "model:" + "é" * 194]
    with open_log(sql_url) as log:
        for stream_id in ids:
            log.append(stream_id, [NewEvent("e", {"id": stream_id})], expected_version=0)
        for stream_id in ids:
            assert [e.payload["id"] for e in log.read_stream(stream_id)] == [stream_id]
            assert log.stream_version(stream_id) == 1
        log.set_checkpoint("c", 1)
        log.set_checkpoint("C", 2)
        assert (log.get_checkpoint("c"), log.get_checkpoint("C")) == (1, 2)


def test_an_unknown_option_is_refused(sqlite_url):
    with pytest.raises(ConfigurationError, match="colour"):
        open_log(sqlite_url, colour="blue")


def test_actor_option_is_the_default_actor(sql_url):
    with open_log(sql_url, actor="ci-bot") as log:
        (event,) = log.append("s", [NewEvent("e", {})])
        (other,) = log.append("s", [NewEvent("e", {}, actor="alice")])
    assert (event.actor, other.actor) == ("ci-bot", "alice")


def test_threads_sharing_one_handle_get_contiguous_positions(sql_url):
    with open_log(sql_url) as log:
        errors = []

        def write(n: int) -> None:
            try:
                for i in range(25):
                    log.append(f"t-{n}", [NewEvent("e", {"i": i})], expected_version=i)
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert [e.position for e in log.read_all()] == list(range(1, 101))
        assert log.verify().ok


def test_read_all_fetches_in_chunks_and_sees_later_appends(sqlite_url):
    with open_log(sqlite_url, read_chunk=7) as log:
        log.append("s", [NewEvent("e", {"i": i}) for i in range(20)])
        reader = log.read_all()
        first = [next(reader) for _ in range(7)]
        log.append("s", [NewEvent("late", {})])  # committed while the reader is mid-way
        rest = list(reader)
        assert [e.position for e in first + rest] == list(range(1, 22))
        assert [e.position for e in log.read_all(from_position=6, limit=9)] == list(range(6, 15))


def test_stream_payloads_read_with_other_reads_mid_way_and_a_read_left_half_way_frees_its_connection(sql_url):
    # the history reads stream a stream's stored rows (chunks of STREAM_ROWS) and may read
    # other events while doing so; a reader stopping early (the UI asking "any such event?")
    # leaves the log usable, however often it happens
    with open_log(sql_url) as log:
        log.append("s", [NewEvent("metric" if i % 3 else "other", {"i": i, "pad": "x" * 200}) for i in range(450)])
        expected = [(e.stream_version, e.type, e.schema_version, e.payload)
                    for e in log.read_stream("s", 20, to_version=430)]
        rows = log.read_stream_payloads("s", 20, 430)
        got = []
        for stream_version, type_, schema_version, payload in rows:
            if stream_version % 97 == 0:  # another read on the same log, mid-stream
                assert [e.stream_version for e in log.read_stream("s", stream_version, to_version=stream_version)] \
                    == [stream_version]
            got.append((stream_version, type_, schema_version, json.loads(payload)))
        assert got == expected
        for _ in range(25):  # more than any pool holds
            with closing(log.read_stream_payloads("s", 1, 450)) as partial:
                assert next(partial)[0] == 1
        log.append("s", [NewEvent("late", {})])
        assert [row[0] for row in log.read_stream_payloads("s", 449, 451)] == [449, 450, 451]
        assert log.head().position == 451 and log.verify().ok


def test_importing_over_existing_stream_versions_is_refused(sqlite_url):
    with open_log("memory://") as source, open_log(sqlite_url) as log:
        source.append("s", [NewEvent("e", {})])
        events = list(source.read_all())
        log.import_events(events)
        with pytest.raises(InvalidEvent):
            log.import_events(events)
        assert log.head().position == 1


# -- errors a user meets ---------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://alice:s3cret-pw@127.0.0.1:1/registry",
    "mysql+pymysql://alice:s3cret-pw@127.0.0.1:1/registry",
], ids=["postgres", "mysql"])
def test_an_unreachable_server_is_named_quickly_without_the_password(url):
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as info:
        open_log(url)
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert "127.0.0.1:1" in message and "registry" in message
    assert "s3cret-pw" not in message and "s3cret-pw" not in repr(info.value)


def test_a_wrong_password_is_not_repeated(postgres_url):
    # PostgreSQL here trusts local connections, so use a user that does not exist on MariaDB
    url = "mysql+pymysql://nobody-here:s3cret-pw@127.0.0.1:3306/test"
    with pytest.raises(BackendUnavailable) as info:
        open_log(url)
    assert "s3cret-pw" not in str(info.value)
    assert "127.0.0.1:3306" in str(info.value)


def test_the_password_is_not_in_repr_or_url(postgres_url):
    url = sa.make_url(postgres_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    with open_log(url) as log:  # the test server trusts local connections: any password works
        assert "s3cret-pw" not in repr(log)
        assert "s3cret-pw" not in log.url
        assert "***" in log.url


def test_a_missing_driver_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed
    with pytest.raises(MissingDriver, match=r"pip install 'eventreg\[postgres\]'"):
        open_log("postgresql://user:pw@127.0.0.1/db")
    monkeypatch.setitem(sys.modules, "pymysql", None)
    with pytest.raises(MissingDriver, match=r"pip install 'eventreg\[mysql\]'"):
        open_log("mysql://user:pw@127.0.0.1/db")


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(NotAnEventLog):
        open_log(f"sqlite:///{path}")
    assert path.read_text().startswith("these are my notes")


def test_a_missing_folder_is_a_configuration_error_naming_it(tmp_path):
    with pytest.raises(ConfigurationError, match=str(tmp_path / "no" / "such" / "dir")):
        open_log(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'log.db'}")


def test_sqlite_uses_wal_and_the_chosen_synchronous_mode(sqlite_url, tmp_path):
    path = sqlite_url.removeprefix("sqlite:///")
    with open_log(sqlite_url, sqlite_synchronous="normal") as log:
        log.append("s", [NewEvent("e", {})])
        conn = log._connection()
        try:
            assert conn.cursor().execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        finally:
            conn.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(ConfigurationError):
        open_log(sqlite_url, sqlite_synchronous="sometimes")


def test_a_held_sqlite_write_lock_times_out_as_a_conflict(sqlite_url):
    from eventreg.errors import ConcurrencyConflict

    path = sqlite_url.removeprefix("sqlite:///")
    with open_log(sqlite_url, busy_timeout=0.2) as log:
        log.append("s", [NewEvent("e", {})])
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(ConcurrencyConflict, match="lock"):
                log.append("s", [NewEvent("e", {})])
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        log.append("s", [NewEvent("e", {})], expected_version=1)
        assert log.verify().ok


def test_the_first_sqlite_write_reserves_the_write_ahead_log_and_leaves_no_trace(sqlite_url):
    from eventreg.backends.sql_connections import WAL_RESERVE_PAGES

    path = sqlite_url.removeprefix("sqlite:///")
    with open_log(sqlite_url) as log:
        log.append("s", [NewEvent("e", {"i": 0})])
        assert os.path.getsize(f"{path}-wal") >= WAL_RESERVE_PAGES * 4096  # the first commits reuse it
        with sqlite3.connect(path) as raw:
            assert "eventreg_wal_reserve" not in {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
        log.append("s", [NewEvent("e", {"i": 1})], expected_version=1)
    with open_log(sqlite_url) as log:  # the reserved pages were never committed: nothing else is read
        assert [e.payload["i"] for e in log.read_all()] == [0, 1]
        assert log.verify().ok


def test_a_first_write_while_another_connection_writes_waits_for_it_as_usual(sqlite_url):
    path = sqlite_url.removeprefix("sqlite:///")
    with open_log(sqlite_url) as log:
        blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        blocker.execute("BEGIN IMMEDIATE")
        timer = threading.Timer(0.3, blocker.execute, ("ROLLBACK",))
        timer.start()
        try:
            log.append("s", [NewEvent("e", {"i": 0})])  # no reserve then, and no error
        finally:
            timer.join()
            blocker.close()
        log.append("s", [NewEvent("e", {"i": 1})], expected_version=1)
        assert [e.payload["i"] for e in log.read_stream("s")] == [0, 1] and log.verify().ok


def test_stored_text_that_is_not_json_is_reported_as_corruption(sqlite_url):
    from eventreg.errors import LogCorrupted

    with open_log(sqlite_url) as log:
        log.append("s", [NewEvent("e", {"i": i}) for i in range(3)])
    SQLTampering().tamper_edit_payload(sqlite_url, 2, '{"i": 1')  # cut short
    with open_log(sqlite_url) as log, pytest.raises(LogCorrupted, match="position 2"):
        list(log.read_all())


def _kill_writer_connection(log, url: str) -> None:
    """
    End the log's write connection on the server side, as a server restart or an idle timeout would.
    """
    cursor = log._writer_cursor
    if log._name == "postgresql":
        cursor.execute("SELECT pg_backend_pid()")
        statement = "SELECT pg_terminate_backend(:id)"
    else:
        cursor.execute("SELECT CONNECTION_ID()")
        statement = "KILL :id"
    (connection_id,) = cursor.fetchone()
    log._writer.rollback()
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), {"id": connection_id})
    finally:
        engine.dispose()
    time.sleep(0.2)


@pytest.fixture(params=["postgres_url", "mysql_url"], ids=["postgres", "mariadb"])
def server_url(request):
    return request.getfixturevalue(request.param)


def test_an_append_after_the_server_dropped_the_connection_just_works(server_url):
    with open_log(server_url) as log:
        log.append("s", [NewEvent("e", {})])
        _kill_writer_connection(log, server_url)
        (event,) = log.append("s", [NewEvent("e", {})], expected_version=1)
        assert event.position == 2
        assert log.verify().ok


def _append_in_child(log, queue) -> None:
    try:
        (event,) = log.append("child", [NewEvent("e", {})])
        queue.put(event.position)
    except Exception as e:  # reported to the test
        queue.put(f"{type(e).__name__}: {e}")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_log_handle_survives_a_fork(sql_url):
    import multiprocessing

    with open_log(sql_url) as log:
        log.append("parent", [NewEvent("e", {})])
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        child = ctx.Process(target=_append_in_child, args=(log, queue))
        child.start()
        assert queue.get(timeout=60) == 2
        child.join(30)
        (event,) = log.append("parent", [NewEvent("e", {})], expected_version=1)
        assert event.position == 3
        assert log.verify().ok


def test_postgres_connect_options_keep_the_lock_timeout(postgres_url):
    with open_log(postgres_url, busy_timeout=7, connect_args={"options": "-c synchronous_commit=off"}) as log:
        log.append("s", [NewEvent("e", {})])
        cursor = log._writer_cursor
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "off"
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "7s"
        log._writer.rollback()


def test_a_log_replaced_underneath_at_the_same_position_is_not_mistaken(sqlite_url):
    # e.g. restored from a backup while a service kept its handle open
    with open_log(sqlite_url) as log:
        log.append("s", [NewEvent("e", {}), NewEvent("e", {})])  # s at version 2, head 2
        engine = sa.create_engine(sqlite_url)
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM eventreg_events"))
            conn.execute(sa.text("UPDATE eventreg_head SET position = 0, hash = :h"), {"h": "0" * 64})
        engine.dispose()
        with open_log(sqlite_url) as other:
            other.append("s", [NewEvent("e", {"restored": True})])
            other.append("t", [NewEvent("e", {})])  # head 2 again, s at version 1
        (event,) = log.append("s", [NewEvent("e", {})], expected_version=1)
        assert event.stream_version == 2 and event.position == 3
        assert log.verify().ok


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_sqlite_without_a_file_is_refused_pointing_to_memory(url):
    with pytest.raises(ConfigurationError, match="memory://"):
        open_log(url)


# -- SQLite appends without reading the head first ----------------------------------------
# A SQLite handle appends after the head it last committed, without reading it; the insert
# itself checks that this event is still the last one (position is a key with no gaps, and
# the stored hash must match), else the append reads the head and starts again.


def test_two_handles_taking_turns_keep_one_chain(sqlite_url):
    with open_log(sqlite_url) as a, open_log(sqlite_url) as b:
        a.append("s", [NewEvent("e", {"by": "a"})])
        b.append("s", [NewEvent("e", {"by": "b"})] * 3)  # a's idea of the head is stale now
        (event,) = a.append("s", [NewEvent("e", {"by": "a"})])
        assert (event.position, event.stream_version) == (5, 5)
        # a's cached stream version (1) is stale too: the database's is what counts
        a.append("s", [NewEvent("e", {})], expected_version=5)
        b.append("t", [NewEvent("e", {})])
        with pytest.raises(ConcurrencyConflict):
            a.append("s", [NewEvent("e", {})], expected_version=5)
        assert [e.position for e in a.read_all()] == list(range(1, 8))
        assert a.verify().ok and b.verify().ok


def test_a_database_refilled_to_the_same_position_is_not_appended_to_blindly(sqlite_url):
    with open_log(sqlite_url) as log:
        log.append("s", [NewEvent("e", {}), NewEvent("e", {})])  # head 2, as this handle knows it
        engine = sa.create_engine(sqlite_url)
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM eventreg_events"))
        engine.dispose()
        with open_log(sqlite_url) as other:
            other.append("x", [NewEvent("e", {"restored": True}), NewEvent("e", {})])  # head 2 again
        (event,) = log.append("s", [NewEvent("e", {})])  # ANY: no version check to trip over
        assert event.position == 3 and event.stream_version == 1
        assert event.prev_hash == other_head_hash(sqlite_url, 2)
        assert log.verify().ok


def test_a_handle_whose_last_append_skipped_the_hash_check_still_sees_a_refill(sqlite_url):
    # appends after the handle's own presume the head it committed last
    with open_log(sqlite_url) as log:
        for version in range(3):
            log.append("s", [NewEvent("e", {"n": version})], expected_version=version)
        engine = sa.create_engine(sqlite_url)
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM eventreg_events"))
        engine.dispose()
        with open_log(sqlite_url) as other:
            other.append("x", [NewEvent("e", {"restored": True})] * 3)  # head 3 again
        (event,) = log.append("s", [NewEvent("e", {})])
        assert (event.position, event.stream_version) == (4, 1)
        assert event.prev_hash == other_head_hash(sqlite_url, 3)
        assert log.verify().ok


def other_head_hash(url: str, position: int) -> str:
    with open_log(url) as log:
        return next(log.read_all(position, 1)).hash


def test_appends_of_more_rows_than_one_statement_takes(sqlite_url):
    from eventreg.backends.sql_statements import INSERT_ROWS

    count = 2 * INSERT_ROWS + 3
    with open_log(sqlite_url) as log:
        log.append("a", [NewEvent("e", {"i": -1})])
        recorded = log.append("s", [NewEvent("e", {"i": i}) for i in range(count)])
        assert [e.position for e in recorded] == list(range(2, count + 2))
        assert list(log.read_stream("s")) == recorded
        assert log.verify().ok


def test_a_statement_failing_in_a_later_chunk_writes_nothing(sqlite_url):
    from eventreg.backends.sql_statements import INSERT_ROWS

    with open_log(sqlite_url) as log:
        log.append("s", [NewEvent("e", {"i": 0})])
        head = log.head()
        conn = sqlite3.connect(sqlite_url.split(":///", 1)[1])
        conn.execute("CREATE TRIGGER boom BEFORE INSERT ON eventreg_events "
                     "WHEN NEW.payload LIKE '%boom%' BEGIN SELECT RAISE(ABORT, 'boom'); END")
        conn.commit()
        batch = [NewEvent("e", {"i": i}) for i in range(INSERT_ROWS + 5)] + [NewEvent("e", {"x": "boom"})]
        with pytest.raises(EventregError):
            log.append("s", batch)
        assert log.head() == head
        conn.execute("DROP TRIGGER boom")
        conn.commit()
        conn.close()
        log.append("s", [NewEvent("e", {"i": 1})], expected_version=1)
        assert [e.payload for e in log.read_all()] == [{"i": 0}, {"i": 1}]
        assert log.verify().ok


# -- what is read is what was appended ------------------------------------------------------


def _read_in_child(log, queue) -> None:
    queue.put([(e.position, e.hash) for e in log.read_all()])


def test_read_all_gives_what_was_appended_in_chunks_and_in_a_forked_child(sqlite_url):
    import multiprocessing

    with open_log(sqlite_url, actor="me", read_chunk=7) as log:
        appended = log.append("model:\u00e9", [NewEvent("e", {  # keys sorted: as they are read
            "big": 10**30, "f": 1 / 3, "l": [None, True, {}], "lr": 1e-05, "nan": float("nan"),
            "s": "\u2028\"\\\x01\U0001f600"})])
        appended += log.append("s", [NewEvent(f"t{i % 3}", {"i": i}, metadata={"m": i} if i % 2 else None,
                                              actor=None if i % 4 else "other") for i in range(40)])
        got = list(log.read_all(2, 30))
        assert len(got) == 30 and repr(got) == repr(appended[1:31])  # repr: NaN compares unequal
        assert all(type(e) is RecordedEvent for e in got)
        assert repr(list(log.read_all())) == repr(appended)
        # a forked child reads on connections of its own; the parent's go on working
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        child = ctx.Process(target=_read_in_child, args=(log, queue))
        child.start()
        assert queue.get(timeout=60) == [(e.position, e.hash) for e in appended]
        child.join(30)
        assert [e.position for e in log.read_all(40)] == [40, 41]


def test_sqlite_append_to_a_known_stream_is_one_insert_in_one_transaction(sqlite_url):
    with open_log(sqlite_url) as log:
        log.append("s", [NewEvent("e", {"i": 0})])  # the head is unknown yet: it is read
        statements: list[str] = []
        log._writer.dbapi_connection.set_trace_callback(statements.append)
        log.append("s", [NewEvent("e", {"i": 1})], expected_version=1)
        log.append("s", [NewEvent("e", {"i": i}) for i in range(2, 60)])
        assert [s.split()[0] for s in statements if not s.startswith("SELECT")] == ["BEGIN", "INSERT", "COMMIT"] * 2
        assert [e.payload.get("i") for e in log.read_stream("s")] == list(range(60))
        assert log.verify().ok


@pytest.mark.parametrize("collecting", [True, False], ids=["gc-on", "gc-off"])
def test_appends_leave_the_garbage_collector_as_they_found_it(sql_url, collecting):
    import gc

    was = gc.isenabled()
    with open_log(sql_url) as log:
        try:
            (gc.enable if collecting else gc.disable)()
            for n in range(3):
                log.append("s", [NewEvent("e", {"i": i}) for i in range(5)], expected_version=6 * n)
                log.append("s", [NewEvent("e", {})])
                assert gc.isenabled() is collecting
            with pytest.raises(InvalidEvent):
                log.append("s", [NewEvent("e", {}), NewEvent("e", {"bad": object()})])
            assert gc.isenabled() is collecting
        finally:
            (gc.enable if was else gc.disable)()


def test_an_invalid_event_in_an_append_to_a_known_stream_writes_nothing(sql_url):
    with open_log(sql_url) as log:
        log.append("s", [NewEvent("e", {"i": 0})])
        with pytest.raises(InvalidEvent, match="JSON"):
            log.append("s", [NewEvent("e", {"i": 1}), NewEvent("e", {"i": {1, 2}})], expected_version=1)
        with pytest.raises(InvalidEvent):
            log.append("s\n", [NewEvent("e", {})])
        with pytest.raises(InvalidEvent):
            log.append("s", [NewEvent("e", {})], expected_version=True)
        with pytest.raises(ConcurrencyConflict):
            log.append("s", [NewEvent("e", {})], expected_version=2)
        (event,) = log.append("s", (NewEvent("e", {"i": 1}),), expected_version=1)
        assert (event.position, event.stream_version) == (2, 2)
        assert log.append("s", [], expected_version=2) == []
        assert [e.payload["i"] for e in log.read_all()] == [0, 1]
        assert log.verify().ok


def test_threads_handles_and_a_process_appending_at_once_keep_one_exact_chain(sqlite_url):
    # every append that returned is stored exactly as returned, nothing else is
    import multiprocessing
    import random

    from eventreg.log import ANY
    from eventreg.testing import _bulk_writer

    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(7)
    other = ctx.Process(target=_bulk_writer, args=(sqlite_url, "other-process", 150, barrier))
    returned, errors = [], []
    with open_log(sqlite_url) as a, open_log(sqlite_url) as b:

        def write(log, seed: int) -> None:
            rng = random.Random(seed)
            try:
                barrier.wait(60)
                for i in range(60):
                    stream = f"s{rng.randrange(3)}"
                    events = [NewEvent("e", {"seed": seed, "i": i, "k": k}) for k in range(rng.randint(1, 3))]
                    expected = ANY if rng.random() < 0.5 else log.stream_version(stream)
                    try:
                        returned.extend(log.append(stream, events, expected_version=expected))
                    except ConcurrencyConflict:
                        assert expected is not ANY
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=write, args=(a if n < 4 else b, n)) for n in range(6)]
        other.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        other.join(120)
        assert errors == [] and other.exitcode == 0
        stored = list(b.read_all())
        assert [e.position for e in stored] == list(range(1, len(stored) + 1))
        assert len(stored) == len(returned) + 150
        by_position = {e.position: e for e in stored}
        for event in returned:
            assert by_position[event.position] == event
        for stream in ("s0", "s1", "s2", "other-process"):
            versions = [e.stream_version for e in stored if e.stream_id == stream]
            assert versions == list(range(1, len(versions) + 1))
        assert a.verify().ok and b.verify().ok


def _refusing_trigger(url: str, create: bool) -> None:
    """A trigger refusing rows of the stream "frozen", the way each database's users write one."""
    engine = _engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS frozen")
            if create:
                conn.exec_driver_sql("CREATE TRIGGER frozen BEFORE INSERT ON eventreg_events "
                                     "WHEN NEW.stream_id = 'frozen' BEGIN SELECT RAISE(ABORT, 'frozen by policy'); END")
        elif engine.dialect.name == "postgresql":
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS frozen ON eventreg_events")
            if create:
                conn.exec_driver_sql(
                    "CREATE OR REPLACE FUNCTION frozen() RETURNS trigger AS $$ BEGIN IF NEW.stream_id = 'frozen' "
                    "THEN RAISE EXCEPTION 'frozen by policy'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql")
                conn.exec_driver_sql("CREATE TRIGGER frozen BEFORE INSERT ON eventreg_events "
                                     "FOR EACH ROW EXECUTE FUNCTION frozen()")
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS frozen")
            if create:
                conn.exec_driver_sql("CREATE TRIGGER frozen BEFORE INSERT ON eventreg_events FOR EACH ROW BEGIN "
                                     "IF NEW.stream_id = 'frozen' THEN SIGNAL SQLSTATE '45000' "
                                     "SET MESSAGE_TEXT = 'frozen by policy'; END IF; END")
    engine.dispose()


def test_rows_the_database_refuses_are_reported_as_refused_not_as_a_race(sql_url):
    from eventreg import AppendRefused
    from eventreg.log import ANY

    with open_log(sql_url) as log:
        log.append("frozen", [NewEvent("e", {"i": 0})])  # known to the handle (on SQLite: the C path next)
        log.append("open", [NewEvent("e", {})])
        _refusing_trigger(sql_url, create=True)
        head = log.head()
        for expected in (1, ANY):
            with pytest.raises(AppendRefused, match="frozen by policy") as caught:
                log.append("frozen", [NewEvent("e", {"i": 1}), NewEvent("e", {"i": 2})], expected_version=expected)
            assert not isinstance(caught.value, ConcurrencyConflict) and caught.value.exit_code == 4
            assert log.head() == head  # nothing written
        with pytest.raises(AppendRefused, match="frozen by policy"):
            with open_log(sql_url) as fresh:  # a handle that knows nothing yet
                fresh.append("frozen", [NewEvent("e", {})], expected_version=1)
        (event,) = log.append("open", [NewEvent("e", {})], expected_version=1)  # other streams go on
        _refusing_trigger(sql_url, create=False)
        log.append("frozen", [NewEvent("e", {"i": 1})], expected_version=1)
        assert [e.stream_id for e in log.read_all()] == ["frozen", "open", "open", "frozen"]
        assert event.position == 3 and log.verify().ok
