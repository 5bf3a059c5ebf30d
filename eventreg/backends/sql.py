"""
The SQL event log: SQLite, PostgreSQL and MySQL/MariaDB with one schema and one set of statements.

The tables, migrations and statements are SQLAlchemy Core, in
:mod:`eventreg.backends.sql_schema`; the statements are compiled once per dialect and
run here on the DBAPI cursor, so an append costs about what the same ``INSERT`` costs by
hand (benchmarks/log_bench.py). PostgreSQL and MySQL connections come from a SQLAlchemy
engine's pool. A SQLite log runs on stdlib ``sqlite3`` connections of its own with the
SQLite compilation of the same statements kept as text (:data:`SQLITE_STATEMENTS`), and
imports SQLAlchemy only to create or upgrade a database's schema: a new process that
opens an existing SQLite log does not pay for importing it. The few dialect differences
are small named functions: :func:`_begin_write` (SQLite's ``BEGIN IMMEDIATE``),
:func:`_head_is_last_event`, ``sql_schema._upsert_checkpoint``, ``sql_schema._schema_lock``,
``sql_schema._mysql_binary_collation`` and :func:`_is_conflict`.

Positions are handed out under a one-row head table: every append locks that row
(``SELECT ... FOR UPDATE``), inserts its events after the head, moves the head and
commits. So positions are contiguous, commits happen in position order, and a reader
that has seen position N never later sees a newly committed event below N. On SQLite
``BEGIN IMMEDIATE`` already locks the whole database, so the head is simply the last
event row and ``eventreg_head`` is a view of it (one page less written per commit).
"""

from __future__ import annotations

import gc
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

import eventreg
from eventreg.config import redact_url
from eventreg.errors import (
    AppendRefused,
    BackendUnavailable,
    ConcurrencyConflict,
    ConfigurationError,
    EventregError,
    InvalidEvent,
    LogCorrupted,
    NotAnEventLog,
    SchemaVersionError,
)
from eventreg.log import (
    FAST_REFUSED,
    GENESIS_HASH,
    BaseLog,
    Head,
    PendingEvent,
    Prepared,
    RecordedEvent,
    Snapshot,
    check_expected_version,
    decode_json,
    fast_decode,
    format_timestamp,
    json_problem,
    now,
    parse_timestamp,
    seal_rows,
    stored_row,
)

if TYPE_CHECKING:
    import sqlalchemy as sa

PREFIX = "eventreg_"
#: the events table's columns, in order (``sql_schema`` checks its table against this)
EVENT_COLUMNS = ["position", "stream_id", "stream_version", "type", "schema_version", "recorded_at", "actor",
                 "payload", "metadata", "prev_hash", "hash"]

# -- schema versions -------------------------------------------------------------------


class Migration(NamedTuple):
    """
    One schema version: the first eventreg release that writes it, and how to get there
    from the version before (``None`` for version 1, which is created, not upgraded).
    """

    version: int
    min_eventreg: str
    upgrade: Callable[[sa.Connection], None] | None


def _head_is_last_event(dialect_name: str) -> bool:
    """
    Whether the head is read from the last event row rather than kept in a locked row.

    SQLite: ``BEGIN IMMEDIATE`` takes the single write lock, so no second writer can
    come between reading the last event and committing after it; ``eventreg_head`` is
    then a view of the last event (writes to it are ignored). Elsewhere writers
    serialise on the head row, which ``SELECT ... FOR UPDATE`` locks and each append moves.
    """
    return dialect_name == "sqlite"


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
    if _head_is_last_event(conn.dialect.name):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {PREFIX}head")
        _create_head_view(conn)


#: Every schema version, oldest first. A new version appends a step here, changes the
#: table definitions in ``sql_schema`` to what the step produces and regenerates
#: :data:`SQLITE_STATEMENTS`; a fresh database is created from the tables directly and
#: stamped with the last version. MySQL commits each DDL statement by itself, so a step
#: interrupted there is run again on the next open: write steps that can be re-run
#: (``checkfirst=True``, ``IF NOT EXISTS``).
MIGRATIONS: list[Migration] = [
    Migration(1, "0.1.0", None),
    Migration(2, "0.1.0", _upgrade_to_2),
]


def schema_version_known() -> int:
    """
    The newest schema version this eventreg can read and write.
    """
    return MIGRATIONS[-1].version


def _refuse_newer(stored: tuple[int, str], where: str) -> None:
    version, needs = stored
    if version > schema_version_known():
        raise SchemaVersionError(
            f"the event log at {where} has schema version {version}, which needs eventreg >= {needs}; "
            f"this is eventreg {eventreg.__version__}, which knows schema versions up to "
            f"{schema_version_known()}: upgrade eventreg (pip install -U 'eventreg>={needs}')"
        )


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


