"""
The SQL log's connections and the dialects' differences: SQLite on stdlib ``sqlite3``
(a small pool of its own), PostgreSQL and MySQL from a SQLAlchemy engine's pool, and
the driver errors that mean a conflict or a refusal.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from eventreg.backends.sql_namespace import DEFAULT, Namespace, unknown_parameter, with_namespace
from eventreg.backends.sql_rows import UndecodableText
from eventreg.config import no_registry, redact_url
from eventreg.errors import (
    AppendRefused,
    BackendUnavailable,
    ConcurrencyConflict,
    ConfigurationError,
    NotAnEventLog,
)

if TYPE_CHECKING:
    import sqlalchemy as sa

#: this process's id, updated in a forked child (``os.getpid()`` is a system call, and every
#: append and read asks whether it runs in the process that opened the connections)
PROCESS = [os.getpid()]
if hasattr(os, "register_at_fork"):  # no fork, no change elsewhere
    os.register_at_fork(after_in_child=lambda: PROCESS.__setitem__(0, os.getpid()))

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
#: How much of the write-ahead log a SQLite log's first write reserves, in pages (a
#: little over :data:`WAL_AUTOCHECKPOINT`, the size the file settles at): see :func:`reserve_wal`.
WAL_RESERVE_PAGES = 320


class AppendState:
    """
    A log's append state: the head this log last committed or read, the stream versions
    known current at that head, and the lock that guards both and the log's writer
    connection (``with appender:``).
    """

    __slots__ = ("head", "versions", "_lock")

    def __init__(self, known: AppendState | None = None) -> None:
        self.head: tuple[int, str] | None = known.head if known else None
        self.versions: dict[str, int] = known.versions if known else {}
        self._lock = threading.Lock()

    def __enter__(self) -> AppendState:
        self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def begin_write(cursor: Any, dialect_name: str, pool: Any = None) -> None:
    """
    Start a write transaction; SQLite takes its single write lock up front (``BEGIN IMMEDIATE``),
    after reserving the write-ahead log on the first write through ``pool`` (:func:`reserve_wal`).
    """
    if dialect_name == "sqlite":
        if not getattr(pool, "wal_reserved", True):
            pool.wal_reserved = True
            reserve_wal(cursor.connection, pool.database)
        cursor.execute("BEGIN IMMEDIATE")
    # PostgreSQL and MySQL begin implicitly; the head row's FOR UPDATE is the lock


def reserve_wal(conn: sqlite3.Connection, database: str, pages: int = WAL_RESERVE_PAGES) -> bool:
    """
    Grow the database's write-ahead log file to ``pages`` pages unless it is that big
    already, by a transaction that writes them and is rolled back.

    A commit that grows the file must flush its new size as well as its pages, so the
    first few hundred commits on a new or reopened database (SQLite deletes the file
    when its last connection closes) cost more than the ones that reuse its space after
    a checkpoint. The pages are spilled to the file by a small page cache and never
    committed: readers and recovery ignore them, and later commits overwrite them. Best
    effort and never waiting: a database another writer holds, a read-only one, or one
    not in WAL mode is left as it is.

    Returns:
        Whether it wrote the pages.
    """
    try:
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            return False
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        try:
            size = os.path.getsize(f"{database}-wal")
        except OSError:
            size = 0
        if size >= pages * page_size:
            return False
        cache_size = conn.execute("PRAGMA cache_size").fetchone()[0]
        busy_timeout = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    except sqlite3.Error:
        return False
    try:
        conn.execute("PRAGMA busy_timeout=0")
        conn.execute("PRAGMA cache_size=8")  # a cache this small spills the pages to the file
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE eventreg_wal_reserve (b BLOB)")
            conn.execute("INSERT INTO eventreg_wal_reserve VALUES (zeroblob(?))", (pages * page_size,))
        finally:
            conn.execute("ROLLBACK")
        return True
    except sqlite3.Error:
        return False
    finally:
        conn.execute(f"PRAGMA cache_size={int(cache_size)}")
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout)}")


def use_wal(cursor: Any, busy_timeout: float) -> None:
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


#: The query parameters SQLAlchemy's pysqlite dialect hands to ``sqlite3.connect``.
_PYSQLITE_PARAMETERS = ("uri", "timeout", "isolation_level", "detect_types", "check_same_thread",
                        "cached_statements")
#: SQLite's own URI parameters (https://sqlite.org/uri.html), taken only with ``uri=true``.
_SQLITE_URI_PARAMETERS = ("vfs", "mode", "cache", "psow", "nolock", "immutable", "modeof")


def sqlite_connect_args(url: str) -> tuple[str | None, dict[str, Any]]:
    """
    The database and ``sqlite3.connect`` keywords of a SQLite URL with a query string or
    %-escapes, read as SQLAlchemy's pysqlite dialect reads them (``?timeout=``,
    ``?uri=true``, ...); the plain ``sqlite:///path`` is read in :func:`sqlite_connections` itself.

    Raises:
        ConfigurationError: not a URL, or a parameter neither sqlite3 nor (with ``uri=true``)
            SQLite takes. SQLAlchemy would drop it (2.1 warns; 2.0 is silent), so a misspelt
            ``?timout=30`` would seem to take effect.
    """
    from sqlalchemy import exc as sa_exc
    from sqlalchemy import util as sa_util
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError as e:
        raise ConfigurationError(f"not a database URL: {redact_url(url)}") from e
    try:
        uri = "uri" in parsed.query and sa_util.asbool(parsed.query["uri"])
    except (TypeError, ValueError) as e:
        raise ConfigurationError(f"{redact_url(url)}: uri= must be true or false") from e
    known = _PYSQLITE_PARAMETERS + (_SQLITE_URI_PARAMETERS if uri else ())
    for key in parsed.query:
        if key not in known:
            takes = f"sqlite3 takes {', '.join(_PYSQLITE_PARAMETERS)}"
            if uri:
                takes += f"; SQLite's URI {', '.join(_SQLITE_URI_PARAMETERS)}"
            elif key in _SQLITE_URI_PARAMETERS:
                takes += f"; {key}= is SQLite's, taken with uri=true"
            raise unknown_parameter(url, f"{key!r}: {takes}")
    args, kwargs = SQLiteDialect_pysqlite().create_connect_args(parsed)
    return (args[0] if args else None), dict(kwargs)


#: SQLite's extended result codes of a uniqueness failure (a position or stream version taken)
_SQLITE_UNIQUE_CODES = (1555, 2067, 2579)  # CONSTRAINT_PRIMARYKEY, _UNIQUE, _ROWID


def refused(error: BaseException) -> bool:
    """
    Whether the database refused the rows for a reason of its own: a trigger's error or a
    constraint other than uniqueness (CHECK, NOT NULL, a foreign key ...) that a user added.
    Uniqueness failures are :func:`is_conflict`'s.
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


