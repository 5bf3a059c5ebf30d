"""
Schema management of the SQL log: created on first open, versioned, upgraded by the
library, a newer schema refused with the eventreg version it needs.
"""

from __future__ import annotations

import multiprocessing
import sqlite3

import pytest
import sqlalchemy as sa

from eventreg import open_log
from eventreg.backends import sql_connections, sql_migrations, sql_statements
from eventreg.backends.sql_migrations import Migration
from eventreg.errors import SchemaVersionError
from eventreg.log import GENESIS_HASH, NewEvent, chain_hash, envelope_text


@pytest.fixture(params=["sqlite_url", "postgres_url", "mysql_url"], ids=["sqlite", "postgres", "mariadb"])
def sql_url(request):
    return request.getfixturevalue(request.param)


def _rows(url: str, query: str) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(query))]
    finally:
        engine.dispose()


def _execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def test_first_open_creates_the_schema_at_the_known_version(sql_url):
    with open_log(sql_url) as log:
        assert log.head().position == 0
    assert _rows(sql_url, "SELECT version, min_eventreg FROM eventreg_schema") == [
        (sql_migrations.schema_version_known(), sql_migrations.MIGRATIONS[-1].min_eventreg)
    ]
    assert _rows(sql_url, "SELECT id, position, hash FROM eventreg_head") == [(1, 0, GENESIS_HASH)]


def test_unrelated_tables_are_left_alone(sql_url):
    _execute(sql_url, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(50))",
             "INSERT INTO customers VALUES (1, 'Ada')")
    with open_log(sql_url) as log:
        log.append("s", [NewEvent("e", {})])
    with open_log(sql_url) as log:  # and reopening finds ours
        assert log.head().position == 1
    assert _rows(sql_url, "SELECT id, name FROM customers") == [(1, "Ada")]


def test_an_older_schema_is_upgraded_once_keeping_the_events(sql_url, monkeypatch):
    with open_log(sql_url) as log:  # a database written by the current release (schema 1)
        recorded = log.append("s", [NewEvent("e", {"n": 1}), NewEvent("e", {"n": 2})])
    calls = []

    def add_type_index(conn: sa.Connection, ns) -> None:
        calls.append(1)
        conn.execute(sa.text(f"CREATE INDEX {ns.name('ix_events_type')} ON {ns.qualified('events')} (type)"))

    newer = [*sql_migrations.MIGRATIONS, Migration(sql_migrations.schema_version_known() + 1, "0.9.0", add_type_index)]
    monkeypatch.setattr(sql_migrations, "MIGRATIONS", newer)
    with open_log(sql_url) as log:
        assert list(log.read_all()) == recorded
        log.append("s", [NewEvent("e", {"n": 3})], expected_version=2)
        assert log.verify().ok
    with open_log(sql_url):
        pass
    assert calls == [1]
    versions = _rows(sql_url, "SELECT version, min_eventreg FROM eventreg_schema ORDER BY version")
    assert versions[-2:] == [(newer[-2].version, newer[-2].min_eventreg), (newer[-1].version, "0.9.0")]
    engine = sa.create_engine(sql_url)
    try:
        indexes = {ix["name"] for ix in sa.inspect(engine).get_indexes("eventreg_events")}
    finally:
        engine.dispose()
    assert "eventreg_ix_events_type" in indexes


def test_a_newer_schema_is_refused_naming_the_eventreg_version_needed(sql_url):
    with open_log(sql_url) as log:
        log.append("s", [NewEvent("e", {})])
    future = sql_migrations.schema_version_known() + 5
    _execute(sql_url, f"INSERT INTO eventreg_schema (version, min_eventreg, applied_at) "
                      f"VALUES ({future}, '7.3.0', '2031-01-01T00:00:00.000000Z')")
    with pytest.raises(SchemaVersionError) as info:
        open_log(sql_url)
    message = str(info.value)
    assert f"schema version {future}" in message
    assert "eventreg >= 7.3.0" in message
    assert _rows(sql_url, "SELECT count(*) FROM eventreg_events") == [(1,)]  # nothing touched


# The schema-1 tables exactly as eventreg 0.1.0 creates them on SQLite: if the table
# definitions change without a migration step, opening this database fails.
SCHEMA_1_SQLITE = """
CREATE TABLE eventreg_checkpoints (consumer VARCHAR(200) NOT NULL, position BIGINT NOT NULL,
    PRIMARY KEY (consumer));
CREATE TABLE eventreg_events (position INTEGER NOT NULL, stream_id VARCHAR(200) NOT NULL,
    stream_version INTEGER NOT NULL, type VARCHAR(200) NOT NULL, schema_version INTEGER NOT NULL,
    recorded_at VARCHAR(32) NOT NULL, actor VARCHAR(200), payload TEXT NOT NULL,
    metadata TEXT NOT NULL, prev_hash CHAR(64) NOT NULL, hash CHAR(64) NOT NULL,
    PRIMARY KEY (position),
    CONSTRAINT eventreg_uq_stream_version UNIQUE (stream_id, stream_version));
CREATE TABLE eventreg_head (id INTEGER NOT NULL, position BIGINT NOT NULL, hash CHAR(64) NOT NULL,
    PRIMARY KEY (id));
CREATE TABLE eventreg_schema (version INTEGER NOT NULL, min_eventreg VARCHAR(40) NOT NULL,
    applied_at VARCHAR(32) NOT NULL, PRIMARY KEY (version));
CREATE TABLE eventreg_snapshots (id INTEGER NOT NULL, position BIGINT NOT NULL, data BLOB NOT NULL,
    created_at VARCHAR(32) NOT NULL, PRIMARY KEY (id));
"""


