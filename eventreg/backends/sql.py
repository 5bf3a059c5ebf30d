"""
The SQL event log: SQLite, PostgreSQL and MySQL/MariaDB through one SQLAlchemy Core module.

One set of Core table definitions and one set of statements serve every dialect. The
statements are compiled once per log for its dialect and run on the DBAPI cursor, so an
append costs about what the same ``INSERT`` costs by hand (benchmarks/log_bench.py).
The few dialect differences are small named functions: :func:`_begin_write` (SQLite's
``BEGIN IMMEDIATE``), :func:`_head_is_last_event`, :func:`_upsert_checkpoint`,
:func:`_schema_lock`, :func:`_mysql_binary_collation` and :func:`_is_conflict`.

Positions are handed out under a one-row head table: every append locks that row
(``SELECT ... FOR UPDATE``), inserts its events after the head, moves the head and
commits. So positions are contiguous, commits happen in position order, and a reader
that has seen position N never later sees a newly committed event below N. On SQLite
``BEGIN IMMEDIATE`` already locks the whole database, so the head is simply the last
event row and ``eventreg_head`` is a view of it (one page less written per commit).
"""

from __future__ import annotations

import gc
import json
import json.scanner
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, NoReturn

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

import eventreg
from eventreg.config import redact_url
from eventreg.errors import (
    BackendUnavailable,
    ConcurrencyConflict,
    ConfigurationError,
    EventregError,
    InvalidEvent,
    LogCorrupted,
    MissingDriver,
    NotAnEventLog,
    SchemaVersionError,
)
from eventreg.log import (
    GENESIS_HASH,
    MAX_STREAM_ID_LENGTH,
    BaseLog,
    Head,
    PendingEvent,
    Prepared,
    RecordedEvent,
    Snapshot,
    check_expected_version,
    decode_json,
    format_timestamp,
    now,
    parse_timestamp,
    seal,
)

# -- tables ----------------------------------------------------------------------------

PREFIX = "eventreg_"
_MYSQL_TABLE = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4",
                "mariadb_engine": "InnoDB", "mariadb_charset": "utf8mb4"}


class _LongText(sa.types.TypeDecorator):
    """
    TEXT, LONGTEXT on MySQL (its TEXT stops at 64 KB). The MySQL dialect is imported only
    when used, so opening a SQLite log does not pay for it.
    """

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine:
        if dialect.name in ("mysql", "mariadb"):
            from sqlalchemy.dialects.mysql import LONGTEXT

            return dialect.type_descriptor(LONGTEXT())
        return dialect.type_descriptor(sa.Text())


class _LongBlob(sa.types.TypeDecorator):
    """
    BLOB, LONGBLOB on MySQL.
    """

    impl = sa.LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine:
        if dialect.name in ("mysql", "mariadb"):
            from sqlalchemy.dialects.mysql import LONGBLOB

            return dialect.type_descriptor(LONGBLOB())
        return dialect.type_descriptor(sa.LargeBinary())


_LONG_TEXT = _LongText()
_LONG_BLOB = _LongBlob()
#: SQLite only makes ``INTEGER PRIMARY KEY`` the (fast) rowid; elsewhere 64 bits
_POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIMESTAMP = sa.String(32)  # "2026-01-31T12:00:00.000000Z", as hashed


def _mysql_binary_collation(dialect: sa.Dialect) -> str:
    """
    A case- and trailing-space-sensitive collation, so ``"a"``, ``"A"`` and ``"a "`` differ.
    """
    if getattr(dialect, "is_mariadb", False):
        return "utf8mb4_nopad_bin"
    if (dialect.server_version_info or (0,)) >= (8, 0):
        return "utf8mb4_0900_bin"
    return "utf8mb4_bin"  # MySQL 5.7: pads trailing spaces, the best it has


class _Key(sa.types.TypeDecorator):
    """
    A stream id or consumer name: compared exactly, byte for byte, on every dialect.
    """

    impl = sa.String(MAX_STREAM_ID_LENGTH)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine:
        if dialect.name in ("mysql", "mariadb"):
            from sqlalchemy.dialects import mysql as sa_mysql

            return dialect.type_descriptor(
                sa_mysql.VARCHAR(MAX_STREAM_ID_LENGTH, charset="utf8mb4",
                                 collation=_mysql_binary_collation(dialect))
            )
        return dialect.type_descriptor(sa.String(MAX_STREAM_ID_LENGTH))


metadata = sa.MetaData()

events = sa.Table(
    f"{PREFIX}events", metadata,
    sa.Column("position", _POSITION, primary_key=True, autoincrement=False),
    sa.Column("stream_id", _Key(), nullable=False),
    sa.Column("stream_version", sa.Integer, nullable=False),
    sa.Column("type", sa.String(200), nullable=False),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("recorded_at", _TIMESTAMP, nullable=False),
    sa.Column("actor", sa.String(200), nullable=True),
    sa.Column("payload", _LONG_TEXT, nullable=False),
    sa.Column("metadata", _LONG_TEXT, nullable=False),
    sa.Column("prev_hash", sa.CHAR(64), nullable=False),
    sa.Column("hash", sa.CHAR(64), nullable=False),
    sa.UniqueConstraint("stream_id", "stream_version", name=f"{PREFIX}uq_stream_version"),
)