def denied(error: BaseException) -> bool:
    """
    Whether the database refused the connecting user a privilege (a schema, a table or a
    database it was not granted).
    """
    if getattr(error, "sqlstate", None) == "42501":  # psycopg: insufficient_privilege
        return True
    if type(error).__module__.startswith("pymysql"):  # database, table, command denied
        return bool(error.args) and error.args[0] in (1044, 1142, 1143)
    return False


def is_conflict(error: BaseException) -> str | None:
    """
    Why a driver error means "someone else wrote first / holds the lock", or ``None``.
    """
    name = type(error).__name__
    if name in ("IntegrityError", "UniqueViolation") and not refused(error):
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


def translate(error: BaseException, pool: EnginePool | SQLitePool, *, connecting: bool = False) -> Exception | None:
    """
    The eventreg error for a driver's error on one of ``pool``'s connections, or ``None``
    to let it through as it is.
    """
    where = pool.where
    reason = is_conflict(error)
    if reason and not connecting:
        return ConcurrencyConflict(f"append to {where} not done: {reason}")
    args = error.args
    if len(args) == 2 and isinstance(args[0], int):  # PyMySQL: (code, message)
        text = f"{args[1]} (error {args[0]})"
    else:
        text = " ".join(str(error).split())
    if pool.password:
        text = text.replace(str(pool.password), "***")
    if connecting and "invalid connection option" in text:  # psycopg: a URL parameter libpq lacks
        return unknown_parameter(pool.url, text)
    if denied(error):  # PostgreSQL adds the statement ("LINE 2: FROM ..."): the reason is enough
        return BackendUnavailable(f"{where} denied database user {getattr(pool, 'user', None)!r} access, "
                                  f"nothing was read or written: {text.split(' LINE ', 1)[0]}")
    if not connecting and refused(error):
        return AppendRefused(f"{where} refused the write, nothing was written: {text}")
    if pool.name == "sqlite" and "Could not decode to UTF-8" in text:
        return UndecodableText(f"{where} holds text that is not UTF-8 (edited by hand): {text}")
    if pool.name == "sqlite" and "not a database" in text:
        return NotAnEventLog(f"{where} is not a SQLite database ({text})")
    if isinstance(error, (pool.dbapi.OperationalError, pool.dbapi.InterfaceError)):
        verb = "cannot connect to" if connecting else "lost the connection to"
        return BackendUnavailable(f"{verb} {where}: {text}")
    return None