#: The statements of :func:`eventreg.backends.sql_schema.compile_statements` compiled for
#: SQLite (qmark parameters), so a SQLite log needs no SQLAlchemy to run them; a test
#: checks this table against that function.
SQLITE_STATEMENTS: dict[str, _Sql] = {
    "insert": _Sql(
        "INSERT INTO eventreg_events (position, stream_id, stream_version, type, schema_version, "
        "recorded_at, actor, payload, metadata, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?)",
        ("position",
         "stream_id",
         "stream_version",
         "type",
         "schema_version",
         "recorded_at",
         "actor",
         "payload",
         "metadata",
         "prev_hash",
         "hash"),
        {}),
    "head": _Sql(
        "SELECT eventreg_events.position, eventreg_events.hash \n"
        "FROM eventreg_events ORDER BY eventreg_events.position DESC\n"
        " LIMIT ? OFFSET ?",
        ("one", "param_1"),
        {"param_1": 0}),
    "lock_head": _Sql(
        "SELECT eventreg_events.position, eventreg_events.hash \n"
        "FROM eventreg_events ORDER BY eventreg_events.position DESC\n"
        " LIMIT ? OFFSET ?",
        ("one", "param_1"),
        {"param_1": 0}),
    "stream_version": _Sql(
        "SELECT eventreg_events.stream_version \n"
        "FROM eventreg_events \n"
        "WHERE eventreg_events.stream_id = ? ORDER BY eventreg_events.stream_version DESC\n"
        " LIMIT ? OFFSET ?",
        ("sid", "one", "param_1"),
        {"param_1": 0}),
    "read_stream": _Sql(
        "SELECT eventreg_events.position, eventreg_events.stream_id, eventreg_events.stream_version, "
        "eventreg_events.type, eventreg_events.schema_version, eventreg_events.recorded_at, "
        "eventreg_events.actor, eventreg_events.payload, eventreg_events.metadata, "
        "eventreg_events.prev_hash, eventreg_events.hash \n"
        "FROM eventreg_events \n"
        "WHERE eventreg_events.stream_id = ? AND eventreg_events.stream_version >= ? ORDER BY "
        "eventreg_events.stream_version",
        ("sid", "from_version"),
        {}),
    "read_all": _Sql(
        "SELECT eventreg_events.position, eventreg_events.stream_id, eventreg_events.stream_version, "
        "eventreg_events.type, eventreg_events.schema_version, eventreg_events.recorded_at, "
        "eventreg_events.actor, eventreg_events.payload, eventreg_events.metadata, "
        "eventreg_events.prev_hash, eventreg_events.hash \n"
        "FROM eventreg_events \n"
        "WHERE eventreg_events.position >= ? ORDER BY eventreg_events.position\n"
        " LIMIT ? OFFSET ?",
        ("lo", "n", "param_1"),
        {"param_1": 0}),
    "save_snapshot": _Sql(
        "INSERT INTO eventreg_snapshots (position, data, created_at) VALUES (?, ?, ?)",
        ("position", "data", "created_at"),
        {}),
    "latest_snapshot": _Sql(
        "SELECT eventreg_snapshots.position, eventreg_snapshots.data, eventreg_snapshots.created_at \n"
        "FROM eventreg_snapshots ORDER BY eventreg_snapshots.position DESC, eventreg_snapshots.id "
        "DESC\n"
        " LIMIT ? OFFSET ?",
        ("one", "param_1"),
        {"param_1": 0}),
    "get_checkpoint": _Sql(
        "SELECT eventreg_checkpoints.position \n"
        "FROM eventreg_checkpoints \n"
        "WHERE eventreg_checkpoints.consumer = ?",
        ("consumer",),
        {}),
    "set_checkpoint": _Sql(
        "INSERT INTO eventreg_checkpoints (consumer, position) VALUES (?, ?) ON CONFLICT (consumer) "
        "DO UPDATE SET position = excluded.position",
        ("consumer", "position"),
        {}),
}


