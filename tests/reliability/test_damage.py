"""
Damage (issue 20, item 5): stored data that eventreg could never have written.

An auditor runs ``verify`` precisely when the storage may have been touched, so no form
of damage may make it raise: each comes back as ``ok=False`` with the first bad position
and what is wrong, after checking the events before it; ``read_all`` hands out the good
events and then raises ``LogCorrupted`` naming the position. The forms are shared by
every backend whose storage can hold them (a typed column or a server that stores only
UTF-8 cannot hold some: those cases skip, saying why). The edits are made in the storage
itself, as in test_tampering.py.
"""

from __future__ import annotations

import pytest

from eventreg import LogCorrupted, open_log
from eventreg.log import NewEvent
from tests.reliability.rawstore import raw_store

BAD = 5  # the damaged position, of 8


@pytest.fixture(params=["sqlite_url", "file_url", "postgres_url", "mysql_url"],
                ids=lambda name: name.removesuffix("_url"))
def damage_url(request):
    return request.getfixturevalue(request.param)


def _kind(url: str) -> str:
    return url.split("://", 1)[0].split("+", 1)[0]


def _write_log(url: str) -> None:
    with open_log(url) as log:
        for i in range(8):
            log.append(f"model:m{i % 3}", [NewEvent("metric.logged", {"i": i, "lr": 1e-05, "note": "héllo"},
                                                    metadata={"req": f"r{i}"})])


def _set_field(field: str, value) -> object:
    def edit(rows):
        next(r for r in rows if r["position"] == BAD)[field] = value
    return edit


def _sqlite_path(url: str) -> str:
    return url.split(":///", 1)[1]


def _file_lines(url: str) -> tuple[str, list[bytes]]:
    path = raw_store(url).path
    with open(path, "rb") as f:
        return path, f.read().splitlines(keepends=True)


def _write_lines(path: str, lines: list[bytes]) -> None:
    with open(path, "wb") as f:
        f.write(b"".join(lines))


def non_utf8_byte(url: str) -> None:
    kind = _kind(url)
    if kind == "sqlite":
        import sqlite3

        conn = sqlite3.connect(_sqlite_path(url))
        conn.execute("UPDATE eventreg_events SET payload = CAST(X'7B2261223A22FF227D' AS TEXT) WHERE position = ?",
                     (BAD,))  # {"a":"\xff"}
        conn.commit()
        conn.close()
    elif kind == "file":
        path, lines = _file_lines(url)
        lines[BAD - 1] = lines[BAD - 1].replace("héllo".encode(), b"h\xffllo")
        _write_lines(path, lines)
    else:
        pytest.skip(f"{kind} stores only valid UTF-8 text: the server refuses the edit")


def payload_stored_as_bytes(url: str) -> None:
    kind = _kind(url)
    if kind == "sqlite":
        import sqlite3

        conn = sqlite3.connect(_sqlite_path(url))
        conn.execute("UPDATE eventreg_events SET payload = CAST(payload AS BLOB) WHERE position = ?", (BAD,))
        conn.commit()
        conn.close()
    elif kind == "file":  # the nearest a JSON line comes: the payload object written as a string
        path, lines = _file_lines(url)
        line = lines[BAD - 1].decode()
        start = line.index('"payload":') + len('"payload":')
        end = line.index(',"metadata":')
        import json

        lines[BAD - 1] = (line[:start] + json.dumps(line[start:end]) + line[end:]).encode()
        _write_lines(path, lines)
    else:
        pytest.skip(f"{kind}'s payload column is typed text: it cannot hold bytes")


def by_rows(edit):
    def apply(url: str) -> None:
        raw = raw_store(url)
        try:
            raw.edit(edit)
        finally:
            raw.close()
    return apply


#: form -> (how to damage position BAD, a word the problem names)
FORMS = {
    "payload-nested-1000-deep": (by_rows(_set_field("payload", '{"a":' * 1000 + "1" + "}" * 1000)), ""),
    "payload-non-utf8-byte": (non_utf8_byte, "UTF-8"),
    "recorded-at-garbage": (by_rows(_set_field("recorded_at", "garbage")), ""),
    "payload-lone-surrogate-escape": (by_rows(_set_field("payload", '{"a":"\\ud800"}')), ""),
    "payload-stored-as-bytes": (payload_stored_as_bytes, ""),
    "payload-not-an-object": (by_rows(_set_field("payload", "[1,2]")), ""),
    "metadata-nested-1000-deep": (by_rows(_set_field("metadata", "[" * 1000 + "]" * 1000)), ""),
    "recorded-at-not-utc": (by_rows(_set_field("recorded_at", "2026-01-01T00:00:00.000000+01:00")), ""),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_verify_reports_damage_with_its_position_and_never_raises(damage_url, form):
    damage, word = FORMS[form]
    _write_log(damage_url)
    damage(damage_url)
    with open_log(damage_url) as log:
        result = log.verify()
        assert not result.ok, f"{form}: not detected"
        assert (result.first_bad_position, result.checked) == (BAD, BAD - 1), result
        assert word in result.problem, result.problem
        assert not log.verify(expected_head=(BAD - 1, result.head.hash)).ok  # the damage is still found


@pytest.mark.parametrize("form", sorted(FORMS))
def test_read_all_hands_out_the_good_events_then_names_the_damaged_position(damage_url, form):
    damage, _ = FORMS[form]
    _write_log(damage_url)
    damage(damage_url)
    with open_log(damage_url) as log:
        seen = []
        with pytest.raises(LogCorrupted) as raised:
            for event in log.read_all():
                seen.append(event.position)
        assert seen == list(range(1, BAD)), seen
        assert f"position {BAD}" in str(raised.value) or f"line {BAD}" in str(raised.value), raised.value
