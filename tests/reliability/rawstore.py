"""
Direct access to a log's storage, bypassing eventreg: what an attacker with write access has.

Each adapter exposes the stored events as plain rows (dicts with the envelope's fields;
``payload`` and ``metadata`` as the stored JSON text, ``recorded_at`` as the stored
``...Z`` text) and edits them the way a person with a SQL prompt or a text editor
would: UPDATE, DELETE and INSERT statements on the backend's own tables, or rewriting
lines of the JSON-lines file. Nothing here calls eventreg's API to change the log.

``forge`` recomputes hashes with the published algorithm (``eventreg.log`` documents
it), which is exactly what a competent attacker would do.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from eventreg.log import GENESIS_HASH, chain_hash, envelope_text

FIELDS = ("position", "stream_id", "stream_version", "type", "schema_version", "recorded_at",
          "actor", "payload", "metadata", "prev_hash", "hash")

Row = dict[str, Any]


def row_hash(row: Row, prev_hash: str) -> str:
    """
    The hash ``row`` must carry when chained after ``prev_hash``.
    """
    return chain_hash(prev_hash, envelope_text(
        row["position"], row["stream_id"], row["stream_version"], row["type"],
        row["schema_version"], row["recorded_at"], row["actor"], row["payload"], row["metadata"]))


def rechain(rows: list[Row], start_index: int = 0) -> list[Row]:
    """
    Recompute ``prev_hash`` and ``hash`` from ``rows[start_index]`` to the end, in place.
    """
    prev = rows[start_index - 1]["hash"] if start_index > 0 else GENESIS_HASH
    for row in rows[start_index:]:
        row["prev_hash"] = prev
        row["hash"] = prev = row_hash(row, prev)
    return rows


class RawStore:
    """
    The rows of one stored log, and the edits an attacker can make to them.

    Subclasses implement :meth:`rows` and :meth:`write_rows`: the latter makes the
    storage hold exactly the given rows (by position), touching only rows that differ,
    and keeps any bookkeeping (a head counter) consistent the way a careful attacker would.
    """

    def rows(self) -> list[Row]:
        raise NotImplementedError

    def write_rows(self, rows: list[Row]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    # -- edits built on the two primitives -------------------------------------------------

    def edit(self, change: Callable[[list[Row]], list[Row] | None]) -> None:
        """
        Read all rows, let ``change`` edit the list (or return a new one), store the result.
        """
        rows = self.rows()
        result = change(rows)
        self.write_rows(rows if result is None else result)


# -- memory ------------------------------------------------------------------------------


class MemoryRaw(RawStore):
    """
    The list of events behind a named ``memory://`` log (the only "storage" it has).
    """

    def __init__(self, url: str) -> None:
        from eventreg.backends import memory

        self._store = memory._named[url.split("://", 1)[1].strip("/")]

    def rows(self) -> list[Row]:
        from eventreg.log import canonical_json, format_timestamp

        out = []
        for e in self._store.events:
            row = e._asdict()
            row["payload"] = canonical_json(e.payload)
            row["metadata"] = canonical_json(e.metadata)
            row["recorded_at"] = format_timestamp(e.recorded_at)
            out.append(row)
        return out

    def write_rows(self, rows: list[Row]) -> None:
        from eventreg.log import RecordedEvent, parse_timestamp

        events = []
        streams: dict[str, list[int]] = {}
        for row in rows:
            fields = dict(row)
            fields["payload"] = json.loads(row["payload"])
            fields["metadata"] = json.loads(row["metadata"])
            fields["recorded_at"] = parse_timestamp(row["recorded_at"])
            events.append(RecordedEvent(**fields))
            streams.setdefault(row["stream_id"], []).append(row["position"])
        with self._store.lock:
            self._store.events[:] = events
            self._store.streams.clear()
            self._store.streams.update(streams)


def raw_store(url: str) -> RawStore:
    """
    The adapter for the storage behind ``url``.
    """
    scheme = url.split("://", 1)[0].split("+", 1)[0]
    if scheme == "memory":
        return MemoryRaw(url)
    if scheme == "file":
        from tests.reliability.rawfile import FileRaw

        return FileRaw(url)
    from tests.reliability.rawsql import SQLRaw

    return SQLRaw(url)