class _Statements:
    """
    Every statement the log runs, compiled for its dialect, and the argument tuples the
    hot paths reuse.
    """

    def __init__(self, compiled: dict[str, _Sql]) -> None:
        self.insert = compiled["insert"]
        assert list(self.insert.order) == EVENT_COLUMNS, self.insert.order
        self.head, self.lock_head = compiled["head"], compiled["lock_head"]
        self.head_args = self.head.args(one=1)
        move_head = compiled.get("move_head")
        if move_head is not None:
            assert move_head.order == ("new_position", "new_hash", "id"), move_head.order
        self.move_head_text = None if move_head is None else move_head.text
        self.stream_version = compiled["stream_version"]
        self.read_stream = compiled["read_stream"]
        self.read_all = compiled["read_all"]
        self.save_snapshot = compiled["save_snapshot"]
        self.latest_snapshot = compiled["latest_snapshot"]
        self.get_checkpoint = compiled["get_checkpoint"]
        self.set_checkpoint = compiled["set_checkpoint"]
        head, _, values = self.insert.text.partition(" VALUES ")
        #: SQLite: ``insert_texts[n]`` is the ``INSERT`` of n rows, n from 1 to
        #: :data:`INSERT_ROWS` (qmark parameters, :data:`EVENT_COLUMNS` order per row)
        self.insert_texts: tuple[str | None, ...] = (
            None, *(f"{head} VALUES {', '.join([values] * n)}" for n in range(1, INSERT_ROWS + 1)))
        # the appends' hot statements take plain tuples in this order
        assert self.stream_version.order[:2] == ("sid", "one"), self.stream_version.order
        self.stream_version_tail = self.stream_version.args(sid=None, one=1)[2:]



    def insert_chunks(self, params: list[Any]) -> list[tuple[str, list[Any], int]]:
        """
        SQLite: ``(statement, parameters, rows)`` inserting the rows of ``params`` (as
        :func:`eventreg.log.seal` lists them), up to :data:`INSERT_ROWS` rows each.
        """
        columns = len(EVENT_COLUMNS)
        step = INSERT_ROWS * columns
        if len(params) <= step:  # the common case: one statement
            rows = len(params) // columns
            return [(self.insert_texts[rows], params, rows)]
        chunks = []
        for start in range(0, len(params), step):
            chunk = params[start:start + step]
            rows = len(chunk) // columns
            chunks.append((self.insert_texts[rows], chunk, rows))
        return chunks


#: SQLite: the hash stored at a position (an append that presumes the head checks it)
HASH_AT = f"SELECT hash FROM {PREFIX}events WHERE position = ?"

#: rows per ``INSERT`` statement on SQLite: one statement binds them all, which costs
#: SQLite and the driver less per row than ``executemany`` (11 x 64 parameters stay
#: under the 999 that SQLite before 3.32 allowed)
INSERT_ROWS = 64