# -- connections -----------------------------------------------------------------------


def driver_error(error: BaseException) -> BaseException:
    """
    The driver's own error inside SQLAlchemy's wrapper (``DBAPIError.orig``), else ``error``.
    """
    orig = getattr(error, "orig", None)
    if isinstance(orig, BaseException) and type(error).__module__.startswith("sqlalchemy"):
        return orig
    return error


class EnginePool:
    """
    PostgreSQL and MySQL: connections from a SQLAlchemy engine's pool.
    """

    def __init__(self, engine: sa.Engine, namespace: Namespace = DEFAULT) -> None:
        self.engine = engine
        self.name = engine.dialect.name
        self.dbapi = engine.dialect.loaded_dbapi
        self.namespace = namespace
        url = engine.url
        self.url = redact_url(with_namespace(url.render_as_string(hide_password=False), namespace))
        self.password = url.password
        self.user = url.username
        port = url.port or _DEFAULT_PORTS.get(self.name, "default port")
        self.where = (f"{self.name} at {url.host or 'localhost'}:{port} "
                      f"(database {url.database!r}{namespace.describe()})")

    def connect(self) -> Any:
        return self.engine.raw_connection()

    def probe(self) -> Any:
        """
        A DBAPI connection of its own, outside the pool, in autocommit mode: each
        statement sees the latest commits in one round trip (no ping, no rollback).
        """
        pooled = self.engine.raw_connection()
        pooled.detach()
        raw = pooled.dbapi_connection
        self.engine.dialect.set_isolation_level(raw, "AUTOCOMMIT")
        return raw

    def after_fork(self) -> None:
        """
        In a forked child: a new pool (the old one's lock may be held; its connections
        are the parent's, left open for it).
        """
        self.engine.dispose(close=False)

    def is_disconnect(self, error: BaseException, conn: Any) -> bool:
        return bool(self.engine.dialect.is_disconnect(error, conn.dbapi_connection, None))

    def dispose(self, close: bool = True) -> None:
        self.engine.dispose(close=close)


#: what :meth:`KeptConnection.query` returns when it did not run the statement
NOT_RUN = object()


