"""
The SQL log's schema versions: what each one needs and how to upgrade to it.

Imported by the log (to refuse a newer schema without importing SQLAlchemy) and by
:mod:`eventreg.backends.sql_schema` (which creates and upgrades schemas).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from eventreg.errors import SchemaVersionError
from eventreg.log import GENESIS_HASH

if TYPE_CHECKING:
    import sqlalchemy as sa

    from eventreg.backends.sql_namespace import Namespace


class Migration(NamedTuple):
    """
    One schema version: the first eventreg release that writes it, and how to get there
    from the version before (``None`` for version 1, which is created, not upgraded):
    ``upgrade(conn, namespace)`` changes the tables ``namespace.qualified("events")`` ... .
    """

    version: int
    min_eventreg: str
    upgrade: Callable[[sa.Connection, Namespace], None] | None


def head_is_last_event(dialect_name: str) -> bool:
    """
    Whether the head is read from the last event row rather than kept in a locked row.

    SQLite: ``BEGIN IMMEDIATE`` takes the single write lock, so no second writer can
    come between reading the last event and committing after it; ``eventreg_head`` is
    then a view of the last event (writes to it are ignored). Elsewhere writers
    serialise on the head row, which ``SELECT ... FOR UPDATE`` locks and each append moves.
    """
    return dialect_name == "sqlite"


def create_head_view(conn: sa.Connection, ns: Namespace) -> None:
    """
    SQLite: ``eventreg_head`` as a view of the last event (see :func:`head_is_last_event`).
    """
    head, events = ns.qualified("head"), ns.qualified("events")
    conn.exec_driver_sql(f"""
CREATE VIEW IF NOT EXISTS {head} (id, position, hash) AS SELECT 1,
    COALESCE((SELECT position FROM {events} ORDER BY position DESC LIMIT 1), 0),
    COALESCE((SELECT hash FROM {events} ORDER BY position DESC LIMIT 1), '{GENESIS_HASH}')
""")
    for verb in ("INSERT", "UPDATE", "DELETE"):
        conn.exec_driver_sql(f"CREATE TRIGGER IF NOT EXISTS {ns.name('head')}_{verb.lower()} "
                             f"INSTEAD OF {verb} ON {head} BEGIN SELECT 1; END")


def _upgrade_to_2(conn: sa.Connection, ns: Namespace) -> None:
    """
    Schema 2: on SQLite the head row becomes a view of the last event; elsewhere no change.
    """
    if head_is_last_event(conn.dialect.name):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {ns.qualified('head')}")
        create_head_view(conn, ns)


#: the events table's column the database fills with its session user (PostgreSQL, MySQL)
DATABASE_USER = "database_user"


def record_database_user(conn: sa.Connection, ns: Namespace) -> None:
    """
    PostgreSQL and MySQL: the database fills ``database_user`` of every inserted event
    with the session user (the role that logged in), and a value a client sends is
    overridden; an update keeps the recorded user. SQLite has no users: no change.

    A column default records the user of ordinary inserts; a ``BEFORE INSERT`` trigger
    overrides a client that names the column itself (one that writes SQL by hand).
    PostgreSQL's ``session_user`` is the login role, which ``SET ROLE`` does not change;
    MySQL's ``SESSION_USER()`` is ``user@client-host`` as the client connected (inside a
    trigger, ``CURRENT_USER()`` would be the trigger's definer). Re-runnable.
    """
    dialect = conn.dialect.name
    events, column = ns.qualified("events"), DATABASE_USER
    if dialect == "postgresql":
        function = ns.qualified("record_database_user")
        conn.exec_driver_sql(f"ALTER TABLE {events} ALTER COLUMN {column} SET DEFAULT session_user")
        conn.exec_driver_sql(f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.{column} := session_user;
    ELSE
        NEW.{column} := OLD.{column};
    END IF;
    RETURN NEW;
END $$""")
        trigger = ns.name("events_database_user")
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger} ON {events}")
        conn.exec_driver_sql(f"CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON {events} "
                             f"FOR EACH ROW EXECUTE FUNCTION {function}()")
    elif dialect in ("mysql", "mariadb"):
        conn.exec_driver_sql(f"ALTER TABLE {events} ALTER COLUMN {column} SET DEFAULT (SESSION_USER())")
        for verb, value in (("insert", "SESSION_USER()"), ("update", f"OLD.{column}")):
            trigger = ns.name(f"events_user_{verb[:3]}")  # within MySQL's 64 after a 32-long prefix
            exists = conn.exec_driver_sql(
                "SELECT 1 FROM information_schema.triggers WHERE trigger_schema = DATABASE() "
                f"AND trigger_name = '{trigger}'").first()
            if not exists:
                conn.exec_driver_sql(f"CREATE TRIGGER {trigger} BEFORE {verb.upper()} ON {events} "
                                     f"FOR EACH ROW SET NEW.{column} = {value}")