def _decode_rows(rows: list[Any]) -> list[RecordedEvent]:
    """
    Rows of the events table (in column order) as :class:`RecordedEvent`.

    The hot loop of ``read_all``: msgspec decodes the JSON texts; what it refuses goes
    through :func:`_decode_stored`, which decodes it as ``json.loads`` does or names
    the damage. The cyclic garbage collector is paused meanwhile: decoded JSON cannot
    form cycles, and its passes over thousands of new dicts cost a quarter of the
    reading time.

    Raises:
        LogCorrupted: a row is not an event eventreg wrote (edited by hand), naming its position.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _decode_rows_unpaused(rows)
    finally:
        if collecting:
            gc.enable()


def _decode_rows_unpaused(rows: list[Any]) -> list[RecordedEvent]:
    new, cls, decode, parse, refused = tuple.__new__, RecordedEvent, fast_decode, parse_timestamp, FAST_REFUSED
    out = []
    append = out.append
    stamp_text, stamp = None, None
    for row in rows:
        if type(row) is _Undecodable:
            raise LogCorrupted(f"the event at position {row.position} holds {row.column} bytes that are not "
                               "UTF-8 text (edited by hand)")
        position, sid, version, type_, schema, recorded, actor, payload, meta, prev, digest = row
        if recorded != stamp_text:  # events appended together share one timestamp
            stamp = _parse_stored_time(recorded, position)
            stamp_text = recorded
        try:
            data = decode(payload) if type(payload) is str else None
        except refused:
            data = None
        if type(data) is not dict:  # not text, not JSON msgspec takes, not an object
            data = _decode_stored(payload, position)
        if meta == "{}":
            metadata = {}
        else:
            try:
                metadata = decode(meta) if type(meta) is str else None
            except refused:
                metadata = None
            if type(metadata) is not dict:
                metadata = _decode_stored(meta, position, "metadata")
        append(new(cls, (position, sid, version, type_, schema, stamp, actor, data, metadata, prev, digest)))
    return out


class _Undecodable(NamedTuple):
    """
    Stands for a row whose text is not UTF-8 (see ``SQLLog._rows_before_undecodable``).
    """

    position: Any
    column: str


class _UndecodableText(LogCorrupted):
    """
    SQLite returned text that is not UTF-8: the position is found by reading again.
    """


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True




def _parse_stored_time(text: Any, position: int) -> datetime:
    """
    Raises:
        LogCorrupted: ``recorded_at`` at ``position`` is not a timestamp eventreg wrote.
    """
    try:
        if type(text) is not str or text[-1:] != "Z":
            raise ValueError("not a UTC timestamp ending in Z")
        return parse_timestamp(text)
    except ValueError as e:
        raise LogCorrupted(f"the event at position {position} has a recorded_at that is not a timestamp "
                           f"({_show(text)}): {e}") from None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _decode_stored(text: Any, position: int, what: str = "payload") -> Any:
    """
    A stored payload or metadata text as a JSON object; the slow path of :func:`_decode_rows`.

    Raises:
        LogCorrupted: the stored value at ``position`` is not a JSON object eventreg wrote
            (it was edited by hand): not text, not JSON, nested too deeply, holding a lone
            surrogate, or not an object.
    """
    if type(text) is not str:
        raise LogCorrupted(f"the event at position {position} has a {what} stored as "
                           f"{type(text).__name__}, not as text")
    try:
        value = decode_json(text)
    except ValueError as e:
        raise LogCorrupted(f"the event at position {position} holds {what} text that is not JSON: {e}") from e
    problem = json_problem(value)
    if problem:
        raise LogCorrupted(f"the event at position {position} holds a {what} that {problem}")
    return value


#: this process's id, updated in a forked child (``os.getpid()`` is a system call, and every
#: append and read asks whether it runs in the process that opened the connections)
_PROCESS = [os.getpid()]
if hasattr(os, "register_at_fork"):  # no fork, no change elsewhere
    os.register_at_fork(after_in_child=lambda: _PROCESS.__setitem__(0, os.getpid()))

class _Appender:
    """
    A log's append state: the head this log last committed or read, the stream versions
    known current at that head, and the lock that guards both and the log's writer
    connection (``with appender:``).
    """

    __slots__ = ("head", "versions", "_lock")

    def __init__(self) -> None:
        self.head: tuple[int, str] | None = None
        self.versions: dict[str, int] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> _Appender:
        self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

# -- dialect specifics -----------------------------------------------------------------

_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}
_SQLITE_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
#: SQLite's ``wal_autocheckpoint`` for the log's connections, in pages (SQLite's default:
#: 1,000). A commit that grows the write-ahead log file pays for flushing the file's new
#: size as well as its pages; once the log is checkpointed, commits reuse its space. A
#: smaller log is reused sooner: single-event commits measured ~19 % faster (median 614
#: -> 498 us with synchronous=FULL, 500 commits on a new file), for a checkpoint every few
#: hundred pages instead of every thousand.
WAL_AUTOCHECKPOINT = 300


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


#: SQLite's extended result codes of a uniqueness failure (a position or stream version taken)
_SQLITE_UNIQUE_CODES = (1555, 2067, 2579)  # CONSTRAINT_PRIMARYKEY, _UNIQUE, _ROWID


def _refused(error: BaseException) -> bool:
    """
    Whether the database refused the rows for a reason of its own: a trigger's error or a
    constraint other than uniqueness (CHECK, NOT NULL, a foreign key ...) that a user added.
    Uniqueness failures are :func:`_is_conflict`'s.
    """
    code = getattr(error, "sqlite_errorcode", None)  # stdlib sqlite3 (3.11+)
    if isinstance(code, int):
        return code & 0xFF == 19 and code not in _SQLITE_UNIQUE_CODES  # SQLITE_CONSTRAINT
    if isinstance(error, sqlite3.IntegrityError):  # Python 3.10: only the message tells
        return not str(error).startswith("UNIQUE constraint failed")
    if type(error).__module__.startswith("pymysql"):  # a SIGNAL, CHECK, NOT NULL, foreign key
        return bool(error.args) and error.args[0] in (1644, 3819, 1048, 1451, 1452)
    sqlstate = getattr(error, "sqlstate", None)  # psycopg: integrity (23...), RAISE EXCEPTION
    return isinstance(sqlstate, str) and ((sqlstate.startswith("23") and sqlstate != "23505") or sqlstate == "P0001")


def _is_conflict(error: BaseException) -> str | None:
    """
    Why a driver error means "someone else wrote first / holds the lock", or ``None``.
    """
    name = type(error).__name__
    if name in ("IntegrityError", "UniqueViolation") and not _refused(error):
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


# -- connections -----------------------------------------------------------------------


def _driver_error(error: BaseException) -> BaseException:
    """
    The driver's own error inside SQLAlchemy's wrapper (``DBAPIError.orig``), else ``error``.
    """
    orig = getattr(error, "orig", None)
    if isinstance(orig, BaseException) and type(error).__module__.startswith("sqlalchemy"):
        return orig
    return error


class _EnginePool:
    """
    PostgreSQL and MySQL: connections from a SQLAlchemy engine's pool.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.name = engine.dialect.name
        self.dbapi = engine.dialect.loaded_dbapi
        url = engine.url
        self.url = redact_url(url.render_as_string(hide_password=False))
        self.password = url.password
        port = url.port or _DEFAULT_PORTS.get(self.name, "default port")
        self.where = f"{self.name} at {url.host or 'localhost'}:{port} (database {url.database!r})"

    def connect(self) -> Any:
        return self.engine.raw_connection()

    def is_disconnect(self, error: BaseException, conn: Any) -> bool:
        return bool(self.engine.dialect.is_disconnect(error, conn.dbapi_connection, None))

    def dispose(self, close: bool = True) -> None:
        self.engine.dispose(close=close)


