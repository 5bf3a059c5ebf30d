"""
The SQL event log: SQLite, PostgreSQL and MySQL/MariaDB with one schema and one set of statements.

The tables and statements are SQLAlchemy Core, in :mod:`~eventreg.backends.sql_schema`;
the statements are compiled once per dialect (:mod:`~eventreg.backends.sql_statements`)
and run here on the DBAPI cursor, so an append costs about what the same ``INSERT``
costs by hand (benchmarks/log_bench.py). PostgreSQL and MySQL connections come from a
SQLAlchemy engine's pool; a SQLite log runs on stdlib ``sqlite3`` connections of its own
(:mod:`~eventreg.backends.sql_connections`, which also holds the few dialect
differences) and imports SQLAlchemy only to create or upgrade a database's schema
(:mod:`~eventreg.backends.sql_migrations`): a new process that opens an existing SQLite
log does not pay for importing it. Rows become events in :mod:`~eventreg.backends.sql_rows`.

Positions are handed out under a one-row head table: every append locks that row
(``SELECT ... FOR UPDATE``), inserts its events after the head, moves the head and
commits. So positions are contiguous, commits happen in position order, and a reader
that has seen position N never later sees a newly committed event below N. On SQLite
``BEGIN IMMEDIATE`` already locks the whole database, so the head is simply the last
event row and ``eventreg_head`` is a view of it (one page less written per commit).
"""

from __future__ import annotations

import gc
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from eventreg.backends.sql_connections import (
    PROCESS,
    AppendState,
    EnginePool,
    NOT_RUN,
    KeptConnection,
    SQLitePool,
    begin_write,
    driver_error,
    sqlite_has_table,
    sqlite_pool,
    sqlite_schema_row,
    stream_rows,
    translate,
)
from eventreg.backends.sql_migrations import refuse_newer, schema_version_known
from eventreg.backends.sql_namespace import DEFAULT, split_namespace, unknown_parameter
from eventreg.backends.sql_rows import (SNAPSHOT_LAST, UndecodableText, decode_rows, decode_rows_unpaused,
                                       rows_until_undecodable, snapshot_of)
from eventreg.backends.sql_statements import (
    EVENT_COLUMNS,
    SQLITE_STATEMENTS,
    CompiledSql,
    Statements,
)
from eventreg.config import no_registry
from eventreg.errors import (
    BackendUnavailable,
    ConcurrencyConflict,
    ConfigurationError,
    EventregError,
    InvalidEvent,
    LogCorrupted,
)
from eventreg.log import (
    GENESIS_HASH,
    BaseLog,
    Head,
    PendingEvent,
    Prepared,
    RecordedEvent,
    Snapshot,
    check_expected_version,
    format_timestamp,
    now,
    seal_rows,
    stored_row,
)


#: the highest stream version a column holds (a 32-bit integer on PostgreSQL)
_LAST = 2**31 - 1
#: rows per ``read_all`` query: on SQLite a query costs no round trip and a small chunk stays
#: in the CPU's cache (12-24 % less CPU than 2,000 rows); on a server a query is a round trip
SQLITE_READ_CHUNK, SERVER_READ_CHUNK = 256, 2000