def store_payloads_for_reading(conn: sa.Connection, ns: Namespace) -> None:
    """
    PostgreSQL: an event row of up to 8,160 bytes (a block) is stored as it is, not
    compressed (``toast_tuple_target``; by default PostgreSQL compresses a row's text past
    about 2 KB, as a metric event of 100 points is); a longer payload is compressed with
    lz4 where the server has it (14 and later), not pglz. Fetching the 1,000 such events of
    a metric history took 16 ms with pglz, 12 with lz4 and 8 stored as is (the payloads
    then take 40 % more space than with lz4). Rows already stored keep theirs. Elsewhere: no change.
    """
    if conn.dialect.name != "postgresql":
        return
    events = ns.qualified("events")
    conn.exec_driver_sql(f"ALTER TABLE {events} SET (toast_tuple_target = 8160)")
    lz4 = conn.exec_driver_sql(
        "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)").first()
    if lz4:
        conn.exec_driver_sql(f"ALTER TABLE {events} ALTER COLUMN payload SET COMPRESSION lz4")


def _upgrade_to_3(conn: sa.Connection, ns: Namespace) -> None:
    """
    Schema 3: the events table gets ``database_user``, filled by PostgreSQL and MySQL
    (see :func:`record_database_user`); on SQLite it stays empty.
    """
    import sqlalchemy as sa

    columns = {c["name"] for c in sa.inspect(conn).get_columns(ns.name("events"), schema=ns.schema)}
    if DATABASE_USER not in columns:
        conn.exec_driver_sql(f"ALTER TABLE {ns.qualified('events')} ADD COLUMN {DATABASE_USER} VARCHAR(300)")
    record_database_user(conn, ns)


#: Every schema version, oldest first. A new version appends a step here, changes the
#: table definitions in ``sql_schema`` to what the step produces and regenerates
#: :data:`SQLITE_STATEMENTS`; a fresh database is created from the tables directly and
#: stamped with the last version. MySQL commits each DDL statement by itself, so a step
#: interrupted there is run again on the next open: write steps that can be re-run
#: (``checkfirst=True``, ``IF NOT EXISTS``).
MIGRATIONS: list[Migration] = [
    Migration(1, "0.1.0", None),
    Migration(2, "0.1.0", _upgrade_to_2),
    Migration(3, "0.1.0", _upgrade_to_3),
]


def schema_version_known() -> int:
    """
    The newest schema version this eventreg can read and write.
    """
    return MIGRATIONS[-1].version


def refuse_newer(stored: tuple[int, str], where: str) -> None:
    version, needs = stored
    if version > schema_version_known():
        raise SchemaVersionError(
            f"the event log at {where} has schema version {version}, which needs eventreg >= {needs}; "
            f"this is eventreg {_eventreg_version()}, which knows schema versions up to "
            f"{schema_version_known()}: upgrade eventreg (pip install -U 'eventreg>={needs}')"
        )


def _eventreg_version() -> str:
    from eventreg import __version__

    return __version__
