"""
Tampering (issue 7, point 3): every direct edit of the stored log is caught.

The log is written through eventreg, closed, then edited straight in its storage
(SQL statements on the backend's tables, a text edit of the JSON-lines file, the list
behind a memory log) by :mod:`tests.reliability.rawstore`. The log is then reopened
and checked three ways: ``verify()``, ``verify(expected_head=final)`` with the head
written down after the last legitimate event, and ``verify(expected_head=early)``
with a head written down half-way (position 6 of 12).

What each check catches is the table in docs/security.md ("Tampering"): edits that
break the chain are named by ``verify()`` at their exact position; an attacker who
recomputes every hash after the edit is caught only by a head written down earlier at
or after the edit, and reported at that head's position.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from eventreg import LogCorrupted, open_log
from eventreg.log import Head, NewEvent, format_timestamp, parse_timestamp
from tests.reliability.rawstore import raw_store, rechain, row_hash

STREAMS, ROUNDS = 3, 4  # 12 events: position p is round (p-1)//3 of stream model:m{(p-1)%3}
EARLY = 6


@pytest.fixture(params=["memory_url", "sqlite_url", "file_url", "postgres_url", "mysql_url"],
                ids=lambda name: name.removesuffix("_url"))
def tamper_url(request):
    return request.getfixturevalue(request.param)


def _write_log(url: str) -> tuple[Head, Head]:
    """
    Write 12 events; return the heads an auditor wrote down at position 6 and at the end.
    """
    with open_log(url) as log:
        for round_ in range(ROUNDS):
            for s in range(STREAMS):
                log.append(f"model:m{s}", [NewEvent(
                    "metric.logged", {"s": s, "round": round_, "note": "héllo"},
                    actor="alice", metadata={"req": f"r{round_}{s}"})])
            if log.head().position == EARLY:
                early = str(log.head())
        final = str(log.head())
    # written down as text, parsed back later, as an auditor would
    return Head.parse(early), Head.parse(final)


def _at(rows, position):
    return next(r for r in rows if r["position"] == position)


# -- the edits ------------------------------------------------------------------------------


def flip_payload_byte(rows):
    row = _at(rows, 5)
    text = row["payload"]
    i = text.index('"round":') + len('"round":')
    row["payload"] = text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1:]


def change_actor(rows):
    _at(rows, 5)["actor"] = "mallory"


def change_timestamp(rows):
    row = _at(rows, 5)
    row["recorded_at"] = format_timestamp(parse_timestamp(row["recorded_at"]) - timedelta(microseconds=1))


def change_metadata(rows):
    _at(rows, 5)["metadata"] = '{"req":"forged"}'


def change_type(rows):
    _at(rows, 5)["type"] = "alias.promoted"


def change_schema_version(rows):
    _at(rows, 5)["schema_version"] = 2


def overwrite_hash(rows):
    _at(rows, 5)["hash"] = "ab" * 32


def delete_row(rows):
    rows.remove(_at(rows, 7))


def delete_first_row(rows):
    rows.remove(_at(rows, 1))


def _forged(rows, position):
    return {"position": position, "stream_id": "model:forged", "stream_version": 1,
            "type": "alias.promoted", "schema_version": 1, "recorded_at": _at(rows, position)["recorded_at"],
            "actor": "mallory", "payload": '{"alias":"production","version":666}', "metadata": "{}",
            "prev_hash": _at(rows, position - 1)["hash"], "hash": ""}


def insert_forged_row(rows):
    """
    A forged event at position 7 with a correct hash; the rows after it moved up by one.
    """
    forged = _forged(rows, 7)
    forged["hash"] = row_hash(forged, forged["prev_hash"])
    for row in rows:
        if row["position"] >= 7:
            row["position"] += 1
    rows.insert(6, forged)


def insert_forged_row_and_rechain(rows):
    insert_forged_row(rows)
    rechain(rows, 6)


def append_forged_row_at_end(rows):
    forged = _forged(rows, 12)
    forged["position"], forged["prev_hash"] = 13, rows[-1]["hash"]
    rows.append(forged)
    rechain(rows, 12)


def swap_rows(rows):
    """
    Reorder: the stored contents of positions 4 and 9 change places.
    """
    a, b = _at(rows, 4), _at(rows, 9)
    for key in a:
        if key != "position":
            a[key], b[key] = b[key], a[key]


def swap_positions(rows):
    """
    Reorder: positions 5 and 6 (two different streams) change places, hashes left alone.
    """
    a, b = _at(rows, 5), _at(rows, 6)
    a["position"], b["position"] = 6, 5
    rows.sort(key=lambda r: r["position"])


def swap_positions_and_rechain(rows):
    swap_positions(rows)
    rechain(rows, 4)


def truncate_tail(rows):
    del rows[9:]


def truncate_everything(rows):
    del rows[:]


def edit_and_rechain_tail(rows):
    flip_payload_byte(rows)
    rechain(rows, 4)


def delete_and_rechain(rows):
    """
    Delete position 7 (model:m0 version 3), renumber positions after it, recompute hashes.
    """
    delete_row(rows)
    for row in rows:
        if row["position"] > 7:
            row["position"] -= 1
    rechain(rows, 6)


def delete_last_of_stream_and_rechain(rows):
    """
    Delete position 10 (model:m0 version 4, its last event), renumber, recompute hashes.
    """
    rows.remove(_at(rows, 10))
    for row in rows:
        if row["position"] > 10:
            row["position"] -= 1
    rechain(rows, 9)


OK = None  # expectation: verify passes

# edit -> (verify(), verify(expected_head=final), verify(expected_head=early)), each either
# OK or (first_bad_position, a word of the problem text)
CASES = {
    "payload-byte": (flip_payload_byte, (5, "edited"), (5, "edited"), (5, "edited")),
    "actor": (change_actor, (5, "edited"), (5, "edited"), (5, "edited")),
    "timestamp": (change_timestamp, (5, "edited"), (5, "edited"), (5, "edited")),
    "metadata": (change_metadata, (5, "edited"), (5, "edited"), (5, "edited")),
    "type": (change_type, (5, "edited"), (5, "edited"), (5, "edited")),
    "schema-version": (change_schema_version, (5, "edited"), (5, "edited"), (5, "edited")),
    "hash-overwritten": (overwrite_hash, (5, "edited"), (5, "edited"), (5, "edited")),
    "delete-row": (delete_row, (7, "deleted"), (7, "deleted"), (7, "deleted")),
    "delete-first-row": (delete_first_row, (1, "deleted"), (1, "deleted"), (1, "deleted")),
    "insert-forged-row": (insert_forged_row, (8, ""), (8, ""), (8, "")),
    "insert-forged-row-rechained": (insert_forged_row_and_rechain, OK, (12, "rewritten"), OK),
    "swap-rows": (swap_rows, (4, ""), (4, ""), (4, "")),
    "swap-positions": (swap_positions, (5, "prev_hash"), (5, "prev_hash"), (5, "prev_hash")),
    "swap-positions-rechained": (swap_positions_and_rechain, OK, (12, "rewritten"), (6, "rewritten")),
    "truncate-tail": (truncate_tail, OK, (10, "truncated"), OK),
    "truncate-everything": (truncate_everything, OK, (1, "truncated"), (1, "truncated")),
    "edit-and-rechain-tail": (edit_and_rechain_tail, OK, (12, "rewritten"), (6, "rewritten")),
    "delete-and-rechain": (delete_and_rechain, (9, "out of sequence"), (9, "out of sequence"),
                           (9, "out of sequence")),
    "delete-last-of-stream-rechained": (delete_last_of_stream_and_rechain, OK, (12, "truncated"), OK),
    # not tampering with history: a forged event *after* the published head cannot be told
    # from a legitimate append by anyone who may write to the storage (docs/security.md)
    "append-forged-after-head": (append_forged_row_at_end, OK, OK, OK),
}


def _check(result, expected, label):
    if expected is OK:
        assert result.ok, f"{label}: expected ok, got {result}"
        return
    position, word = expected
    assert not result.ok, f"{label}: tampering not detected"
    assert result.first_bad_position == position, f"{label}: {result}"
    assert word in result.problem, f"{label}: {result.problem!r}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_direct_edits_of_the_storage_are_caught(tamper_url, case):
    edit, plain, against_final, against_early = CASES[case]
    early, final = _write_log(tamper_url)
    raw = raw_store(tamper_url)
    try:
        raw.edit(edit)
    finally:
        raw.close()
    with open_log(tamper_url) as log:
        _check(log.verify(), plain, "verify()")
        _check(log.verify(expected_head=final), against_final, f"verify(expected_head={final.position})")
        _check(log.verify(expected_head=early), against_early, f"verify(expected_head={early.position})")


def test_an_untouched_log_verifies_against_both_heads(tamper_url):
    early, final = _write_log(tamper_url)
    raw = raw_store(tamper_url)
    try:
        raw.edit(lambda rows: None)  # read and write back unchanged: the adapter itself is exact
    finally:
        raw.close()
    with open_log(tamper_url) as log:
        assert log.verify().ok
        assert log.verify(expected_head=final).ok and log.verify(expected_head=early).ok
        assert log.head() == final


def test_heads_written_down_over_time_bound_where_a_rewrite_happened(tamper_url):
    """
    An auditor who keeps every published head can bisect a recomputed rewrite.
    """
    heads = []
    with open_log(tamper_url) as log:
        for i in range(12):
            log.append(f"model:m{i % 3}", [NewEvent("metric.logged", {"i": i})])
            heads.append(log.head())
    raw = raw_store(tamper_url)
    try:
        def edit(rows):
            rows[7]["payload"] = '{"i":700}'
            rechain(rows, 7)
        raw.edit(edit)
    finally:
        raw.close()
    with open_log(tamper_url) as log:
        assert log.verify().ok  # the chain itself is consistent again
        verdicts = [log.verify(expected_head=h).ok for h in heads]
    assert verdicts == [True] * 7 + [False] * 5  # the edit is at position 8 exactly


@pytest.mark.parametrize("garbage", ['{"s":1,"round":', "not json at all", ""], ids=["cut", "text", "empty"])
def test_storage_edited_into_garbage_is_reported_with_its_position(tamper_url, garbage):
    """
    A stored payload that is no longer JSON: ``verify()`` reports position 5 (after
    checking 1-4) on every backend; reading raises ``LogCorrupted``, never a raw decoding
    error.
    """
    if tamper_url.startswith("memory"):
        pytest.skip("a memory log holds decoded objects: there is no stored text to corrupt")
    _write_log(tamper_url)
    raw = raw_store(tamper_url)
    try:
        def edit(rows):
            _at(rows, 5)["payload"] = garbage
        raw.edit(edit)
    finally:
        raw.close()
    with open_log(tamper_url) as log:
        result = log.verify()
        assert not result.ok and result.first_bad_position == 5 and result.checked == 4, result
        assert "position 5" in result.problem or "line 5" in result.problem, result.problem
        with pytest.raises(LogCorrupted):
            list(log.read_all())


def test_a_file_log_whose_last_line_was_edited_into_garbage_is_damaged_not_torn(file_url):
    """
    A complete (newline-terminated) last line that does not parse is damage, not a torn
    tail from a crash: it must not be silently dropped (which would hide an edit).
    """
    _write_log(file_url)
    raw = raw_store(file_url)
    path = raw.path
    with open(path, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    lines[-1] = b'{"position":12,"garbage\n'
    with open(path, "wb") as f:
        f.write(b"".join(lines))
    with open_log(file_url) as log:
        result = log.verify()
        assert not result.ok and result.first_bad_position == 12, result
        with pytest.raises(LogCorrupted):
            log.append("model:m0", [NewEvent("e", {})])
