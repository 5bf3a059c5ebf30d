"""
The SQL log's schema, migrations and statements, through SQLAlchemy Core.

One set of Core table definitions and one set of statements serve every dialect; the
statements are compiled once per log for its dialect (:func:`compile_statements`) and
:mod:`eventreg.backends.sql` runs their text on DBAPI cursors. This module is imported
only when needed: for PostgreSQL and MySQL always (their engines are made here), for
SQLite only to create or upgrade a database's schema. Day to day a SQLite log runs the
SQLite compilation of these statements, kept as text in ``sql_statements.SQLITE_STATEMENTS`` (a
test checks it against :func:`compile_statements`), on stdlib ``sqlite3`` connections,
so opening one does not import SQLAlchemy (about a quarter of a second of a new
process's start, counting the interpreter's exit).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.sql.crud import REQUIRED

from eventreg.backends import sql_migrations
from eventreg.backends.sql_connections import use_wal
from eventreg.backends.sql_migrations import (
    Migration,
    create_head_view,
    DATABASE_USER,
    head_is_last_event,
    record_database_user,
    refuse_newer,
    schema_version_known,
    store_payloads_for_reading,
)
from eventreg.backends.sql_namespace import DEFAULT, Namespace
from eventreg.backends.sql_statements import EVENT_COLUMNS, CompiledSql
from eventreg.config import no_registry, redact_url
from eventreg.errors import BackendUnavailable, ConfigurationError, MissingDriver
from eventreg.log import GENESIS_HASH, MAX_STREAM_ID_LENGTH, format_timestamp, now

# -- tables ----------------------------------------------------------------------------

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


class Tables:
    """
    The log's tables in one namespace (see :mod:`~eventreg.backends.sql_namespace`).
    """

    def __init__(self, ns: Namespace) -> None:
        self.namespace = ns
        self.metadata = metadata = sa.MetaData(schema=ns.schema)
        name = ns.name
        self.events = sa.Table(
            name("events"), metadata,
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
            # filled by the database (PostgreSQL, MySQL), never sent by eventreg: see
            # sql_migrations.record_database_user
            sa.Column(DATABASE_USER, sa.String(300), nullable=True),
            sa.UniqueConstraint("stream_id", "stream_version", name=name("uq_stream_version")),
        )
        self.head = sa.Table(
            name("head"), metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("position", sa.BigInteger, nullable=False),
            sa.Column("hash", sa.CHAR(64), nullable=False),
        )
        self.snapshots = sa.Table(
            name("snapshots"), metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("position", sa.BigInteger, nullable=False),
            sa.Column("data", _LONG_BLOB, nullable=False),
            sa.Column("created_at", _TIMESTAMP, nullable=False),
        )
        self.checkpoints = sa.Table(
            name("checkpoints"), metadata,
            sa.Column("consumer", _Key(), primary_key=True),
            sa.Column("position", sa.BigInteger, nullable=False),
        )
        self.schema = sa.Table(
            name("schema"), metadata,
            sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("min_eventreg", sa.String(40), nullable=False),
            sa.Column("applied_at", _TIMESTAMP, nullable=False),
        )


_TABLES: dict[Namespace, Tables] = {}


def tables(ns: Namespace = DEFAULT) -> Tables:
    """
    The log's tables in namespace ``ns`` (made once per namespace and kept).
    """
    found = _TABLES.get(ns)
    if found is None:
        found = _TABLES.setdefault(ns, Tables(ns))
    return found


#: the tables of the default namespace
_default = tables()
metadata, events, head_table = _default.metadata, _default.events, _default.head
snapshots, checkpoints, schema_table = _default.snapshots, _default.checkpoints, _default.schema

if [c.name for c in events.columns] != [*EVENT_COLUMNS, DATABASE_USER]:  # pragma: no cover
    raise ImportError("eventreg.backends.sql_statements.EVENT_COLUMNS does not match the events table")


# -- schema management ---------------------------------------------------------------


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


def _stored_schema(conn: sa.Connection, t: Tables) -> tuple[int, str] | None:
    """
    The stored schema version and the eventreg release it needs; ``None`` if there is none.
    """
    if not sa.inspect(conn).has_table(t.schema.name, schema=t.namespace.schema):
        return None
    row = conn.execute(
        sa.select(t.schema.c.version, t.schema.c.min_eventreg)
        .order_by(t.schema.c.version.desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def ensure_schema(conn: sa.Connection, where: str, *, create: bool = True, ns: Namespace = DEFAULT) -> int:
    """
    Create the tables on first open, or upgrade an older schema, under a cross-process lock.

    Args:
        conn: a connection to the database.
        where: the log's URL, for messages.
        create: create the tables of a new log; if false, a database without them
            raises ``RegistryNotFound``.
        ns: the namespace whose tables to create or upgrade; a PostgreSQL schema it
            names is created if missing.

    Returns:
        The schema version now stored.

    Raises:
        SchemaVersionError: the stored schema is newer than this eventreg knows.
    """
    t = tables(ns)
    conn.execution_options(sqlite_begin="DEFERRED")  # only reading, so far
    stored = _stored_schema(conn, t)
    conn.rollback()
    conn.execution_options(sqlite_begin="IMMEDIATE")
    if stored is not None:
        refuse_newer(stored, where)
        if stored[0] == schema_version_known():
            return stored[0]
    elif not create:
        raise no_registry(where)
    try:
        with conn.begin():
            _schema_lock(conn)
            stored = _stored_schema(conn, t)  # again, now that we hold the lock
            if stored is None:
                _create(conn, t)
            else:
                refuse_newer(stored, where)
                _upgrade(conn, t, stored[0])
    finally:
        if conn.dialect.name in ("mysql", "mariadb"):
            conn.execute(sa.text("SELECT RELEASE_LOCK('eventreg_schema')"))
        conn.rollback()
    return schema_version_known()


def _stamp(conn: sa.Connection, t: Tables, step: Migration) -> None:
    conn.execute(sa.insert(t.schema).values(
        version=step.version, min_eventreg=step.min_eventreg, applied_at=format_timestamp(now())))


def _create(conn: sa.Connection, t: Tables) -> None:
    schema = t.namespace.schema
    if schema is not None and not sa.inspect(conn).has_schema(schema):
        # only when missing: CREATE SCHEMA IF NOT EXISTS needs the right to create
        # schemas even when it exists, which a team's role granted one schema lacks
        conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
    if conn.dialect.name in ("mysql", "mariadb"):
        # given here, not on the Table: naming a dialect's options there imports that
        # dialect in every process, SQLite ones included (~25 ms of a cold start)
        for table in t.metadata.tables.values():
            table.dialect_kwargs.update(_MYSQL_TABLE)
    if head_is_last_event(conn.dialect.name):
        made = [table for table in t.metadata.sorted_tables if table is not t.head]
        t.metadata.create_all(conn, tables=made, checkfirst=True)
        create_head_view(conn, t.namespace)
    else:
        t.metadata.create_all(conn, checkfirst=True)  # other tables in the database are left alone
        if conn.execute(sa.select(t.head.c.id)).first() is None:
            conn.execute(sa.insert(t.head).values(id=1, position=0, hash=GENESIS_HASH))
    record_database_user(conn, t.namespace)
    store_payloads_for_reading(conn, t.namespace)
    _stamp(conn, t, sql_migrations.MIGRATIONS[-1])


def _upgrade(conn: sa.Connection, t: Tables, version: int) -> None:
    for step in sql_migrations.MIGRATIONS:
        if step.version > version:
            assert step.upgrade is not None, "only version 1 is created rather than upgraded"
            step.upgrade(conn, t.namespace)
            _stamp(conn, t, step)


# -- statements ------------------------------------------------------------------------


def _compile(statement: Any, dialect: sa.Dialect, column_keys: list[str] | None = None) -> CompiledSql:
    compiled = statement.compile(dialect=dialect, column_keys=column_keys)
    text = str(compiled)
    assert "POSTCOMPILE" not in text, text
    defaults = {name: value for name, value in compiled.params.items()
                if value is not None and value is not REQUIRED}  # REQUIRED: a value the caller gives
    return CompiledSql(text, tuple(compiled.positiontup or ()), defaults)


def _upsert_checkpoint(dialect: sa.Dialect, checkpoints: sa.Table) -> Any:
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



def compile_statements(dialect: sa.Dialect, ns: Namespace = DEFAULT) -> dict[str, CompiledSql]:
    """
    Every statement the log runs, compiled for ``dialect`` on the tables of namespace
    ``ns`` (see ``sql_statements.Statements``).
    """
    t = tables(ns)
    events, head_table, snapshots, checkpoints = t.events, t.head, t.snapshots, t.checkpoints
    bp = sa.bindparam
    ev = events.c
    every = [events.c[name] for name in EVENT_COLUMNS]
    out = {"insert": _compile(sa.insert(events), dialect, column_keys=EVENT_COLUMNS)}
    if head_is_last_event(dialect.name):  # the last event row; the write lock is BEGIN IMMEDIATE's
        out["head"] = out["lock_head"] = _compile(
            sa.select(ev.position, ev.hash).order_by(ev.position.desc()).limit(bp("one")), dialect)
    else:
        out["lock_head"] = _compile(
            sa.select(head_table.c.position, head_table.c.hash).where(head_table.c.id == bp("one"))
            .with_for_update(), dialect)
        out["head"] = _compile(
            sa.select(head_table.c.position, head_table.c.hash).where(head_table.c.id == bp("one")), dialect)
        out["move_head"] = _compile(
            sa.update(head_table).where(head_table.c.id == bp("id"))
            .values(position=bp("new_position"), hash=bp("new_hash")), dialect)
    out["stream_version"] = _compile(
        sa.select(ev.stream_version).where(ev.stream_id == bp("sid"))
        .order_by(ev.stream_version.desc()).limit(bp("one")), dialect)
    out["read_stream"] = _compile(
        sa.select(*every).where(ev.stream_id == bp("sid"), ev.stream_version >= bp("from_version"),
                                ev.stream_version <= bp("to_version"))
        .order_by(ev.stream_version), dialect)
    out["stream_payloads"] = _compile(  # what metric_reads decodes: no hashes, no metadata
        sa.select(ev.stream_version, ev.type, ev.schema_version, ev.payload)
        .where(ev.stream_id == bp("sid"), ev.stream_version >= bp("from_version"),
               ev.stream_version <= bp("to_version"))
        .order_by(ev.stream_version), dialect)
    out["read_all"] = _compile(
        sa.select(*every).where(ev.position >= bp("lo")).order_by(ev.position).limit(bp("n")), dialect)
    if dialect.name != "sqlite":  # SQLite records no database user
        out["database_users"] = _compile(
            sa.select(ev.position, ev[DATABASE_USER])
            .where(ev.position >= bp("lo"), ev.position <= bp("hi")).order_by(ev.position), dialect)
        out["stream_database_users"] = _compile(
            sa.select(ev.position, ev[DATABASE_USER])
            .where(ev.stream_id == bp("sid"), ev.position >= bp("lo"), ev.position <= bp("hi"))
            .order_by(ev.position), dialect)
    out["save_snapshot"] = _compile(sa.insert(snapshots).values(
        position=bp("position"), data=bp("data"), created_at=bp("created_at")), dialect)
    out["snapshot_at"] = _compile(  # the newest at or before a position
        sa.select(snapshots.c.position, snapshots.c.data, snapshots.c.created_at)
        .where(snapshots.c.position <= bp("at"))
        .order_by(snapshots.c.position.desc(), snapshots.c.id.desc()).limit(bp("one")), dialect)
    out["get_checkpoint"] = _compile(
        sa.select(checkpoints.c.position).where(checkpoints.c.consumer == bp("consumer")), dialect)
    out["set_checkpoint"] = _compile(_upsert_checkpoint(dialect, checkpoints), dialect)
    return out


# -- engines ---------------------------------------------------------------------------

#: the driver to use when a URL names none (SQLAlchemy would pick psycopg2 / mysqlclient)
_DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql",
                    "mariadb": "mariadb+pymysql"}
_EXTRAS = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}


def create_engine(url: str, connect_args: dict[str, Any] | None, busy_timeout: float) -> sa.Engine:
    """
    A SQLAlchemy engine for a PostgreSQL or MySQL/MariaDB log URL.

    Raises:
        ConfigurationError: an unusable URL, or a database eventreg has no log for.
        MissingDriver: the driver is not installed (names the extra to install).
    """
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError as e:
        raise ConfigurationError(f"not a database URL: {redact_url(url)}") from e
    parsed = parsed.set(drivername=_DEFAULT_DRIVERS.get(parsed.drivername, parsed.drivername))
    backend = parsed.get_backend_name()
    args = dict(connect_args or {})
    options: dict[str, Any] = {"paramstyle": "format"}  # positional: rows go to the cursor as tuples
    lock_ms = int(busy_timeout * 1000)
    if backend == "postgresql":
        args.setdefault("connect_timeout", 10)
        if "lock_timeout" not in args.get("options", ""):  # keep the caller's other -c settings
            args["options"] = f"{args.get('options', '')} -c lock_timeout={lock_ms}".strip()
        options["pool_pre_ping"] = True
    elif backend in ("mysql", "mariadb"):
        args.setdefault("connect_timeout", 10)
        args.setdefault("init_command", f"SET SESSION innodb_lock_wait_timeout={max(1, lock_ms // 1000)}")
        options["isolation_level"] = "READ COMMITTED"  # every statement sees the latest commits
        options["pool_pre_ping"] = True
    else:
        raise ConfigurationError(f"the SQL log runs on SQLite, PostgreSQL and MySQL/MariaDB, not {backend}")
    try:
        return sa.create_engine(parsed, connect_args=args, **options)
    except ModuleNotFoundError as e:
        hint = f"pip install 'eventreg[{_EXTRAS[backend]}]'"
        raise MissingDriver(f"the {backend} log needs the {e.name} driver: {hint}") from e
    except sa_exc.NoSuchModuleError as e:
        raise ConfigurationError(f"SQLAlchemy has no dialect/driver {parsed.drivername!r}") from e


def ensure_sqlite_schema(database: str, connect_args: dict[str, Any], synchronous: str,
                         busy_timeout: float, where: str, ns: Namespace = DEFAULT) -> None:
    """
    Create or upgrade the schema of a SQLite log (see :func:`ensure_schema`), on a
    connection made as the log makes its own.
    """

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(database, **connect_args)

    engine = sa.create_engine("sqlite://", creator=connect, poolclass=sa.pool.NullPool)
    _sqlite_setup(engine, synchronous, busy_timeout)
    try:
        with engine.connect() as conn:
            ensure_schema(conn, where, ns=ns)
    except sa_exc.DBAPIError as e:
        raise e.orig from e  # the log translates driver errors
    finally:
        engine.dispose()


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
        use_wal(cursor, busy_timeout)
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @sa_event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('sqlite_begin', 'IMMEDIATE')}")