class SQLLog(BaseLog):
    """
    An event log in SQLite, PostgreSQL or MySQL/MariaDB.

    Open it with :meth:`from_url` (or ``eventreg.open_log``). Thread-safe: appends take
    turns on one kept connection, reads borrow pooled ones.
    """

    supports_concurrent_writers = True
    shared_between_processes = True
    persistent = True

    def __init__(self, pool: EnginePool | SQLitePool, *, actor: str | None = None, read_chunk: int | None = None,
                 create: bool = True) -> None:
        """
        Wrap the connections :meth:`from_url` made; create (unless ``create`` is false)
        or upgrade the schema.

        Raises:
            BackendUnavailable: the database cannot be reached.
            SchemaVersionError: the database's schema is newer than this eventreg knows.
            RegistryNotFound: ``create`` is false and the database has no eventreg tables.
        """
        self._pool = pool
        self._name = pool.name
        self.url = pool.url
        self.default_actor = actor
        if read_chunk is None:
            read_chunk = SQLITE_READ_CHUNK if isinstance(pool, SQLitePool) else SERVER_READ_CHUNK
        self._read_chunk = read_chunk
        self._pid = PROCESS[0]
        self._dbapi = pool.dbapi
        self._writer: Any = None
        self._writer_cursor: Any = None
        self._writer_commit: Any = None
        self._inherited: list[Any] = []  # a forked parent's connections: never used, never closed
        self._kept = KeptConnection(pool, self._leave_parents_connections)  # checks the head, runs reads
        # the head this log last committed or read and the stream versions known current at
        # it (position and hash, so a log restored from a backup to the same position is not
        # mistaken), guarded by its lock, which is the log's write lock
        self._appender = AppendState()
        ns = self._namespace = pool.namespace
        if isinstance(pool, SQLitePool):
            self._ensure_sqlite_schema(pool, create)
            if ns == DEFAULT:
                compiled = SQLITE_STATEMENTS
            else:  # another namespace's names: compiled as the text of SQLITE_STATEMENTS was
                from sqlalchemy.dialects import sqlite as sqlite_dialect

                from eventreg.backends import sql_schema

                compiled = sql_schema.compile_statements(sqlite_dialect.dialect(paramstyle="qmark"), ns)
        else:
            from eventreg.backends import sql_schema

            try:
                with pool.engine.connect() as conn:
                    sql_schema.ensure_schema(conn, self.url, create=create, ns=ns)
            except TypeError as e:  # PyMySQL: connect() got an unexpected keyword (a URL parameter)
                if "unexpected keyword argument" not in str(e):
                    raise
                raise unknown_parameter(self.url, str(e)) from e
            except Exception as e:
                if isinstance(driver_error(e), self._dbapi.Error):
                    self._raise(e, connecting=True)
                raise
            compiled = sql_schema.compile_statements(pool.engine.dialect, ns)
        self._sql = Statements(compiled, ns.qualified("events"))
        self._watch_forks()

    def _fork_locks(self) -> list[Any]:
        return [self._appender._lock]

    def _after_fork(self) -> None:
        # the writer and pooled connections are dropped when the child first needs one
        # (_connection sees the pid change); the locks cannot wait until then
        self._appender = AppendState(self._appender)
        self._kept.after_fork()
        self._pool.after_fork()

    def _ensure_sqlite_schema(self, pool: SQLitePool, create: bool) -> None:
        """
        Read the stored schema version on a plain connection; only a database without
        the current schema (new, or older) needs SQLAlchemy, to create or upgrade it.
        """
        schema_table = pool.namespace.name("schema")
        if not create and not sqlite_has_table(pool, schema_table):
            raise no_registry(self.url)
        conn = self._connection()
        try:
            row = sqlite_schema_row(conn, schema_table)
        except sqlite3.Error as e:
            self._raise(e, connecting=True, conn=conn)
        finally:
            conn.close()
        if row:
            refuse_newer((row[0], row[1]), self.url)
            if row[0] == schema_version_known():
                return
        from eventreg.backends import sql_schema

        try:
            sql_schema.ensure_sqlite_schema(pool.database, pool.connect_args, pool.synchronous,
                                            pool.busy_timeout, self.url, pool.namespace)
        except sqlite3.Error as e:
            self._raise(e, connecting=True)

    @classmethod
    def from_url(cls, url: str, *, actor: str | None = None, connect_args: dict[str, Any] | None = None,
                 sqlite_synchronous: str = "FULL", busy_timeout: float = 30.0, read_chunk: int | None = None,
                 create: bool = True, **unknown: Any) -> SQLLog:
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
            read_chunk: rows fetched per query by ``read_all`` (default: 256 on SQLite, 2000
                on a server; see :data:`SQLITE_READ_CHUNK`).
            create: create the tables of a new log (the default); if false, a database
                without them (or a SQLite file that does not exist) raises
                ``RegistryNotFound`` and nothing is created.

        Raises:
            ConfigurationError: an unknown option or an unusable URL (a SQLite file in a
                folder that does not exist).
            RegistryNotFound: ``create`` is false and there is no log at ``url``.
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
        url, ns = split_namespace(url, scheme.split("+", 1)[0]) if scheme else (url, DEFAULT)
        if scheme.split("+", 1)[0] == "sqlite":
            pool: EnginePool | SQLitePool = sqlite_pool(url, scheme, connect_args, sqlite_synchronous,
                                                        busy_timeout, create, ns)
        else:
            from eventreg.backends import sql_schema

            pool = EnginePool(sql_schema.create_engine(url, connect_args, busy_timeout), ns)
        try:
            return cls(pool, actor=actor, read_chunk=read_chunk, create=create)
        except BaseException:
            pool.dispose()
            raise

    # -- connections and errors ------------------------------------------------------

    def _connection(self) -> Any:
        """
        A DBAPI connection from the pool (give it back with ``close()``).
        """
        self._leave_parents_connections()
        try:
            return self._pool.connect()
        except Exception as e:
            if isinstance(driver_error(e), self._dbapi.Error):
                self._raise(e, connecting=True)
            raise

    def _leave_parents_connections(self) -> None:
        if self._pid != PROCESS[0]:  # forked: never touch the parent's connections
            self._inherited.append(self._writer)
            self._writer = None
            self._pool.dispose(close=False)
            self._pid = PROCESS[0]

    def _open_writer(self) -> Any:
        """
        The connection kept for appends (one per log: the database lets one append in at a time).
        """
        if self._writer is not None and self._pid == PROCESS[0]:
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

    def _raise(self, error: BaseException, *, connecting: bool = False, conn: Any = None) -> NoReturn:
        """
        Roll back ``conn`` (if given) and raise the eventreg error for a driver error.
        """
        original = driver_error(error)
        if conn is not None and not self._drop_if_lost(original, conn):
            try:
                conn.rollback()
            except Exception:  # the connection is unusable; the pool must not reuse it
                conn.invalidate()
                if conn is self._writer:
                    self._writer = None
        translated = translate(original, self._pool, connecting=connecting)
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
                    begin_write(cursor, self._name, self._pool)
                    if presumed is not None:
                        position, digest = presumed
                        try:
                            if cursor.execute(self._sql.hash_at, (position,)).fetchone() != (digest,):
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
                begin_write(cursor, self._name)
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
        return bool(row) and row[0][0] == position and decode_rows(row)[0].hash == digest

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

    def _query(self, statement: CompiledSql, args: tuple[Any, ...], one: bool = False, commit: bool = False) -> Any:
        """
        Run one statement: fetch its rows (or one) on the kept connection when it is free,
        else on a pooled one; or commit it (pooled).
        """
        if not commit and (rows := self._kept.query(statement.text, args, one)) is not NOT_RUN:
            return rows
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

    def read_stream(self, stream_id: str, from_version: int = 1,
                    to_version: int | None = None) -> list[RecordedEvent]:
        """
        The events of one stream from ``from_version`` on (to ``to_version``, included, if given), in order.
        """
        sql = self._sql.read_stream
        return decode_rows(self._query(sql, sql.args(sid=stream_id, from_version=max(from_version, 1),
                                                     to_version=_LAST if to_version is None else min(to_version, _LAST))))

    def read_stream_payloads(self, stream_id: str, from_version: int, to_version: int) -> Iterator[tuple[Any, ...]]:
        """
        ``(stream version, type, schema version, payload as stored)`` of ``read_stream``'s events, as
        they arrive (:func:`stream_rows`; close it when not read to the end), for a reader that
        decodes only what it needs (:mod:`eventreg.metric_reads`).
        """
        sql, conn = self._sql.stream_payloads, self._connection()
        try:
            yield from stream_rows(conn, sql.text, sql.args(sid=stream_id, from_version=max(from_version, 1),
                                                            to_version=min(to_version, _LAST)))
        except self._dbapi.Error as e:
            self._raise(e, conn=conn)
        finally:
            conn.close()

    def read_all(self, from_position: int = 1, limit: int | None = None) -> Iterator[RecordedEvent]:
        """
        Every event from ``from_position`` on, in global order, fetched in chunks.

        Events committed while iterating are included when the iteration reaches them.
        """
        position, remaining = max(from_position, 1), limit
        while remaining is None or remaining > 0:
            want = self._read_chunk if remaining is None else min(self._read_chunk, remaining)
            rows, decoded = self._read_rows(position, want)
            if decoded is None:  # hand out the good events before the damaged one, then raise
                for row in rows:
                    yield from decode_rows([row])
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
            except UndecodableText:
                return self._rows_before_undecodable(position, want), None
            try:
                return rows, decode_rows_unpaused(rows)
            except LogCorrupted:
                return rows, None
        finally:
            if collecting:
                gc.enable()

    def _rows_before_undecodable(self, position: int, want: int) -> list[Any]:
        """
        The rows from ``position`` up to the first whose text is not UTF-8, and a last
        one standing for it (which :func:`decode_rows` refuses, naming its position).
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
        return rows_until_undecodable(rows)

    @property
    def records_database_user(self) -> bool:
        """
        Whether the database records its session user on each event (PostgreSQL, MySQL).
        """
        return self._sql.database_users is not None

    def database_users(self, from_position: int = 1, to_position: int | None = None, *,
                       stream_id: str | None = None) -> dict[int, str]:
        """
        The database user that inserted each event from ``from_position`` to
        ``to_position`` (inclusive; default: the head), only of stream ``stream_id`` if
        given, as the database recorded it: the role that logged in on PostgreSQL,
        ``user@host`` on MySQL. Not part of the hash chain: the database writes it, a
        client cannot (a value it sends is overridden).

        Returns:
            ``{position: user}`` for the events that have one; empty on SQLite, and for
            events written before schema version 3.
        """
        sql = self._sql.database_users if stream_id is None else self._sql.stream_database_users
        if sql is None:
            return {}
        hi = to_position if to_position is not None else self.head().position
        rows = self._query(sql, sql.args(lo=max(from_position, 1), hi=hi, sid=stream_id))
        return {position: user for position, user in rows if user is not None}

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
        return self.snapshot_at(SNAPSHOT_LAST)

    def snapshot_at(self, position: int) -> Snapshot | None:
        """
        The snapshot with the highest position at or before ``position`` (the newest among equals), or ``None``.
        """
        return snapshot_of(self._query(self._sql.snapshot_at, self._sql.snapshot_at.args(at=position, one=1), one=True))

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
        Whether the head is surely still at ``position``, known without reading events
        (see :class:`~eventreg.backends.sql_connections.KeptConnection`).
        """
        return self._kept.unchanged_since(position, self._sql.head.text, self._sql.head_args)

    def close(self) -> None:
        """
        Close the log's connections (a later call reconnects).
        """
        with self._appender:
            if self._writer is not None and self._pid == PROCESS[0]:
                self._writer.close()
            self._writer = None
        self._kept.close()
        self._pool.dispose()