def test_a_schema_1_database_made_by_hand_is_read_and_extended(tmp_path):
    path = tmp_path / "v1.db"
    stamp = "2026-01-02T03:04:05.000006Z"
    digest = chain_hash(GENESIS_HASH, envelope_text(1, "model:iris", 1, "model.created", 1, stamp, "ada",
                                                    '{"name":"iris"}', "{}"))
    with sqlite3.connect(path) as raw:
        raw.executescript(SCHEMA_1_SQLITE)
        raw.execute("INSERT INTO eventreg_schema VALUES (1, '0.1.0', ?)", (stamp,))
        raw.execute("INSERT INTO eventreg_events VALUES (1, 'model:iris', 1, 'model.created', 1, ?, 'ada', "
                    "'{\"name\":\"iris\"}', '{}', ?, ?)", (stamp, GENESIS_HASH, digest))
        raw.execute("INSERT INTO eventreg_head VALUES (1, 1, ?)", (digest,))
    raw.close()
    with open_log(f"sqlite:///{path}") as log:
        (event,) = log.read_stream("model:iris")
        assert (event.actor, event.payload, event.hash) == ("ada", {"name": "iris"}, digest)
        log.append("model:iris", [NewEvent("version.registered", {"version": 1})], expected_version=1)
        assert log.verify().ok and log.head().position == 2


def _open_and_append(url: str, barrier, results) -> None:
    barrier.wait(30)
    try:
        with open_log(url) as log:
            log.append("s", [NewEvent("e", {})])
        results.put("ok")
    except Exception as e:  # reported to the test
        results.put(f"{type(e).__name__}: {e}")


def test_processes_opening_a_new_database_at_once_create_it_once(sql_url):
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_open_and_append, args=(sql_url, barrier, results)) for _ in range(3)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=90) for _ in procs]
    for p in procs:
        p.join(30)
    assert outcomes == ["ok"] * 3
    assert len(_rows(sql_url, "SELECT version FROM eventreg_schema")) == 1
    with open_log(sql_url) as log:
        assert log.head().position == 3 and log.verify().ok


def _switch_to_wal(path: str, barrier, results) -> None:
    barrier.wait(30)
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        sql_connections.use_wal(conn.cursor(), 30)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("CREATE TABLE IF NOT EXISTS t (a)")
        conn.execute("COMMIT")
        results.put(conn.execute("PRAGMA journal_mode").fetchone()[0])
        conn.close()
    except Exception as e:  # reported to the test
        results.put(f"{type(e).__name__}: {e}")


def test_processes_switching_a_new_sqlite_file_to_wal_at_once(tmp_path):
    # SQLite answers "database is locked" at once, ignoring the busy timeout, to a process
    # switching a new file to WAL while another does the same: with a plain
    # "PRAGMA journal_mode=WAL" instead of sql.use_wal, about 1 open in 80 failed here
    ctx = multiprocessing.get_context("fork")
    outcomes = []
    for round_ in range(40):
        path = str(tmp_path / f"new-{round_}.db")
        barrier, results = ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=_switch_to_wal, args=(path, barrier, results)) for _ in range(4)]
        for p in procs:
            p.start()
        outcomes += [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(30)
    assert set(outcomes) == {"wal"}, [o for o in outcomes if o != "wal"][:3]


def test_sqlite_runs_the_statements_sqlalchemy_compiles_for_it():
    # a SQLite log runs SQLITE_STATEMENTS without importing SQLAlchemy: they must stay
    # exactly what the schema module compiles (change the tables, regenerate the text)
    from sqlalchemy.dialects import sqlite as sqlite_dialect

    from eventreg.backends import sql_schema

    compiled = sql_schema.compile_statements(sqlite_dialect.dialect(paramstyle="qmark"))
    assert compiled == sql_statements.SQLITE_STATEMENTS


def test_opening_an_existing_sqlite_log_does_not_import_sqlalchemy(sqlite_url):
    import subprocess
    import sys

    import eventreg

    with eventreg.open(sqlite_url, artifacts="memory://x", actor="a") as reg:  # created through SQLAlchemy
        reg.register_version("iris", code=None)
    code = ("import sys, eventreg\n"
            f"reg = eventreg.open({sqlite_url!r}, artifacts='memory://x', actor='a')\n"
            "reg.register_version('iris', code=None)\n"
            "assert [v.version for v in reg.list_versions('iris')] == [1, 2] and reg.verify().ok\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy'))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_postgresql_keeps_event_rows_of_a_block_uncompressed_and_compresses_longer_ones_with_lz4(postgres_url):
    # a metric history is read row by row: decompressing pglz was most of its time
    medium = {"value": [i / 7 for i in range(150)]}  # about 3 KB: past pglz's 2 KB threshold
    long = {"text": "abc" * 10_000}  # 30 KB: compressed
    with open_log(postgres_url) as log:
        log.append("s", [NewEvent("e", medium), NewEvent("e", long)])
    with open_log(postgres_url) as log:
        assert [event.payload for event in log.read_stream("s")] == [medium, long]
    lz4 = _rows(postgres_url, "SELECT count(*) FROM pg_settings WHERE name = 'default_toast_compression' "
                              "AND 'lz4' = ANY(enumvals)") == [(1,)]
    stored = _rows(postgres_url, "SELECT pg_column_compression(payload), octet_length(payload) > 2500 "
                                 "FROM eventreg_events ORDER BY position")
    assert stored == [(None, True), ("lz4" if lz4 else "pglz", True)]