head_table = sa.Table(
    f"{PREFIX}head", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.CHAR(64), nullable=False),
)

snapshots = sa.Table(
    f"{PREFIX}snapshots", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("data", _LONG_BLOB, nullable=False),
    sa.Column("created_at", _TIMESTAMP, nullable=False),
)

checkpoints = sa.Table(
    f"{PREFIX}checkpoints", metadata,
    sa.Column("consumer", _Key(), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)

schema_table = sa.Table(
    f"{PREFIX}schema", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("min_eventreg", sa.String(40), nullable=False),
    sa.Column("applied_at", _TIMESTAMP, nullable=False),
)

# -- schema versions -------------------------------------------------------------------


class Migration(NamedTuple):
    """
    One schema version: the first eventreg release that writes it, and how to get there
    from the version before (``None`` for version 1, which is created, not upgraded).
    """

    version: int
    min_eventreg: str
    upgrade: Callable[[sa.Connection], None] | None


#: Every schema version, oldest first. A new version appends a step here and changes
#: the table definitions above to what the step produces; a fresh database is created
#: from the tables directly and stamped with the last version. MySQL commits each DDL
#: statement by itself, so a step interrupted there is run again on the next open:
#: write steps that can be re-run (``checkfirst=True``, ``IF NOT EXISTS``).
def _head_is_last_event(dialect: sa.Dialect) -> bool:
    """
    Whether the head is read from the last event row rather than kept in a locked row.

    SQLite: ``BEGIN IMMEDIATE`` takes the single write lock, so no second writer can
    come between reading the last event and committing after it; ``eventreg_head`` is
    then a view of the last event (writes to it are ignored). Elsewhere writers
    serialise on the head row, which ``SELECT ... FOR UPDATE`` locks and each append moves.
    """
    return dialect.name == "sqlite"


_HEAD_VIEW = f"""
CREATE VIEW IF NOT EXISTS {PREFIX}head (id, position, hash) AS SELECT 1,
    COALESCE((SELECT position FROM {PREFIX}events ORDER BY position DESC LIMIT 1), 0),
    COALESCE((SELECT hash FROM {PREFIX}events ORDER BY position DESC LIMIT 1), '{GENESIS_HASH}')
"""
_HEAD_VIEW_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS {PREFIX}head_{verb.lower()} INSTEAD OF {verb} ON {PREFIX}head "
    "BEGIN SELECT 1; END"
    for verb in ("INSERT", "UPDATE", "DELETE")
]


def _create_head_view(conn: sa.Connection) -> None:
    """
    SQLite: ``eventreg_head`` as a view of the last event (see :func:`_head_is_last_event`).
    """
    conn.exec_driver_sql(_HEAD_VIEW)
    for trigger in _HEAD_VIEW_TRIGGERS:
        conn.exec_driver_sql(trigger)


def _upgrade_to_2(conn: sa.Connection) -> None:
    """
    Schema 2: on SQLite the head row becomes a view of the last event; elsewhere no change.
    """
    if _head_is_last_event(conn.dialect):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {PREFIX}head")
        _create_head_view(conn)


MIGRATIONS: list[Migration] = [
    Migration(1, "0.1.0", None),
    Migration(2, "0.1.0", _upgrade_to_2),
]


def schema_version_known() -> int:
    """
    The newest schema version this eventreg can read and write.
    """
    return MIGRATIONS[-1].version


def _schema_lock(conn: sa.Connection) -> None:
    """
    Serialise schema creation and upgrades between processes (inside ``conn``'s transaction).
    """
    name = conn.dialect.name
    if name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(4242001)"))
    elif name in ("mysql", "mariadb"):  # DDL commits on MySQL: a session lock instead
        got = conn.execute(sa.text("SELECT GET_LOCK('eventreg_schema', 60)")).scalar()
        if got != 1:
            raise BackendUnavailable("timed out waiting for another process to create the eventreg schema")
    # SQLite: the transaction began with BEGIN IMMEDIATE, which already excludes writers


