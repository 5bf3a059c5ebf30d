"""
Raw access to a ``file://`` log's ``events.jsonl``: the attacker's text editor.

Rows come from the stored lines; writing rewrites the file, keeping every untouched
line byte for byte and laying edited or new lines out as eventreg does (fields in
envelope order, ``payload`` and ``metadata`` inserted as the row's text, so a row
edited into garbage is written as garbage).
"""

from __future__ import annotations

import json
import os

from eventreg.log import canonical_json
from tests.reliability.rawstore import FIELDS, RawStore, Row

EVENTS = "events.jsonl"


class FileRaw(RawStore):
    """
    The lines of ``<folder>/events.jsonl``.
    """

    def __init__(self, url: str) -> None:
        self.path = os.path.join(url.split("://", 1)[1], EVENTS)

    def rows(self) -> list[Row]:
        with open(self.path, "rb") as f:
            lines = f.read().splitlines(keepends=True)
        rows = []
        for line in lines:
            doc = json.loads(line)
            row = {f: doc[f] for f in FIELDS}
            row["payload"] = canonical_json(doc["payload"])
            row["metadata"] = canonical_json(doc["metadata"])
            if "more" in doc:
                row["more"] = doc["more"]
            row["_line"] = line
            row["_orig"] = {k: v for k, v in row.items() if k != "_line"}
            rows.append(row)
        return rows

    @staticmethod
    def _render(row: Row) -> bytes:
        enc = canonical_json
        more = f',"more":{row["more"]}' if "more" in row else ""
        return (
            f'{{"position":{row["position"]},"stream_id":{enc(row["stream_id"])},'
            f'"stream_version":{row["stream_version"]},"type":{enc(row["type"])},'
            f'"schema_version":{row["schema_version"]},"recorded_at":{enc(row["recorded_at"])},'
            f'"actor":{enc(row["actor"])},"payload":{row["payload"]},"metadata":{row["metadata"]},'
            f'"prev_hash":{enc(row["prev_hash"])},"hash":{enc(row["hash"])}{more}}}\n'
        ).encode()

    def write_rows(self, rows: list[Row]) -> None:
        out = []
        for row in rows:
            plain = {k: v for k, v in row.items() if k not in ("_line", "_orig")}
            out.append(row["_line"] if row.get("_orig") == plain else self._render(plain))
        with open(self.path, "wb") as f:
            f.write(b"".join(out))
            f.flush()
            os.fsync(f.fileno())