class KeptConnection:
    """
    A connection of the log's own, outside the pool, that answers "is the head still at
    N?" before each read of a registry and, on PostgreSQL and MySQL, runs reads.

    The check costs one round trip (a pooled read takes several: a ping, the query, a
    rollback), and on SQLite none while nobody writes (``PRAGMA data_version`` changes
    when another connection commits). On PostgreSQL and MySQL the connection is in
    autocommit mode, so each statement sees the latest commits on its own; positions are
    assigned in commit order under a lock, so a head at N means nothing newer is
    committed. Thread-safe: a read finding it busy takes a pooled connection instead. In
    a forked child it opens its own.
    """

    def __init__(self, pool: Any, leave_parents: Any) -> None:
        """
        Args:
            pool: the log's :class:`SQLitePool` or :class:`EnginePool`.
            leave_parents: called before connecting in a process that did not open the
                pool (the log drops its parent's connections then).
        """
        self._pool = pool
        self._leave_parents = leave_parents
        self._runs_reads = not isinstance(pool, SQLitePool)  # SQLite's pool is cheap already
        self._lock = threading.Lock()
        self._conn: Any = None
        self._pid = 0
        self._seen: tuple[int, int] | None = None  # SQLite: the (data_version, head) last read
        self._inherited: list[Any] = []  # a forked parent's connection: never used, never closed

    def unchanged_since(self, position: int, head_sql: str, head_args: Any) -> bool:
        """
        Whether the head is surely still at ``position``; False also when the check
        itself fails (the ordinary read that follows reports the problem).
        """
        with self._lock:
            try:
                conn = self._connection()
                if not self._runs_reads:
                    version = conn.execute("PRAGMA data_version").fetchone()[0]
                    if self._seen == (version, position):
                        return True
                    row = conn.execute(head_sql, head_args).fetchone()
                    self._seen = (version, row[0] if row else 0)
                else:
                    row = self._run(conn, head_sql, head_args, True)
            except Exception:  # noqa: BLE001 - reported by the read that follows
                self._drop()
                return False
            return (row[0] if row else 0) == position

    def query(self, sql: str, args: Any, one: bool = False) -> Any:
        """
        The rows of a read (or its one row), or :data:`NOT_RUN` when this connection is
        busy, failed (then dropped) or is SQLite's: the caller then takes a pooled one.
        """
        if not self._runs_reads or not self._lock.acquire(blocking=False):
            return NOT_RUN
        try:
            return self._run(self._connection(), sql, args, one)
        except Exception:  # noqa: BLE001 - the pooled read that follows reports it
            self._drop()
            return NOT_RUN
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            self._drop()

    def after_fork(self) -> None:
        self._lock = threading.Lock()  # the parent's may have been held by another thread

    @staticmethod
    def _run(conn: Any, sql: str, args: Any, one: bool) -> Any:
        cursor = conn.cursor()
        cursor.execute(sql, args)
        rows = cursor.fetchone() if one else cursor.fetchall()
        cursor.close()
        return rows

    def _connection(self) -> Any:
        if self._conn is None or self._pid != PROCESS[0]:
            self._drop()
            self._leave_parents()
            self._conn, self._pid = self._pool.probe(), PROCESS[0]
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None and self._pid != PROCESS[0]:
            self._inherited.append(self._conn)
        elif self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - a lost connection may fail to close
                pass
        self._conn, self._seen = None, None


class _SQLiteConnection:
    """
    A connection lent by :class:`SQLitePool`, with the part of SQLAlchemy's pooled
    connection the log uses: ``close()`` hands it back (rolled back), ``invalidate()``
    drops it.
    """

    __slots__ = ("_pool", "dbapi_connection")

    def __init__(self, pool: SQLitePool, raw: sqlite3.Connection) -> None:
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


class SQLitePool:
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
                 busy_timeout: float, namespace: Namespace = DEFAULT) -> None:
        self.url = redact_url(with_namespace(url, namespace))
        self.database = database
        self.connect_args = connect_args
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self.namespace = namespace
        self.where = f"SQLite database {database}" + (f" (table prefix {namespace.prefix!r})" if namespace.prefix else "")
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pid = PROCESS[0]
        #: whether the first write reserved the write-ahead log already (:func:`begin_write`)
        self.wal_reserved = False

    def new_connection(self) -> sqlite3.Connection:
        raw = sqlite3.connect(self.database, **self.connect_args)
        try:
            raw.isolation_level = None
            cursor = raw.cursor()
            use_wal(cursor, self.busy_timeout)
            cursor.execute(f"PRAGMA synchronous={self.synchronous}")
            cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
            cursor.close()
        except BaseException:
            raw.close()
            raise
        return raw

    def probe(self) -> sqlite3.Connection:
        """
        A connection of its own in autocommit mode, for quick checks of the head.
        """
        return sqlite3.connect(self.database, **{**self.connect_args, "isolation_level": None})

    def after_fork(self) -> None:
        """
        In a forked child: a new lock; the idle connections are the parent's (``connect``
        drops them, unclosed, when it sees the pid change).
        """
        self._lock = threading.Lock()

    def connect(self) -> _SQLiteConnection:
        with self._lock:
            if self._pid != PROCESS[0]:
                self._idle, self._pid = [], PROCESS[0]
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
            if self._pid == PROCESS[0] and len(self._idle) < self.KEEP:
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


