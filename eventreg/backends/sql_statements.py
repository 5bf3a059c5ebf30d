"""
The SQL log's statements as the log runs them: compiled once per dialect, kept as text.

:data:`SQLITE_STATEMENTS` is SQLite's compilation of
:func:`eventreg.backends.sql_schema.compile_statements`, kept here as text so that a
SQLite log runs without importing SQLAlchemy (a test checks the two agree).
"""

from __future__ import annotations

from typing import Any, NamedTuple

PREFIX = "eventreg_"
#: the events table's columns, in order (``sql_schema`` checks its table against this)
EVENT_COLUMNS = ["position", "stream_id", "stream_version", "type", "schema_version", "recorded_at", "actor",
                 "payload", "metadata", "prev_hash", "hash"]

class CompiledSql(NamedTuple):
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
SQLITE_STATEMENTS: dict[str, CompiledSql] = {
    "insert": CompiledSql(
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
    "head": CompiledSql(
        "SELECT eventreg_events.position, eventreg_events.hash \n"
        "FROM eventreg_events ORDER BY eventreg_events.position DESC\n"
        " LIMIT ? OFFSET ?",
        ("one", "param_1"),
        {"param_1": 0}),
    "lock_head": CompiledSql(
        "SELECT eventreg_events.position, eventreg_events.hash \n"
        "FROM eventreg_events ORDER BY eventreg_events.position DESC\n"
        " LIMIT ? OFFSET ?",
        ("one", "param_1"),
        {"param_1": 0}),
    "stream_version": CompiledSql(
        "SELECT eventreg_events.stream_version \n"
        "FROM eventreg_events \n"
        "WHERE eventreg_events.stream_id = ? ORDER BY eventreg_events.stream_version DESC\n"
        " LIMIT ? OFFSET ?",
        ("sid", "one", "param_1"),
        {"param_1": 0}),
    "read_stream": CompiledSql(
        "SELECT eventreg_events.position, eventreg_events.stream_id, eventreg_events.stream_version, "
        "eventreg_events.type, eventreg_events.schema_version, eventreg_events.recorded_at, "
        "eventreg_events.actor, eventreg_events.payload, eventreg_events.metadata, "
        "eventreg_events.prev_hash, eventreg_events.hash \n"
        "FROM eventreg_events \n"
        "WHERE eventreg_events.stream_id = ? AND eventreg_events.stream_version >= ? AND "
        "eventreg_events.stream_version <= ? ORDER BY eventreg_events.stream_version",
        ("sid", "from_version", "to_version"),
        {}),
    "stream_payloads": CompiledSql(
        "SELECT eventreg_events.stream_version, eventreg_events.type, eventreg_events.schema_version, "
        "eventreg_events.payload \n"
        "FROM eventreg_events \n"
        "WHERE eventreg_events.stream_id = ? AND eventreg_events.stream_version >= ? AND "
        "eventreg_events.stream_version <= ? ORDER BY eventreg_events.stream_version",
        ("sid", "from_version", "to_version"),
        {}),
    "read_all": CompiledSql(
        "SELECT eventreg_events.position, eventreg_events.stream_id, eventreg_events.stream_version, "
        "eventreg_events.type, eventreg_events.schema_version, eventreg_events.recorded_at, "
        "eventreg_events.actor, eventreg_events.payload, eventreg_events.metadata, "
        "eventreg_events.prev_hash, eventreg_events.hash \n"
        "FROM eventreg_events \n"
        "WHERE eventreg_events.position >= ? ORDER BY eventreg_events.position\n"
        " LIMIT ? OFFSET ?",
        ("lo", "n", "param_1"),
        {"param_1": 0}),
    "save_snapshot": CompiledSql(
        "INSERT INTO eventreg_snapshots (position, data, created_at) VALUES (?, ?, ?)",
        ("position", "data", "created_at"),
        {}),
    "snapshot_at": CompiledSql(
        "SELECT eventreg_snapshots.position, eventreg_snapshots.data, eventreg_snapshots.created_at \n"
        "FROM eventreg_snapshots \n"
        "WHERE eventreg_snapshots.position <= ? ORDER BY eventreg_snapshots.position DESC, "
        "eventreg_snapshots.id DESC\n"
        " LIMIT ? OFFSET ?",
        ("at", "one", "param_1"),
        {"param_1": 0}),
    "get_checkpoint": CompiledSql(
        "SELECT eventreg_checkpoints.position \n"
        "FROM eventreg_checkpoints \n"
        "WHERE eventreg_checkpoints.consumer = ?",
        ("consumer",),
        {}),
    "set_checkpoint": CompiledSql(
        "INSERT INTO eventreg_checkpoints (consumer, position) VALUES (?, ?) ON CONFLICT (consumer) "
        "DO UPDATE SET position = excluded.position",
        ("consumer", "position"),
        {}),
}


class Statements:
    """
    Every statement the log runs, compiled for its dialect, and the argument tuples the
    hot paths reuse.
    """

    def __init__(self, compiled: dict[str, CompiledSql], events_table: str = f"{PREFIX}events") -> None:
        self.insert = compiled["insert"]
        #: SQLite: the hash stored at a position (an append that presumes the head checks it)
        self.hash_at = f"SELECT hash FROM {events_table} WHERE position = ?"
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
        #: PostgreSQL, MySQL: ``(position, database_user)`` of the events in ``[lo, hi]``
        self.database_users = compiled.get("database_users")
        self.stream_database_users = compiled.get("stream_database_users")
        self.stream_payloads = compiled["stream_payloads"]
        self.save_snapshot = compiled["save_snapshot"]
        self.snapshot_at = compiled["snapshot_at"]
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


#: rows per ``INSERT`` statement on SQLite: one statement binds them all, which costs
#: SQLite and the driver less per row than ``executemany`` (11 x 64 parameters stay
#: under the 999 that SQLite before 3.32 allowed)
INSERT_ROWS = 64