class _SQLiteConnection:
    """
    A connection lent by :class:`_SQLitePool`, with the part of SQLAlchemy's pooled
    connection the log uses: ``close()`` hands it back (rolled back), ``invalidate()``
    drops it.
    """

    __slots__ = ("_pool", "dbapi_connection")

    def __init__(self, pool: _SQLitePool, raw: sqlite3.Connection) -> None:
        self._pool = pool
        self.dbapi_connection: sqlite3.Connection | None = raw

    def cursor(self) -> sqlite3.Cursor:
        return self.dbapi_connection.cursor()  # type: ignore[union-attr]

    def commit(self) -> None:
        self.dbapi_connection.commit()  # type: ignore[union-attr]

    def rollback(self) -> None:
        self.dbapi_connection.rollback()  # type: ignore[union-attr]

    def close(self) -> None:
        raw, self.dbapi_connection = self.dbapi_connection, None
        if raw is not None:
            self._pool.give_back(raw)

    def invalidate(self) -> None:
        raw, self.dbapi_connection = self.dbapi_connection, None
        if raw is not None:
            try:
                raw.close()
            except sqlite3.Error:
                pass


class _SQLitePool:
    """
    SQLite: stdlib ``sqlite3`` connections in WAL mode with the log's ``synchronous``,
    transactions begun explicitly (``isolation_level=None``), up to :attr:`KEEP` kept
    for reuse; a forked child never touches its parent's.
    """

    KEEP = 5
    name = "sqlite"
    dbapi = sqlite3
    password = None

    def __init__(self, url: str, database: str, connect_args: dict[str, Any], synchronous: str,
                 busy_timeout: float) -> None:
        self.url = redact_url(url)
        self.database = database
        self.connect_args = connect_args
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self.where = f"SQLite database {database}"
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pid = _PROCESS[0]

    def new_connection(self) -> sqlite3.Connection:
        raw = sqlite3.connect(self.database, **self.connect_args)
        try:
            raw.isolation_level = None
            cursor = raw.cursor()
            _use_wal(cursor, self.busy_timeout)
            cursor.execute(f"PRAGMA synchronous={self.synchronous}")
            cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
            cursor.close()
        except BaseException:
            raw.close()
            raise
        return raw

    def connect(self) -> _SQLiteConnection:
        with self._lock:
            if self._pid != _PROCESS[0]:
                self._idle, self._pid = [], _PROCESS[0]
            raw = self._idle.pop() if self._idle else None
        return _SQLiteConnection(self, raw if raw is not None else self.new_connection())

    def give_back(self, raw: sqlite3.Connection) -> None:
        try:
            if raw.in_transaction:
                raw.rollback()
        except sqlite3.Error:
            raw.close()
            return
        with self._lock:
            if self._pid == _PROCESS[0] and len(self._idle) < self.KEEP:
                self._idle.append(raw)
                return
        raw.close()

    def is_disconnect(self, error: BaseException, conn: Any) -> bool:
        return isinstance(error, sqlite3.ProgrammingError) and "closed database" in str(error)

    def dispose(self, close: bool = True) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        if close:
            for raw in idle:
                raw.close()


def _sqlite_pool(url: str, scheme: str, connect_args: dict[str, Any] | None, synchronous: str,
                 busy_timeout: float) -> _SQLitePool:
    """
    The connections of a ``sqlite:///path.db`` log. A plain URL is read here; one with a
    query string or %-escapes is read as SQLAlchemy's pysqlite dialect reads it.

    Raises:
        ConfigurationError: another SQLite driver, no database file, or a bad ``synchronous``.
    """
    if scheme not in ("sqlite", "sqlite+pysqlite"):
        raise ConfigurationError(f"the SQLite log runs on Python's sqlite3 (sqlite:///path.db), not {scheme}")
    synchronous = str(synchronous).upper()
    if synchronous not in _SQLITE_SYNCHRONOUS:
        raise ConfigurationError(f"sqlite_synchronous must be one of {', '.join(_SQLITE_SYNCHRONOUS)}")
    rest = url.split("://", 1)[1]
    if "?" in rest or "%" in rest:
        from eventreg.backends import sql_schema

        database, args = sql_schema.sqlite_connect_args(url)
    else:  # sqlite:///relative.db or sqlite:////absolute.db, as SQLAlchemy reads them
        path = rest[1:] if rest.startswith("/") else ""
        database, args = (os.path.abspath(path) if path not in ("", ":memory:") else None), {}
    if database in (None, "", ":memory:"):
        raise ConfigurationError(
            f"{redact_url(url)} names no database file: use sqlite:///path/to/eventreg.db, "
            "or memory:// for a log in memory")
    args.update(connect_args or {})
    args.setdefault("timeout", busy_timeout)
    args.setdefault("check_same_thread", False)  # pooled connections move between threads
    return _SQLitePool(url, database, args, synchronous, busy_timeout)

