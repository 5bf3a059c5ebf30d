"""
Raw SQL access to a SQL event log's tables (SQLite, PostgreSQL, MariaDB): the attacker's prompt.

Table and column names are eventreg's (``eventreg_events``, ``eventreg_head``, see
eventreg/backends/sql.py); statements are plain SQL text, as someone with a database
client would type them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tests.reliability.rawstore import FIELDS, RawStore, Row

EVENTS = "eventreg_events"
HEAD = "eventreg_head"
_COLUMNS = ", ".join(FIELDS)


class SQLRaw(RawStore):
    """
    Rows of ``eventreg_events``; edits are UPDATE / DELETE / INSERT statements.
    """

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)

    def rows(self) -> list[Row]:
        with self.engine.connect() as conn:
            result = conn.execute(sa.text(f"SELECT {_COLUMNS} FROM {EVENTS} ORDER BY position"))
            return [dict(row._mapping) for row in result]

    def execute(self, sql: str, **params: Any) -> None:
        """
        Run one statement and commit it.
        """
        with self.engine.begin() as conn:
            conn.execute(sa.text(sql), params)

    def write_rows(self, rows: list[Row]) -> None:
        """
        Make the table hold exactly ``rows``: UPDATE rows whose (stream, version) key stays,
        DELETE rows that went or changed key, INSERT the rest; then fix the head row.
        """
        old = {r["position"]: r for r in self.rows()}
        new = {r["position"]: r for r in rows}
        updates, deletes, inserts = [], [], []
        for position, row in new.items():
            before = old.get(position)
            if before is None:
                inserts.append(row)
            elif before != row:
                if (before["stream_id"], before["stream_version"]) == (row["stream_id"], row["stream_version"]):
                    updates.append(row)
                else:
                    deletes.append(position)
                    inserts.append(row)
        deletes += [p for p in old if p not in new]
        with self.engine.begin() as conn:
            for position in deletes:
                conn.execute(sa.text(f"DELETE FROM {EVENTS} WHERE position = :p"), {"p": position})
            for row in updates:
                sets = ", ".join(f"{f} = :{f}" for f in FIELDS if f != "position")
                conn.execute(sa.text(f"UPDATE {EVENTS} SET {sets} WHERE position = :position"), row)
            for row in sorted(inserts, key=lambda r: r["position"]):
                values = ", ".join(f":{f}" for f in FIELDS)
                conn.execute(sa.text(f"INSERT INTO {EVENTS} ({_COLUMNS}) VALUES ({values})"), row)
            last = max(new.values(), key=lambda r: r["position"]) if new else None
            conn.execute(sa.text(f"UPDATE {HEAD} SET position = :p, hash = :h WHERE id = 1"),
                         {"p": last["position"] if last else 0,
                          "h": last["hash"] if last else "0" * 64})

    def close(self) -> None:
        self.engine.dispose()