def sqlite_pool(url: str, scheme: str, connect_args: dict[str, Any] | None, synchronous: str,
                busy_timeout: float, create: bool = True, namespace: Namespace = DEFAULT) -> SQLitePool:
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
        database, args = sqlite_connect_args(url)
    else:  # sqlite:///relative.db or sqlite:////absolute.db, as SQLAlchemy reads them
        path = rest[1:] if rest.startswith("/") else ""
        database, args = (os.path.abspath(path) if path not in ("", ":memory:") else None), {}
    if database in (None, "", ":memory:"):
        raise ConfigurationError(
            f"{redact_url(url)} names no database file: use sqlite:///path/to/eventreg.db, "
            "or memory:// for a log in memory")
    if not args.get("uri"):  # a file name (a URI's own mode= decides for itself)
        folder = os.path.dirname(database)
        if not os.path.isdir(folder):
            raise ConfigurationError(
                f"{redact_url(url)}: the folder {folder} does not exist (create it, or fix the URL)")
        if not create and not os.path.exists(database):
            raise no_registry(url)
    args.update(connect_args or {})
    args.setdefault("timeout", busy_timeout)
    args.setdefault("check_same_thread", False)  # pooled connections move between threads
    return SQLitePool(url, database, args, synchronous, busy_timeout, namespace)


def sqlite_schema_row(conn: Any, table: str) -> tuple[int, str] | None:
    """
    The newest ``(version, min_eventreg)`` of a SQLite log's schema table, None without one.
    """
    cursor = conn.cursor()
    try:
        if cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone():
            return cursor.execute(f"SELECT version, min_eventreg FROM {table} ORDER BY version DESC LIMIT 1").fetchone()
        return None
    finally:
        cursor.close()


def sqlite_has_table(pool: SQLitePool, name: str) -> bool:
    """
    Whether the database has the table, asked on a read-only connection (for
    ``create=False``: a database that is not a log is neither changed nor put in WAL mode).
    """
    if pool.connect_args.get("uri"):
        target, uri = pool.database, True
    else:
        target, uri = f"file:{quote(pool.database)}?mode=ro", True
    try:
        conn = sqlite3.connect(target, uri=uri, timeout=pool.busy_timeout)
    except sqlite3.Error:
        return False
    try:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() \
            is not None
    except sqlite3.DatabaseError:
        return False  # not a database: opening it the usual way says so
    finally:
        conn.close()


#: rows a streamed read fetches at a time
STREAM_ROWS = 100


def stream_rows(conn: Any, sql: str, args: Any) -> Iterator[tuple[Any, ...]]:
    """
    The rows of a query, fetched :data:`STREAM_ROWS` at a time as the caller reads them.

    psycopg streams them (libpq's chunked mode, from libpq 17; a row at a time before),
    so the server sends the next rows while the caller decodes the ones before; SQLite
    steps its statement as it goes; PyMySQL's cursor has them all after ``execute``.
    Close the generator when not read to the end (psycopg then cancels the query).
    """
    cursor = conn.cursor()
    try:
        stream = getattr(cursor, "stream", None)
        if stream is not None:  # psycopg
            from psycopg import pq

            yield from stream(sql, args, size=STREAM_ROWS if pq.version() >= 170000 else 1)
            return
        cursor.execute(sql, args)
        while rows := cursor.fetchmany(STREAM_ROWS):
            yield from rows
    finally:
        cursor.close()
