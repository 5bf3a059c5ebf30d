"""
Logs written by an older eventreg (tests/fixtures/legacy_log: SQLite and file://, written
with the C modules this version no longer has) verify with the heads recorded then and
read back the very same values: the hash format and the stored JSON did not change.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone  # noqa: F401 - the expected text names them
from pathlib import Path

import pytest

from eventreg.config import open_log
from eventreg.log import Head, NewEvent

FIXTURE = Path(__file__).parent / "fixtures" / "legacy_log"
HEADS = json.loads((FIXTURE / "heads.json").read_text())


@pytest.fixture(params=["sqlite", "file"])
def legacy(request, tmp_path):
    """
    (backend name, URL of a copy of its fixture log): opening a log may write to it.
    """
    if request.param == "sqlite":
        shutil.copy(FIXTURE / "log.db", tmp_path / "log.db")
        url = f"sqlite:///{tmp_path / 'log.db'}"
    else:
        shutil.copytree(FIXTURE / "filelog", tmp_path / "filelog")
        url = f"file://{tmp_path / 'filelog'}"
    log = open_log(url)
    yield request.param, log
    log.close()


def test_an_older_log_verifies_with_its_recorded_head(legacy):
    name, log = legacy
    recorded = Head(HEADS[name]["position"], HEADS[name]["hash"])
    result = log.verify(expected_head=recorded)
    assert result.ok, result
    assert log.head() == recorded


def test_an_older_log_reads_the_same_values(legacy):
    name, log = legacy
    expected = (FIXTURE / f"expected-{name}.txt").read_text(encoding="utf-8").splitlines()
    assert [repr(event) for event in log.read_all()] == expected
    by_stream = {}
    for event in log.read_all():
        by_stream.setdefault(event.stream_id, []).append(repr(event))
    for stream, events in by_stream.items():
        assert [repr(event) for event in log.read_stream(stream)] == events


def test_an_older_log_keeps_its_snapshot_and_takes_new_events(legacy):
    name, log = legacy
    snapshot = log.latest_snapshot()
    assert (snapshot.position, snapshot.data) == (48, b"\x00snapshot\xffbytes")
    log.append("model:iris", [NewEvent("note.added", {"lr": 1e-05, "big": 2**70})])
    assert log.verify(expected_head=Head(HEADS[name]["position"], HEADS[name]["hash"])).ok
    assert log.head().position == 49