class SQLLog(BaseLog):
    """
    An event log in SQLite, PostgreSQL or MySQL/MariaDB.

    Open it with :meth:`from_url` (or ``eventreg.open_log``). Thread-safe: appends take
    turns on one kept connection, reads borrow pooled ones.
    """

    supports_concurrent_writers = True
    shared_between_processes = True
    persistent = True

    def __init__(self, pool: _EnginePool | _SQLitePool, *, actor: str | None = None, read_chunk: int = 2000) -> None:
        """
        Wrap the connections :meth:`from_url` made; create or upgrade the schema.

        Raises:
            BackendUnavailable: the database cannot be reached.
            SchemaVersionError: the database's schema is newer than this eventreg knows.
        """
        self._pool = pool
        self._name = pool.name
        self.url = pool.url
        self.default_actor = actor
        self._read_chunk = read_chunk
        self._pid = _PROCESS[0]
        self._dbapi = pool.dbapi
        self._writer: Any = None
        self._writer_cursor: Any = None
        self._writer_commit: Any = None
        self._inherited: list[Any] = []  # a forked parent's connections: never used, never closed
        # SQLite: a connection kept for unchanged_since() and the (data_version, head) it last saw
        self._probe_lock = threading.Lock()
        self._probe: sqlite3.Connection | None = None
        self._probe_pid = 0
        self._probe_seen: tuple[int, int] | None = None
        # the head this log last committed or read and the stream versions known current at
        # it (position and hash, so a log restored from a backup to the same position is not
        # mistaken), guarded by its lock, which is the log's write lock
        self._appender = _Appender()
        if isinstance(pool, _SQLitePool):
            self._ensure_sqlite_schema(pool)
            compiled = SQLITE_STATEMENTS
        else:
            from eventreg.backends import sql_schema

            try:
                with pool.engine.connect() as conn:
                    sql_schema.ensure_schema(conn, self.url)
            except Exception as e:
                driver_error = _driver_error(e)
                if isinstance(driver_error, self._dbapi.Error):
                    self._raise(e, connecting=True)
                raise
            compiled = sql_schema.compile_statements(pool.engine.dialect)
        self._sql = _Statements(compiled)

    def _ensure_sqlite_schema(self, pool: _SQLitePool) -> None:
        """
        Read the stored schema version on a plain connection; only a database without
        the current schema (new, or older) needs SQLAlchemy, to create or upgrade it.
        """
        conn = self._connection()
        try:
            cursor = conn.cursor()
            found = cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                   (f"{PREFIX}schema",)).fetchone()
            row = found and cursor.execute(
                f"SELECT version, min_eventreg FROM {PREFIX}schema ORDER BY version DESC LIMIT 1").fetchone()
            cursor.close()
        except sqlite3.Error as e:
            self._raise(e, connecting=True, conn=conn)
        finally:
            conn.close()
        if row:
            _refuse_newer((row[0], row[1]), self.url)
            if row[0] == schema_version_known():
                return
        from eventreg.backends import sql_schema

        try:
            sql_schema.ensure_sqlite_schema(pool.database, pool.connect_args, pool.synchronous,
                                            pool.busy_timeout, self.url)
        except sqlite3.Error as e:
            self._raise(e, connecting=True)

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
        scheme = url.split("://", 1)[0].lower() if isinstance(url, str) and "://" in url else ""
        if scheme.split("+", 1)[0] == "sqlite":
            pool: _EnginePool | _SQLitePool = _sqlite_pool(url, scheme, connect_args, sqlite_synchronous,
                                                            busy_timeout)
        else:
            from eventreg.backends import sql_schema

            pool = _EnginePool(sql_schema.create_engine(url, connect_args, busy_timeout))
        try:
            return cls(pool, actor=actor, read_chunk=read_chunk)
        except BaseException:
            pool.dispose()
            raise

    # -- connections and errors ------------------------------------------------------

    def _connection(self) -> Any:
        """
        A DBAPI connection from the pool (give it back with ``close()``).
        """
        if self._pid != _PROCESS[0]:  # forked: never touch the parent's connections
            self._inherited.append(self._writer)
            self._writer = None
            self._pool.dispose(close=False)
            self._pid = _PROCESS[0]
        try:
            return self._pool.connect()
        except Exception as e:
            if isinstance(_driver_error(e), self._dbapi.Error):
                self._raise(e, connecting=True)
            raise

    def _open_writer(self) -> Any:
        """
        The connection kept for appends (one per log: the database lets one append in at a time).
        """
        if self._writer is not None and self._pid == _PROCESS[0]:
            return self._writer
        writer = self._connection()
        self._writer, self._writer_cursor = writer, writer.cursor()
        self._writer_commit = writer.dbapi_connection.commit
        return writer

    def _drop_if_lost(self, error: BaseException, conn: Any) -> bool:
        """
        Forget ``conn`` if ``error`` says it is gone (the server restarted, a timeout ...).
        """
        if not self._pool.is_disconnect(error, conn):
            return False
        conn.invalidate()
        if conn is self._writer:
            self._writer = None
        return True

    def _where(self) -> str:
        return self._pool.where

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
        password = self._pool.password
        if password:
            text = text.replace(str(password), "***")
        if not connecting and _refused(error):
            return AppendRefused(f"{self._where()} refused the write, nothing was written: {text}")
        if self._name == "sqlite" and "Could not decode to UTF-8" in text:
            return _UndecodableText(f"{self._where()} holds text that is not UTF-8 (edited by hand): {text}")
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
        driver_error = _driver_error(error)
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
        """
        The cached version of a stream, if ``head`` is the head it was cached at (called
        holding the write lock, which guards the cache).
        """
        appender = self._appender
        return appender.versions.get(stream_id) if head == appender.head else None

    def _remember(self, old_head: tuple[int, str], new_head: tuple[int, str], stream_id: str,
                  version: int) -> None:
        """
        Cache a stream's version after an append moved the head from ``old_head`` to
        ``new_head`` (called holding the write lock).
        """
        appender = self._appender
        if old_head != appender.head:  # someone else wrote: start afresh
            appender.versions.clear()
        appender.versions[stream_id] = version
        appender.head = new_head

    def _write_transaction(self, work: Callable[[Any, int, str], tuple[int, str, Any]],
                           presume_head: bool = False,
                           remember: Callable[[Any], tuple[str, int]] | None = None) -> tuple[Any, Any]:
        """
        Run ``work(cursor, head_position, head_hash)`` holding the log's write lock.

        The head row is locked (on SQLite the whole database, by ``BEGIN IMMEDIATE``),
        ``work`` inserts events after it and returns the new head and a result; the
        head is moved and the transaction committed. A connection found dead before
        the commit is replaced once (a server restart must not fail the next append).

        With ``presume_head`` on SQLite (where the head is the last event row), ``work``
        first runs after the head this log last committed, without searching for the
        last event: the event at that position must still have that hash (else the
        database was replaced), and positions are a key with no gaps, so if another
        writer appended since, the insert at the next position fails. Either way the
        transaction starts again and reads the head.

        ``remember(result)`` gives the (stream id, version) to cache once committed.

        Returns:
            The head (position, hash) before the transaction and ``work``'s result.
        """
        sql = self._sql
        lock_head, head_args, move_head = sql.lock_head.text, sql.head_args, sql.move_head_text
        with self._appender:
            presumed = self._appender.head if presume_head and move_head is None else None
            reconnected = False
            while True:
                conn = self._open_writer()
                cursor = self._writer_cursor
                committing = False
                try:
                    _begin_write(cursor, self._name)
                    if presumed is not None:
                        position, digest = presumed
                        try:
                            if cursor.execute(HASH_AT, (position,)).fetchone() != (digest,):
                                raise ConcurrencyConflict("the log was replaced")
                            new_position, new_hash, result = work(cursor, position, digest)
                        except (self._dbapi.IntegrityError, ConcurrencyConflict):
                            # the head moved (a stale stream version also ends here): read it
                            presumed = None
                            conn.rollback()
                            continue
                    else:
                        cursor.execute(lock_head, head_args)
                        position, digest = cursor.fetchone() or (0, GENESIS_HASH)
                        new_position, new_hash, result = work(cursor, position, digest)
                    if move_head is not None:
                        cursor.execute(move_head, (new_position, new_hash, 1))
                    committing = True
                    self._writer_commit()
                    if remember is not None:
                        self._remember((position, digest), (new_position, new_hash), *remember(result))
                    return (position, digest), result
                except self._dbapi.Error as e:
                    if not reconnected and not committing and self._drop_if_lost(e, conn):
                        reconnected = True
                        continue
                    if committing and self._drop_if_lost(e, conn):
                        if self._committed(new_position, new_hash, e):  # the COMMIT reached the server
                            if remember is not None:
                                self._remember((position, digest), (new_position, new_hash), *remember(result))
                            return (position, digest), result
                        self._raise(e)  # it did not: nothing was written
                    self._raise(e, conn=conn)
                except BaseException:
                    conn.rollback()
                    raise
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
        """
        An append on the log's writer connection.
        """
        sql = self._sql
        version_sql, version_tail = sql.stream_version.text, sql.stream_version_tail
        insert, columns = sql.insert.text, len(EVENT_COLUMNS)
        sqlite = self._name == "sqlite"

        def work(cursor: Any, position: int, prev_hash: str) -> tuple[int, str, list[RecordedEvent]]:
            current = self._known_version((position, prev_hash), stream_id)
            if current is None:
                cursor.execute(version_sql, (stream_id, 1, *version_tail))
                row = cursor.fetchone()
                current = row[0] if row else 0
            check_expected_version(stream_id, expected_version, current)
            params: list[Any] = []
            recorded = seal_rows(stream_id, pending, position + 1, current + 1, prev_hash, None, params)
            if sqlite:
                for statement, chunk, _ in sql.insert_chunks(params):
                    cursor.execute(statement, chunk)
            elif len(recorded) == 1:
                cursor.execute(insert, params)
            else:
                cursor.executemany(insert, [params[i:i + columns] for i in range(0, len(params), columns)])
            last = recorded[-1]
            return last.position, last.hash, recorded

        _, recorded = self._write_transaction(work, presume_head=True,
                                              remember=lambda done: (stream_id, done[-1].stream_version))
        return recorded

    def _import(self, batch: list[Prepared]) -> None:
        first, last = batch[0].event, batch[-1].event

        def work(cursor: Any, position: int, prev_hash: str) -> tuple[int, str, None]:
            if (position + 1, prev_hash) != (first.position, first.prev_hash):
                raise InvalidEvent(f"event at position {first.position} does not continue this log "
                                   f"(its head is now {position})")
            try:
                cursor.executemany(self._sql.insert.text, [stored_row(item) for item in batch])
            except self._dbapi.IntegrityError as e:
                raise InvalidEvent(f"events from position {first.position} repeat stream versions "
                                   "this log already has") from e
            return last.position, last.hash, None

        try:
            self._write_transaction(work)
        finally:
            with self._appender as appender:
                appender.versions.clear()
                appender.head = None

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
            rows, decoded = self._read_rows(position, want)
            if decoded is None:  # hand out the good events before the damaged one, then raise
                for row in rows:
                    yield from _decode_rows([row])
                raise AssertionError("unreachable: a row of the chunk did not decode")  # pragma: no cover
            if not decoded:
                return
            yield from decoded
            if len(decoded) < want:
                return
            position = decoded[-1][0] + 1
            if remaining is not None:
                remaining -= len(decoded)

    def _read_rows(self, position: int, want: int) -> tuple[list[Any], list[RecordedEvent] | None]:
        """
        ``read_all``'s next rows and their events (None if one of them is damaged).

        The cyclic garbage collector is paused while the rows are fetched and decoded:
        neither can form cycles, and its passes over the new tuples, strings and dicts
        cost a fifth of the reading time.

        Raises:
            LogCorrupted: a stored text is not UTF-8 (only SQLite can hold one), naming
                its position once the events before it are handed out.
        """
        sql = self._sql.read_all
        collecting = gc.isenabled()
        gc.disable()
        try:
            try:
                rows = self._query(sql, sql.args(lo=position, n=want))
            except _UndecodableText:
                rows = self._rows_before_undecodable(position, want)
                return rows, None
            try:
                return rows, _decode_rows_unpaused(rows)
            except LogCorrupted:
                return rows, None
        finally:
            if collecting:
                gc.enable()

    def _rows_before_undecodable(self, position: int, want: int) -> list[Any]:
        """
        The rows from ``position`` up to the first whose text is not UTF-8, and a last
        one standing for it (which :func:`_decode_rows` refuses, naming its position).
        """
        sql = self._sql.read_all
        conn = self._connection()
        try:
            raw = conn.dbapi_connection
            raw.text_factory = bytes
            try:
                rows = raw.execute(sql.text, sql.args(lo=position, n=want)).fetchall()
            finally:
                raw.text_factory = str
        except self._dbapi.Error as e:
            self._raise(e, conn=conn)
        finally:
            conn.close()
        good = []
        for row in rows:
            try:
                good.append(tuple(v.decode("utf-8") if type(v) is bytes else v for v in row))
            except UnicodeDecodeError:
                column = next(name for name, v in zip(EVENT_COLUMNS, row) if type(v) is bytes and not _utf8(v))
                return [*good, _Undecodable(row[0], column)]
        return good  # pragma: no cover - the rows changed meanwhile

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
        pool = self._pool
        if not isinstance(pool, _SQLitePool):
            return False
        with self._probe_lock:
            try:
                if self._probe is None or self._probe_pid != _PROCESS[0]:
                    self._probe = sqlite3.connect(pool.database, **{**pool.connect_args, "isolation_level": None})
                    self._probe_pid, self._probe_seen = _PROCESS[0], None
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
        with self._appender:
            if self._writer is not None and self._pid == _PROCESS[0]:
                self._writer.close()
            self._writer = None
        with self._probe_lock:
            if self._probe is not None and self._probe_pid == _PROCESS[0]:
                self._probe.close()
            self._probe, self._probe_seen = None, None
        self._pool.dispose()