def _stored_schema(conn: sa.Connection) -> tuple[int, str] | None:
    """
    The stored schema version and the eventreg release it needs; ``None`` if there is none.
    """
    if not sa.inspect(conn).has_table(schema_table.name):
        return None
    row = conn.execute(
        sa.select(schema_table.c.version, schema_table.c.min_eventreg)
        .order_by(schema_table.c.version.desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def _refuse_newer(stored: tuple[int, str], where: str) -> None:
    version, needs = stored
    if version > schema_version_known():
        raise SchemaVersionError(
            f"the event log at {where} has schema version {version}, which needs eventreg >= {needs}; "
            f"this is eventreg {eventreg.__version__}, which knows schema versions up to "
            f"{schema_version_known()}: upgrade eventreg (pip install -U 'eventreg>={needs}')"
        )


def ensure_schema(conn: sa.Connection, where: str) -> int:
    """
    Create the tables on first open, or upgrade an older schema, under a cross-process lock.

    Returns:
        The schema version now stored.

    Raises:
        SchemaVersionError: the stored schema is newer than this eventreg knows.
    """
    conn.execution_options(sqlite_begin="DEFERRED")  # only reading, so far
    stored = _stored_schema(conn)
    conn.rollback()
    conn.execution_options(sqlite_begin="IMMEDIATE")
    if stored is not None:
        _refuse_newer(stored, where)
        if stored[0] == schema_version_known():
            return stored[0]
    try:
        with conn.begin():
            _schema_lock(conn)
            stored = _stored_schema(conn)  # again, now that we hold the lock
            if stored is None:
                _create(conn)
            else:
                _refuse_newer(stored, where)
                _upgrade(conn, stored[0])
    finally:
        if conn.dialect.name in ("mysql", "mariadb"):
            conn.execute(sa.text("SELECT RELEASE_LOCK('eventreg_schema')"))
        conn.rollback()
    return schema_version_known()


def _stamp(conn: sa.Connection, step: Migration) -> None:
    conn.execute(sa.insert(schema_table).values(
        version=step.version, min_eventreg=step.min_eventreg, applied_at=format_timestamp(now())))


def _create(conn: sa.Connection) -> None:
    if conn.dialect.name in ("mysql", "mariadb"):
        # given here, not on the Table: naming a dialect's options there imports that
        # dialect in every process, SQLite ones included (~25 ms of a cold start)
        for table in metadata.tables.values():
            table.dialect_kwargs.update(_MYSQL_TABLE)
    if _head_is_last_event(conn.dialect):
        tables = [table for table in metadata.sorted_tables if table is not head_table]
        metadata.create_all(conn, tables=tables, checkfirst=True)
        _create_head_view(conn)
    else:
        metadata.create_all(conn, checkfirst=True)  # other tables in the database are left alone
        if conn.execute(sa.select(head_table.c.id)).first() is None:
            conn.execute(sa.insert(head_table).values(id=1, position=0, hash=GENESIS_HASH))
    _stamp(conn, MIGRATIONS[-1])


def _upgrade(conn: sa.Connection, version: int) -> None:
    for step in MIGRATIONS:
        if step.version > version:
            assert step.upgrade is not None, "only version 1 is created rather than upgraded"
            step.upgrade(conn)
            _stamp(conn, step)


# -- statements ------------------------------------------------------------------------


class _Sql(NamedTuple):
    """
    A statement compiled for one dialect: its text, the order of its parameters and
    the values of those the dialect added itself (SQLite's ``OFFSET 0``).
    """

    text: str
    order: tuple[str, ...]
    defaults: dict[str, Any]

    def args(self, **values: Any) -> tuple[Any, ...]:
        defaults = self.defaults
        return tuple(values[name] if name in values else defaults[name] for name in self.order)


def _compile(statement: Any, dialect: sa.Dialect, column_keys: list[str] | None = None) -> _Sql:
    compiled = statement.compile(dialect=dialect, column_keys=column_keys)
    text = str(compiled)
    assert "POSTCOMPILE" not in text, text
    defaults = {name: value for name, value in compiled.params.items() if value is not None}
    return _Sql(text, tuple(compiled.positiontup or ()), defaults)


def _upsert_checkpoint(dialect: sa.Dialect) -> Any:
    """
    ``INSERT`` a consumer's checkpoint, or update it if the consumer has one.
    """
    values = {"consumer": sa.bindparam("consumer"), "position": sa.bindparam("position")}
    if dialect.name in ("mysql", "mariadb"):
        from sqlalchemy.dialects import mysql as sa_mysql

        insert = sa_mysql.insert(checkpoints).values(values)
        return insert.on_duplicate_key_update(position=insert.inserted.position)
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as pg_insert  # same ON CONFLICT syntax
    insert = pg_insert(checkpoints).values(values)
    return insert.on_conflict_do_update(index_elements=[checkpoints.c.consumer],
                                        set_={"position": insert.excluded.position})


_EVENT_COLUMNS = [c.name for c in events.columns]


class _Statements:
    """
    Every statement the log runs, compiled once for a dialect.
    """

    def __init__(self, dialect: sa.Dialect) -> None:
        bp = sa.bindparam
        ev = events.c
        every = [events.c[name] for name in _EVENT_COLUMNS]
        self.insert = _compile(sa.insert(events), dialect, column_keys=_EVENT_COLUMNS)
        assert list(self.insert.order) == _EVENT_COLUMNS, self.insert.order
        if _head_is_last_event(dialect):  # the last event row; the write lock is BEGIN IMMEDIATE's
            self.head = self.lock_head = _compile(
                sa.select(ev.position, ev.hash).order_by(ev.position.desc()).limit(bp("one")), dialect)
            self.head_args = self.head.args(one=1)
            self.move_head_text: str | None = None
        else:
            self.lock_head = _compile(
                sa.select(head_table.c.position, head_table.c.hash).where(head_table.c.id == bp("one"))
                .with_for_update(), dialect)
            self.head = _compile(
                sa.select(head_table.c.position, head_table.c.hash).where(head_table.c.id == bp("one")),
                dialect)
            self.head_args = self.head.args(one=1)
            move_head = _compile(
                sa.update(head_table).where(head_table.c.id == bp("id"))
                .values(position=bp("new_position"), hash=bp("new_hash")), dialect)
            assert move_head.order == ("new_position", "new_hash", "id"), move_head.order
            self.move_head_text = move_head.text
        self.stream_version = _compile(
            sa.select(ev.stream_version).where(ev.stream_id == bp("sid"))
            .order_by(ev.stream_version.desc()).limit(bp("one")), dialect)
        self.read_stream = _compile(
            sa.select(*every).where(ev.stream_id == bp("sid"), ev.stream_version >= bp("from_version"))
            .order_by(ev.stream_version), dialect)
        self.read_all = _compile(
            sa.select(*every).where(ev.position >= bp("lo")).order_by(ev.position).limit(bp("n")), dialect)
        self.save_snapshot = _compile(sa.insert(snapshots).values(
            position=bp("position"), data=bp("data"), created_at=bp("created_at")), dialect)
        self.latest_snapshot = _compile(
            sa.select(snapshots.c.position, snapshots.c.data, snapshots.c.created_at)
            .order_by(snapshots.c.position.desc(), snapshots.c.id.desc()).limit(bp("one")), dialect)
        self.get_checkpoint = _compile(
            sa.select(checkpoints.c.position).where(checkpoints.c.consumer == bp("consumer")), dialect)
        self.set_checkpoint = _compile(_upsert_checkpoint(dialect), dialect)
        # the appends' hot statements take plain tuples in this order
        assert self.stream_version.order[:2] == ("sid", "one"), self.stream_version.order
        self.stream_version_tail = self.stream_version.args(sid=None, one=1)[2:]


def _event_row(item: Prepared) -> tuple[Any, ...]:
    e = item.event
    return (e.position, e.stream_id, e.stream_version, e.type, e.schema_version, item.recorded_at_text,
            e.actor, item.payload_text, item.metadata_text, e.prev_hash, e.hash)


#: json's C scanner: ``decode_json`` without its per-call whitespace handling
_scan_json = json.scanner.make_scanner(json.JSONDecoder())


def _decode_rows(rows: list[Any]) -> list[RecordedEvent]:
    """
    Rows of the events table (in column order) as :class:`RecordedEvent`.

    The hot loop of ``read_all``: JSON goes straight to the C scanner; text that is not
    exactly one JSON value (stored text is canonical, so only after tampering) goes
    through :func:`decode_json`, which decodes it the same way or raises. The cyclic
    garbage collector is paused meanwhile: decoded JSON cannot form cycles, and its
    passes over thousands of new dicts cost a quarter of the reading time.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _decode_rows_unpaused(rows)
    finally:
        if collecting:
            gc.enable()


def _decode_rows_unpaused(rows: list[Any]) -> list[RecordedEvent]:
    new, cls, scan, parse = tuple.__new__, RecordedEvent, _scan_json, parse_timestamp  # no __new__ frame
    out = []
    append = out.append
    stamp_text, stamp = None, None
    for position, sid, version, type_, schema, recorded, actor, payload, meta, prev, digest in rows:
        if recorded != stamp_text:  # events appended together share one timestamp
            stamp_text, stamp = recorded, parse(recorded)
        try:
            data, end = scan(payload, 0)
            if end != len(payload):
                data = _decode_stored(payload, position)
        except (StopIteration, ValueError):  # not one JSON value
            data = _decode_stored(payload, position)
        append(new(cls, (position, sid, version, type_, schema, stamp, actor, data,
                         {} if meta == "{}" else _decode_stored(meta, position), prev, digest)))
    return out


def _decode_stored(text: str, position: int) -> Any:
    """
    Raises:
        LogCorrupted: the stored text at ``position`` is not JSON (it was edited by hand).
    """
    try:
        return decode_json(text)
    except ValueError as e:
        raise LogCorrupted(f"the event at position {position} holds text that is not JSON: {e}") from e


# -- dialect specifics -----------------------------------------------------------------

#: the driver to use when a URL names none (SQLAlchemy would pick psycopg2 / mysqlclient)
_DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql",
                    "mariadb": "mariadb+pymysql"}
_EXTRAS = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}
#: positional parameters everywhere, so rows go to the cursor as plain tuples
_PARAMSTYLES = {"sqlite": "qmark"}
_SQLITE_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


def _begin_write(cursor: Any, dialect_name: str) -> None:
    """
    Start a write transaction; SQLite takes its single write lock up front (``BEGIN IMMEDIATE``).
    """
    if dialect_name == "sqlite":
        cursor.execute("BEGIN IMMEDIATE")
    # PostgreSQL and MySQL begin implicitly; the head row's FOR UPDATE is the lock


def _use_wal(cursor: Any, busy_timeout: float) -> None:
    """
    Put the database in WAL mode (it stays so), waiting out other connections doing the same.

    Switching needs the file to itself for a moment, and SQLite answers "database is
    locked" at once, without its busy timeout, when another process is switching too.
    """
    deadline = time.monotonic() + busy_timeout
    while cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL").fetchone()
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _sqlite_setup(engine: sa.Engine, synchronous: str, busy_timeout: float) -> None:
    """
    WAL, a busy timeout (connect arg ``timeout``) and explicit transactions for SQLite.

    pysqlite's own transaction handling is switched off (``isolation_level = None``) and
    SQLAlchemy is told to begin with ``BEGIN IMMEDIATE``: the recipe from SQLAlchemy's
    SQLite dialect documentation.
    """

    @sa_event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        _use_wal(cursor, busy_timeout)
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @sa_event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('sqlite_begin', 'IMMEDIATE')}")


def _is_conflict(error: BaseException) -> str | None:
    """
    Why a driver error means "someone else wrote first / holds the lock", or ``None``.
    """
    name = type(error).__name__
    if name == "IntegrityError":
        return "another writer recorded the same stream version first"
    sqlstate = getattr(error, "sqlstate", None)  # psycopg
    if sqlstate in ("40001", "40P01"):
        return "the database aborted the transaction as a serialization conflict"
    if sqlstate == "55P03":
        return "timed out waiting for the log's write lock"
    code = error.args[0] if error.args and isinstance(error.args[0], int) else None  # PyMySQL
    if code == 1213:
        return "the database aborted the transaction as a deadlock"
    if code == 1205:
        return "timed out waiting for the log's write lock"
    if getattr(error, "sqlite_errorname", "").startswith("SQLITE_BUSY") or "database is locked" in str(error):
        return "timed out waiting for the log's write lock (SQLite busy)"
    return None


class SQLLog(BaseLog):
    """
    An event log in SQLite, PostgreSQL or MySQL/MariaDB.

    Open it with :meth:`from_url` (or ``eventreg.open_log``). Thread-safe: appends take
    turns on one kept connection, reads borrow pooled ones.
    """

    supports_concurrent_writers = True
    shared_between_processes = True
    persistent = True

    def __init__(self, engine: sa.Engine, *, actor: str | None = None, read_chunk: int = 2000) -> None:
        """
        Wrap an engine made by :meth:`from_url`; create or upgrade the schema.

        Raises:
            BackendUnavailable: the database cannot be reached.
            SchemaVersionError: the database's schema is newer than this eventreg knows.
        """
        self._engine = engine
        self._dialect = engine.dialect
        self._name = engine.dialect.name
        self.url = redact_url(engine.url.render_as_string(hide_password=False))
        self.default_actor = actor
        self._read_chunk = read_chunk
        self._pid = os.getpid()
        self._dbapi = engine.dialect.loaded_dbapi
        self._writer_lock = threading.Lock()
        self._writer: Any = None
        self._writer_cursor: Any = None
        self._writer_commit: Any = None
        self._inherited: list[Any] = []  # a forked parent's connections: never used, never closed
        # stream versions known to be current while the head is still _cache_head (position
        # and hash, so a log restored from a backup to the same position is not mistaken)
        self._cache_lock = threading.Lock()
        self._cache_head: tuple[int, str] | None = None
        self._cache: dict[str, int] = {}
        # SQLite: a connection kept for unchanged_since() and the (data_version, head) it last saw
        self._probe_lock = threading.Lock()
        self._probe: sqlite3.Connection | None = None
        self._probe_pid = 0
        self._probe_seen: tuple[int, int] | None = None
        try:
            with engine.connect() as conn:
                ensure_schema(conn, self.url)
        except sa_exc.DBAPIError as e:
            self._raise(e, connecting=True)
        except self._dbapi.Error as e:
            self._raise(e, connecting=True)
        self._sql = _Statements(self._dialect)

    @classmethod
    def from_url(cls, url: str, *, actor: str | None = None, connect_args: dict[str, Any] | None = None,
                 sqlite_synchronous: str = "FULL", busy_timeout: float = 30.0, read_chunk: int = 2000,
                 **unknown: Any) -> SQLLog:
        """
        Open (and on first use create) the event log at a SQLAlchemy database URL.

        Args:
            url: ``sqlite:///path.db``, ``postgresql+psycopg://user@host/db``,
                ``mysql+pymysql://user@host/db`` (``postgresql://``, ``mysql://`` and
                ``mariadb://`` get psycopg / PyMySQL).
            actor: recorded on events that name none.
            connect_args: passed to the driver's ``connect()``.
            sqlite_synchronous: SQLite's ``PRAGMA synchronous``; ``FULL`` (the default)
                makes every append durable against power loss, ``NORMAL`` only
                against a crash of the process.
            busy_timeout: seconds to wait for a lock (SQLite's busy timeout, and the
                lock timeouts of PostgreSQL and MySQL).
            read_chunk: rows fetched per query by ``read_all``.

        Raises:
            ConfigurationError: an unknown option or an unusable URL.
            MissingDriver: the driver is not installed (names the extra to install).
            BackendUnavailable: the server cannot be reached.
            SchemaVersionError: the database's schema is newer than this eventreg knows.
        """
        if unknown:
            raise ConfigurationError(
                f"unknown option(s) for a SQL log: {', '.join(sorted(unknown))} (known: actor, "
                "connect_args, sqlite_synchronous, busy_timeout, read_chunk)"
            )
        try:
            parsed = make_url(url)
        except sa_exc.ArgumentError as e:
            raise ConfigurationError(f"not a database URL: {redact_url(url)}") from e
        parsed = parsed.set(drivername=_DEFAULT_DRIVERS.get(parsed.drivername, parsed.drivername))
        backend = parsed.get_backend_name()
        args = dict(connect_args or {})
        options: dict[str, Any] = {"paramstyle": _PARAMSTYLES.get(backend, "format")}
        lock_ms = int(busy_timeout * 1000)
        if backend == "sqlite":
            synchronous = str(sqlite_synchronous).upper()
            if synchronous not in _SQLITE_SYNCHRONOUS:
                raise ConfigurationError(f"sqlite_synchronous must be one of {', '.join(_SQLITE_SYNCHRONOUS)}")
            if parsed.database in (None, "", ":memory:"):
                raise ConfigurationError(
                    f"{redact_url(url)} names no database file: use sqlite:///path/to/eventreg.db, "
                    "or memory:// for a log in memory")
            args.setdefault("timeout", busy_timeout)
            args.setdefault("check_same_thread", False)  # pooled connections move between threads
        elif backend == "postgresql":
            args.setdefault("connect_timeout", 10)
            if "lock_timeout" not in args.get("options", ""):  # keep the caller's other -c settings
                args["options"] = f"{args.get('options', '')} -c lock_timeout={lock_ms}".strip()
            options["pool_pre_ping"] = True
        elif backend in ("mysql", "mariadb"):
            args.setdefault("connect_timeout", 10)
            args.setdefault("init_command", f"SET SESSION innodb_lock_wait_timeout={max(1, lock_ms // 1000)}")
            options["isolation_level"] = "READ COMMITTED"  # every statement sees the latest commits
            options["pool_pre_ping"] = True
        try:
            engine = sa.create_engine(parsed, connect_args=args, **options)
        except ModuleNotFoundError as e:
            extra = _EXTRAS.get(backend)
            hint = f"pip install 'eventreg[{extra}]'" if extra else f"install the driver for {backend}"
            raise MissingDriver(f"the {backend} log needs the {e.name} driver: {hint}") from e
        except sa_exc.NoSuchModuleError as e:
            raise ConfigurationError(f"SQLAlchemy has no dialect/driver {parsed.drivername!r}") from e
        if backend == "sqlite":
            _sqlite_setup(engine, synchronous, busy_timeout)
        try:
            return cls(engine, actor=actor, read_chunk=read_chunk)
        except BaseException:
            engine.dispose()
            raise

    # -- connections and errors ------------------------------------------------------

    def _connection(self) -> Any:
        """
        A DBAPI connection from the pool (give it back with ``close()``).
        """
        if self._pid != os.getpid():  # forked: never touch the parent's connections
            self._inherited.append(self._writer)
            self._writer = None
            self._engine.dispose(close=False)
            self._pid = os.getpid()
        try:
            return self._engine.raw_connection()
        except sa_exc.DBAPIError as e:
            self._raise(e, connecting=True)
        except self._dbapi.Error as e:
            self._raise(e, connecting=True)

    def _open_writer(self) -> Any:
        """
        The connection kept for appends (one per log: the database lets one append in at a time).
        """
        if self._writer is not None and self._pid == os.getpid():
            return self._writer
        writer = self._connection()
        self._writer, self._writer_cursor = writer, writer.cursor()
        self._writer_commit = writer.dbapi_connection.commit
        return writer

    def _drop_if_lost(self, error: BaseException, conn: Any) -> bool:
        """
        Forget ``conn`` if ``error`` says it is gone (the server restarted, a timeout ...).
        """
        if not self._dialect.is_disconnect(error, conn.dbapi_connection, None):
            return False
        conn.invalidate()
        if conn is self._writer:
            self._writer = None
        return True

    def _where(self) -> str:
        url = self._engine.url
        if self._name == "sqlite":
            return f"SQLite database {url.database or ':memory:'}"
        port = url.port or _DEFAULT_PORTS.get(self._name, "default port")
        return f"{self._name} at {url.host or 'localhost'}:{port} (database {url.database!r})"

    def _translate(self, error: BaseException, *, connecting: bool = False) -> Exception | None:
        """
        The eventreg error for a driver error, or ``None`` to let it through as it is.
        """
        reason = _is_conflict(error)
        if reason and not connecting:
            return ConcurrencyConflict(f"append to {self._where()} not done: {reason}")
        args = error.args
        if len(args) == 2 and isinstance(args[0], int):  # PyMySQL: (code, message)
            text = f"{args[1]} (error {args[0]})"
        else:
            text = " ".join(str(error).split())
        password = self._engine.url.password
        if password:
            text = text.replace(str(password), "***")
        if self._name == "sqlite" and "not a database" in text:
            return NotAnEventLog(f"{self._where()} is not a SQLite database ({text})")
        if isinstance(error, (self._dbapi.OperationalError, self._dbapi.InterfaceError)):
            verb = "cannot connect to" if connecting else "lost the connection to"
            return BackendUnavailable(f"{verb} {self._where()}: {text}")
        return None

    def _raise(self, error: BaseException, *, connecting: bool = False, conn: Any = None) -> NoReturn:
        """
        Roll back ``conn`` (if given) and raise the eventreg error for a driver error.
        """
        driver_error = error.orig if isinstance(error, sa_exc.DBAPIError) else error
        if conn is not None and not self._drop_if_lost(driver_error, conn):
            try:
                conn.rollback()
            except Exception:  # the connection is unusable; the pool must not reuse it
                conn.invalidate()
                if conn is self._writer:
                    self._writer = None
        translated = self._translate(driver_error, connecting=connecting)
        if translated is None:
            raise error
        raise translated from error

    # -- appending -------------------------------------------------------------------

    def _known_version(self, head: tuple[int, str], stream_id: str) -> int | None:
        with self._cache_lock:
            if head == self._cache_head:
                return self._cache.get(stream_id)
        return None

    def _remember(self, old_head: tuple[int, str], new_head: tuple[int, str], stream_id: str,
                  version: int) -> None:
        with self._cache_lock:
            if old_head != self._cache_head:  # someone else wrote: start afresh
                self._cache = {}
            self._cache[stream_id] = version
            self._cache_head = new_head

    def _write_transaction(self, work: Callable[[Any, int, str], tuple[int, str, Any]]) -> tuple[Any, Any]:
        """
        Run ``work(cursor, head_position, head_hash)`` holding the log's write lock.

        The head row is locked (on SQLite the whole database, by ``BEGIN IMMEDIATE``),
        ``work`` inserts events after it and returns the new head and a result; the
        head is moved and the transaction committed. A connection found dead before
        the commit is replaced once (a server restart must not fail the next append).

        Returns:
            The head (position, hash) before the transaction and ``work``'s result.
        """
        sql = self._sql
        lock_head, head_args, move_head = sql.lock_head.text, sql.head_args, sql.move_head_text
        with self._writer_lock:
            for attempt in (1, 2):
                conn = self._open_writer()
                cursor = self._writer_cursor
                committing = False
                try:
                    _begin_write(cursor, self._name)
                    cursor.execute(lock_head, head_args)
                    position, digest = cursor.fetchone() or (0, GENESIS_HASH)
                    new_position, new_hash, result = work(cursor, position, digest)
                    if move_head is not None:
                        cursor.execute(move_head, (new_position, new_hash, 1))
                    committing = True
                    self._writer_commit()
                    return (position, digest), result
                except self._dbapi.Error as e:
                    if attempt == 1 and not committing and self._drop_if_lost(e, conn):
                        continue
                    if committing and self._drop_if_lost(e, conn):
                        if self._committed(new_position, new_hash, e):
                            return (position, digest), result  # the COMMIT reached the server
                        self._raise(e)  # it did not: nothing was written
                    self._raise(e, conn=conn)
                except BaseException:
                    conn.rollback()
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _committed(self, position: int, digest: str, error: BaseException) -> bool:
        """
        Whether a COMMIT whose connection was lost took effect: our last event is stored.

        A connection can die after the server committed but before it said so (seen on
        MariaDB). Asking on a new connection turns "unknown" into a clear answer, so a
        call that raises has written nothing and a caller's retry cannot append twice.

        Raises:
            BackendUnavailable: the server cannot be asked; the append's outcome is unknown.
        """
        try:
            conn = self._connection()
            try:
                cursor = conn.cursor()
                _begin_write(cursor, self._name)
                # waits until the lost session's transaction has ended, one way or the other
                cursor.execute(self._sql.lock_head.text, self._sql.head_args)
                cursor.execute(self._sql.read_all.text, self._sql.read_all.args(lo=position, n=1))
                row = cursor.fetchall()
                conn.rollback()
            except self._dbapi.Error as e:
                self._raise(e, conn=conn)
            finally:
                conn.close()
        except EventregError:
            raise BackendUnavailable(
                f"lost the connection to {self._where()} while committing, and cannot reconnect to "
                f"learn whether the append was stored: compare head() with position {position} "
                f"hash {digest[:12]}... before retrying"
            ) from error
        return bool(row) and row[0][0] == position and _decode_rows(row)[0].hash == digest

    def _append(self, stream_id: str, pending: list[PendingEvent], expected_version: Any) -> list[RecordedEvent]:
        version_sql, version_tail = self._sql.stream_version.text, self._sql.stream_version_tail
        insert = self._sql.insert.text

        def work(cursor: Any, position: int, prev_hash: str) -> tuple[int, str, list[Prepared]]:
            current = self._known_version((position, prev_hash), stream_id)
            if current is None:
                cursor.execute(version_sql, (stream_id, 1, *version_tail))
                row = cursor.fetchone()
                current = row[0] if row else 0
            check_expected_version(stream_id, expected_version, current)
            sealed = seal(stream_id, pending, first_position=position + 1, first_stream_version=current + 1,
                          prev_hash=prev_hash, recorded_at=now())
            if len(sealed) == 1:
                cursor.execute(insert, _event_row(sealed[0]))
            else:  # _event_row, inlined
                cursor.executemany(insert, [
                    (e[0], e[1], e[2], e[3], e[4], stamp, e[6], payload, meta, e[9], e[10])
                    for e, payload, meta, stamp in sealed])
            last = sealed[-1].event
            return last.position, last.hash, sealed

        old_head, sealed = self._write_transaction(work)
        last = sealed[-1].event
        self._remember(old_head, (last.position, last.hash), stream_id, last.stream_version)
        return [item.event for item in sealed]

    def _import(self, batch: list[Prepared]) -> None:
        first, last = batch[0].event, batch[-1].event

        def work(cursor: Any, position: int, prev_hash: str) -> tuple[int, str, None]:
            if (position + 1, prev_hash) != (first.position, first.prev_hash):
                raise InvalidEvent(f"event at position {first.position} does not continue this log "
                                   f"(its head is now {position})")
            try:
                cursor.executemany(self._sql.insert.text, [_event_row(item) for item in batch])
            except self._dbapi.IntegrityError as e:
                raise InvalidEvent(f"events from position {first.position} repeat stream versions "
                                   "this log already has") from e
            return last.position, last.hash, None

        try:
            self._write_transaction(work)
        finally:
            with self._cache_lock:
                self._cache, self._cache_head = {}, None

    # -- reading ---------------------------------------------------------------------

    def _query(self, statement: _Sql, args: tuple[Any, ...], one: bool = False, commit: bool = False) -> Any:
        """
        Run one statement on a pooled connection: fetch its rows (or one), or commit it.
        """
        conn = self._connection()
        try:
            cursor = conn.cursor()
            cursor.execute(statement.text, args)
            result = None if commit else cursor.fetchone() if one else cursor.fetchall()
            cursor.close()
            if commit:
                conn.commit()
            else:
                conn.rollback()  # ends the read transaction (PostgreSQL/MySQL)
            return result
        except self._dbapi.Error as e:
            self._raise(e, conn=conn)
        finally:
            conn.close()

    def read_stream(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]:
        """
        The events of one stream from ``from_version`` on, in order.
        """
        sql = self._sql.read_stream
        return _decode_rows(self._query(sql, sql.args(sid=stream_id, from_version=max(from_version, 1))))

    def read_all(self, from_position: int = 1, limit: int | None = None) -> Iterator[RecordedEvent]:
        """
        Every event from ``from_position`` on, in global order, fetched in chunks.

        Events committed while iterating are included when the iteration reaches them.
        """
        position = max(from_position, 1)
        remaining = limit
        while remaining is None or remaining > 0:
            want = self._read_chunk if remaining is None else min(self._read_chunk, remaining)
            rows = self._query(self._sql.read_all, self._sql.read_all.args(lo=position, n=want))
            if not rows:
                return
            try:
                decoded = _decode_rows(rows)
            except LogCorrupted:  # hand out the good events before the damaged one, then raise
                for row in rows:
                    yield from _decode_rows([row])
                raise
            yield from decoded
            if len(rows) < want:
                return
            position = rows[-1][0] + 1
            if remaining is not None:
                remaining -= len(rows)

    def stream_version(self, stream_id: str) -> int:
        """
        The stream's current version (0 if it does not exist).
        """
        row = self._query(self._sql.stream_version, self._sql.stream_version.args(sid=stream_id, one=1),
                          one=True)
        return row[0] if row else 0

    def head(self) -> Head:
        """
        The last position and its hash (``(0, GENESIS_HASH)`` for an empty log).
        """
        row = self._query(self._sql.head, self._sql.head_args, one=True)
        return Head(*row) if row else Head(0, GENESIS_HASH)

    # -- snapshots and checkpoints ---------------------------------------------------

    def save_snapshot(self, position: int, data: bytes) -> None:
        """
        Store opaque bytes valid as of ``position``.
        """
        sql = self._sql.save_snapshot
        self._query(sql, sql.args(position=position, data=bytes(data), created_at=format_timestamp(now())),
                    commit=True)

    def latest_snapshot(self) -> Snapshot | None:
        """
        The snapshot with the highest position (the newest among equals), or ``None``.
        """
        row = self._query(self._sql.latest_snapshot, self._sql.latest_snapshot.args(one=1), one=True)
        if row is None:
            return None
        return Snapshot(row[0], bytes(row[1]), parse_timestamp(row[2]))

    def get_checkpoint(self, consumer: str) -> int:
        """
        The position a consumer recorded as processed (0 if none).
        """
        row = self._query(self._sql.get_checkpoint, (consumer,), one=True)
        return row[0] if row else 0

    def set_checkpoint(self, consumer: str, position: int) -> None:
        """
        Record that ``consumer`` has processed the log up to ``position``.
        """
        sql = self._sql.set_checkpoint
        self._query(sql, sql.args(consumer=consumer, position=position), commit=True)

    def unchanged_since(self, position: int) -> bool:
        """
        Whether the head is surely still at ``position``, known without reading events.

        On SQLite a connection kept for this asks ``PRAGMA data_version``, which changes
        when any other connection commits, and reads the head only when it changed: a
        registry checking before each query then pays microseconds, not a query, while
        nobody writes. Other databases answer False (the caller reads the log).
        """
        if self._name != "sqlite" or str(self._engine.url.database).startswith("file:"):
            return False  # (a URI filename: its options are the engine's to interpret)
        with self._probe_lock:
            try:
                if self._probe is None or self._probe_pid != os.getpid():
                    self._probe = sqlite3.connect(self._engine.url.database, timeout=30.0,
                                                  isolation_level=None, check_same_thread=False)
                    self._probe_pid, self._probe_seen = os.getpid(), None
                version = self._probe.execute("PRAGMA data_version").fetchone()[0]
                if self._probe_seen == (version, position):
                    return True
                row = self._probe.execute(self._sql.head.text, self._sql.head_args).fetchone()
                head = row[0] if row else 0
            except sqlite3.Error:
                return False  # the ordinary read reports the problem
            self._probe_seen = (version, head)
            return head == position

    def close(self) -> None:
        """
        Close the log's connections (a later call reconnects).
        """
        with self._writer_lock:
            if self._writer is not None and self._pid == os.getpid():
                self._writer.close()
            self._writer = None
        with self._probe_lock:
            if self._probe is not None and self._probe_pid == os.getpid():
                self._probe.close()
            self._probe, self._probe_seen = None, None
        self._engine.dispose()
