"""
The conformance suite on the file:// backend (a folder of JSON lines), plus what is
particular to it: torn tails, foreign folders, several processes on one folder.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from eventreg import open_log
from eventreg.errors import (
    ConfigurationError,
    LogCorrupted,
    NotAnEventLog,
    ReadOnlyError,
    SchemaVersionError,
)
from eventreg.log import Head, NewEvent
from eventreg.testing import EventLogContract


def _events_path(url: str) -> str:
    return os.path.join(url.split("://", 1)[1], "events.jsonl")


def _read_lines(url: str) -> list[str]:
    with open(_events_path(url), encoding="utf-8", newline="") as f:
        return [line + "\n" for line in f.read().split("\n")[:-1]]  # not str.splitlines: U+2028


def _raw(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _write_lines(url: str, lines: list[str]) -> None:
    with open(_events_path(url), "w", encoding="utf-8", newline="") as f:
        f.writelines(lines)


class TestFileLog(EventLogContract):
    @pytest.fixture
    def log_url(self, file_url):
        return file_url

    def tamper_edit_payload(self, url, position, payload_text):
        lines = _read_lines(url)
        doc = json.loads(lines[position - 1])
        doc["payload"] = json.loads(payload_text)
        lines[position - 1] = json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"
        _write_lines(url, lines)

    def tamper_delete(self, url, position):
        lines = _read_lines(url)
        del lines[position - 1]
        _write_lines(url, lines)

    def tamper_swap(self, url, a, b):
        lines = _read_lines(url)
        lines[a - 1], lines[b - 1] = lines[b - 1], lines[a - 1]
        _write_lines(url, lines)


# -- a torn tail: what a crash in the middle of an append leaves ------------------------------


def test_a_torn_last_line_is_never_read_and_the_next_append_cuts_it(file_url, caplog):
    with open_log(file_url) as log:
        recorded = log.append("s", [NewEvent("a", {"i": 1}), NewEvent("b", {"i": 2})])
        recorded += log.append("s", [NewEvent("c", {"i": 3})])
    path = _events_path(file_url)
    clean = _raw(path)
    with open(path, "ab") as f:  # half a line, as a crash in the middle of a write leaves it
        f.write(clean.splitlines(keepends=True)[-1][:70])
    with caplog.at_level(logging.WARNING, logger="eventreg.backends.file"):
        log = open_log(file_url)
    assert "torn tail" in caplog.text
    with log:
        assert list(log.read_all()) == recorded
        assert log.head() == Head(3, recorded[-1].hash)
        assert log.stream_version("s") == 3
        assert log.verify().ok
        (event,) = log.append("s", [NewEvent("d", {"i": 4})], expected_version=3)
        assert event.position == 4 and event.prev_hash == recorded[-1].hash
    data = _raw(path)
    assert data.startswith(clean) and data.endswith(b"\n")
    assert [json.loads(line)["position"] for line in data.splitlines()] == [1, 2, 3, 4]
    caplog.clear()
    with open_log(file_url) as again:
        assert again.verify().ok and again.head().position == 4
    assert "torn" not in caplog.text


def test_a_multi_event_append_cut_short_is_read_as_nothing(file_url):
    with open_log(file_url) as log:
        first = log.append("a", [NewEvent("one", {})])
        log.append("b", [NewEvent("two", {}), NewEvent("three", {}), NewEvent("four", {})])
    path = _events_path(file_url)
    lines = _raw(path).splitlines(keepends=True)
    assert b'"more":2}' in lines[1] and b'"more":1}' in lines[2] and b'"more"' not in lines[3]
    with open(path, "wb") as f:  # two whole lines of the batch made it to disk, the third half
        f.write(b"".join(lines[:3]) + lines[3][:50])
    with open_log(file_url) as log:
        assert list(log.read_all()) == first
        assert log.read_stream("b") == [] and log.stream_version("b") == 0
        assert log.verify().ok
        log.append("b", [NewEvent("again", {})], expected_version=0)
        assert [e.type for e in log.read_all()] == ["one", "again"]
        assert log.verify().ok
    assert _raw(path).count(b"\n") == 2


def test_a_writer_killed_in_the_middle_of_a_big_append_leaves_all_or_nothing(file_url):
    with open_log(file_url) as log:
        log.append("s", [NewEvent("before", {})])
    path = _events_path(file_url)
    size = os.path.getsize(path)
    writer = subprocess.Popen([sys.executable, "-c", _BIG_WRITER, file_url])
    try:
        deadline = time.monotonic() + 60
        while os.path.getsize(path) < size + 4_000_000 and time.monotonic() < deadline:
            time.sleep(0.0005)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(30)
    with open_log(file_url) as log:
        counts = [len(log.read_stream(f"big-{i}")) for i in range(3)]
        assert set(counts) <= {0, 40}, "an append was half read"
        assert log.verify().ok
        head = log.head()
        (event,) = log.append("s", [NewEvent("after", {})], expected_version=1)
        assert event.position == head.position + 1
        assert log.verify().ok
    lines = _raw(path).splitlines()
    assert [json.loads(line)["position"] for line in lines] == list(range(1, head.position + 2))


_BIG_WRITER = """
import sys
from eventreg import open_log, NewEvent
log = open_log(sys.argv[1])
for i in range(3):  # 10 MB each: the kill comes while the first is being written
    log.append(f"big-{i}", [NewEvent("chunk", {"k": k, "data": "x" * 250_000}) for k in range(40)])
"""


# -- damage that is not a torn tail is reported, never cut off ---------------------------------


def test_a_garbage_line_in_the_middle_is_reported_at_its_position(file_url):
    with open_log(file_url) as log:
        for i in range(5):
            log.append("s", [NewEvent("e", {"i": i})])
    lines = _read_lines(file_url)
    lines[2] = "this is not an event\n"
    _write_lines(file_url, lines)
    with open_log(file_url) as log:
        with pytest.raises(LogCorrupted, match="line 3"):
            list(log.read_all())
        assert [e.position for e in log.read_all(limit=2)] == [1, 2]
        result = log.verify()
        assert not result.ok and result.first_bad_position == 3 and "line 3" in result.problem


def test_a_garbage_last_line_stops_appends_instead_of_being_cut(file_url):
    with open_log(file_url) as log:
        log.append("s", [NewEvent("e", {})])
        log.append("s", [NewEvent("e", {})])
    path = _events_path(file_url)
    with open(path, "ab") as f:
        f.write(b'{"note": "added by hand"}\n')
    damaged = _raw(path)
    with open_log(file_url) as log:
        assert log.head().position == 2
        with pytest.raises(LogCorrupted, match="line 3"):
            list(log.read_all())
        result = log.verify()
        assert not result.ok and result.first_bad_position == 3
        with pytest.raises(LogCorrupted):
            log.append("s", [NewEvent("e", {})])
    assert _raw(path) == damaged


def test_a_hand_reformatted_line_is_still_read(file_url):
    with open_log(file_url) as log:
        recorded = log.append("s", [NewEvent("e", {"i": 1}), NewEvent("e", {"i": 2})])
    lines = _read_lines(file_url)
    lines[0] = json.dumps(dict(reversed(list(json.loads(lines[0]).items())))) + "\n"  # spaces, other order
    _write_lines(file_url, lines)
    with open_log(file_url) as log:
        assert list(log.read_all()) == recorded
        assert log.read_stream("s") == recorded
        assert log.verify().ok
        log.append("s", [NewEvent("e", {"i": 3})], expected_version=2)
        assert log.verify().ok


# -- a folder that is not ours ----------------------------------------------------------------


def test_a_folder_holding_other_files_is_refused_and_left_alone(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "README.md").write_text("hello")
    with pytest.raises(NotAnEventLog, match=str(folder)):
        open_log(f"file://{folder}")
    assert sorted(os.listdir(folder)) == ["README.md"]


def test_a_marker_of_another_format_is_refused(tmp_path):
    (tmp_path / "eventreg-log.json").write_text('{"format": "something-else", "format_version": 1}')
    with pytest.raises(NotAnEventLog, match=str(tmp_path)):
        open_log(f"file://{tmp_path}")
    (tmp_path / "eventreg-log.json").write_text("not json")
    with pytest.raises(NotAnEventLog):
        open_log(f"file://{tmp_path}")


def test_a_newer_format_is_refused_with_what_to_do(file_url):
    open_log(file_url).close()
    marker = os.path.join(file_url.split("://", 1)[1], "eventreg-log.json")
    with open(marker) as f:
        info = json.load(f)
    info.update(format_version=info["format_version"] + 1, created_by="eventreg 9.0")
    with open(marker, "w") as f:
        json.dump(info, f)
    with pytest.raises(SchemaVersionError, match="eventreg 9.0.*upgrade eventreg"):
        open_log(file_url)


def test_a_file_where_the_folder_should_be_is_refused(tmp_path):
    (tmp_path / "log").write_text("x")
    with pytest.raises(NotAnEventLog, match="is a file"):
        open_log(f"file://{tmp_path / 'log'}")


def test_missing_and_empty_folders_are_initialised(tmp_path):
    nested = tmp_path / "a" / "b" / "log"
    with open_log(f"file://{nested}") as log:
        log.append("s", [NewEvent("e", {})])
    assert sorted(os.listdir(nested)) == ["eventreg-log.json", "events.jsonl"]
    info = json.loads((nested / "eventreg-log.json").read_text())
    assert info["format"] == "eventreg-file-log" and info["format_version"] == 1
    checkout = tmp_path / "checkout"
    (checkout / ".git").mkdir(parents=True)  # dot-files (a git repository) do not make it foreign
    with open_log(f"file://{checkout}") as log:
        assert log.head().position == 0
    assert (checkout / "eventreg-log.json").is_file()


def test_a_relative_url_is_relative_to_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open_log("file://./rel/log") as log:
        log.append("s", [NewEvent("e", {})])
        assert log.url == f"file://{tmp_path / 'rel' / 'log'}"
    assert (tmp_path / "rel" / "log" / "events.jsonl").is_file()


def test_an_unknown_option_is_refused(file_url):
    with pytest.raises(ConfigurationError, match="connect_args"):
        open_log(file_url, connect_args={})
    with pytest.raises(ConfigurationError, match="names no folder"):
        open_log("file://")


# -- several processes on one folder ------------------------------------------------------------


def _mixed_writer(url: str, tag: str, rounds: int, barrier: Any) -> None:
    log = open_log(url)
    try:
        barrier.wait(60)
        for r in range(rounds):
            size = 1 + r % 4
            log.append("shared", [NewEvent("w", {"tag": tag, "r": r, "k": k}) for k in range(size)])
    finally:
        log.close()


def test_two_processes_appending_at_once_lose_nothing(file_url):
    rounds = 150
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_mixed_writer, args=(file_url, tag, rounds, barrier)) for tag in "AB"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    per_writer = sum(1 + r % 4 for r in range(rounds))
    with open_log(file_url) as log:
        events = list(log.read_all())
        assert [e.position for e in events] == list(range(1, 2 * per_writer + 1))
        assert [e.stream_version for e in events] == list(range(1, 2 * per_writer + 1))
        keys = [(e.payload["tag"], e.payload["r"], e.payload["k"]) for e in events]
        assert len(set(keys)) == len(keys) == 2 * per_writer
        for i, e in enumerate(events):  # the events of one append stay together, in order
            if e.payload["k"] > 0:
                assert keys[i - 1] == (e.payload["tag"], e.payload["r"], e.payload["k"] - 1)
        assert log.verify().ok


_CHILD = """
import json, sys
from eventreg import open_log, NewEvent
with open_log(sys.argv[1]) as log:
    seen = [e.type for e in log.read_all()]
    log.append("s", [NewEvent("from-child", {})], expected_version=len(seen))
print(json.dumps(seen))
"""


def test_another_process_sees_our_events_and_we_see_its(file_url):
    with open_log(file_url) as log:
        log.append("s", [NewEvent("from-parent", {})])
        assert log.head().position == 1
        out = subprocess.run([sys.executable, "-c", _CHILD, file_url], capture_output=True,
                             text=True, check=True, timeout=60)
        assert json.loads(out.stdout) == ["from-parent"]
        # the same open handle picks up the child's append
        assert [e.type for e in log.read_all()] == ["from-parent", "from-child"]
        assert log.stream_version("s") == 2
        log.append("s", [NewEvent("from-parent", {})], expected_version=2)
        assert log.verify().ok


def _slow_writer(url: str, count: int) -> None:
    with open_log(url) as log:
        for i in range(count):
            log.append(f"w-{i % 3}", [NewEvent("tick", {"i": i})])
            time.sleep(0.001)


def test_a_read_only_view_follows_another_process_and_never_writes(file_url):
    open_log(file_url).close()
    path = _events_path(file_url)
    ctx = multiprocessing.get_context("spawn")
    writer = ctx.Process(target=_slow_writer, args=(file_url, 300))
    with open_log(file_url, read_only=True) as view:
        writer.start()
        seen: list[int] = []
        deadline = time.monotonic() + 120
        while len(seen) < 300 and time.monotonic() < deadline:
            seen += [e.position for e in view.read_all(from_position=len(seen) + 1)]
        writer.join(60)
        assert seen == list(range(1, 301))
        assert view.head().position == 300 and view.stream_version("w-0") == 100
        assert view.verify().ok
        before = _raw(path)
        with pytest.raises(ReadOnlyError):
            view.append("s", [NewEvent("e", {})])
        with pytest.raises(ReadOnlyError):
            view.set_checkpoint("c", 1)
        with pytest.raises(ReadOnlyError):
            view.save_snapshot(1, b"x")
        assert _raw(path) == before
    assert writer.exitcode == 0


def test_a_read_only_view_of_a_missing_folder_creates_nothing(tmp_path):
    with pytest.raises(NotAnEventLog, match="no eventreg file log"):
        open_log(f"file://{tmp_path / 'missing'}", read_only=True)
    assert not (tmp_path / "missing").exists()


def test_an_events_file_replaced_underneath_an_open_log_is_read_again(file_url):
    with open_log(file_url) as log:
        for i in range(5):
            log.append("s", [NewEvent("e", {"i": i})])
        lines = _read_lines(file_url)
        path = _events_path(file_url)
        with open(path + ".new", "w", encoding="utf-8") as f:  # like `git checkout` of an older version
            f.writelines(lines[:3])
        os.replace(path + ".new", path)
        assert log.head().position == 3
        assert log.stream_version("s") == 3
        log.append("s", [NewEvent("e", {"i": 3})], expected_version=3)
        assert log.verify().ok


# -- the stored form ---------------------------------------------------------------------------


def test_each_line_is_the_whole_envelope_and_appends_only_add_lines(file_url):
    with open_log(file_url) as log:
        (first,) = log.append("model:iris", [NewEvent("version.registered", {"v": "ü"}, actor="ann")])
        before = _raw(_events_path(file_url))
        odd = {"breaks": "line\u2028separator\x85next\rreturn\u2029para"}  # raw in the file but \r
        log.append("model:iris", [NewEvent("alias.promoted", odd)])
    after = _raw(_events_path(file_url))
    assert after.count(b"\n") == 2
    with open_log(file_url) as log:
        assert log.read_stream("model:iris", from_version=2)[0].payload == odd
    assert after.startswith(before)  # an append is a one-line diff
    doc = json.loads(before)
    assert list(doc) == ["position", "stream_id", "stream_version", "type", "schema_version",
                         "recorded_at", "actor", "payload", "metadata", "prev_hash", "hash"]
    assert doc["payload"] == {"v": "ü"} and doc["hash"] == first.hash and "ü" in before.decode()


@pytest.mark.parametrize("consumer", ["plain", "with/slash", ".hidden", "..", "ünï côdé", "x" * 300])
def test_checkpoints_for_any_consumer_name_stay_in_their_folder(file_url, consumer):
    with open_log(file_url) as log:
        log.set_checkpoint(consumer, 42)
        assert log.get_checkpoint(consumer) == 42
        assert log.get_checkpoint(consumer + "-other") == 0
    folder = os.path.join(file_url.split("://", 1)[1], "checkpoints")
    (name,) = os.listdir(folder)
    assert not name.startswith(".") and len(name) < 256


def _append_with(log: Any, tag: str, count: int) -> None:
    for i in range(count):
        log.append(tag, [NewEvent("e", {"i": i})], expected_version=i)


def test_a_handle_inherited_by_a_forked_child_still_takes_turns(file_url):
    with open_log(file_url) as log:
        log.head()
        child = multiprocessing.get_context("fork").Process(target=_append_with, args=(log, "child", 200))
        child.start()
        _append_with(log, "parent", 200)
        child.join(60)
        assert child.exitcode == 0
        assert [e.position for e in log.read_all()] == list(range(1, 401))
        assert log.stream_version("child") == 200 and log.verify().ok


def _batch_writer(url: str, batches: int) -> None:
    with open_log(url) as log:
        for b in range(batches):
            log.append(f"s-{b % 7}", [NewEvent("part", {"b": b, "k": k, "pad": "x" * (k * 3000)})
                                      for k in range(5)])


def test_a_tailing_reader_never_sees_part_of_an_append(file_url):
    open_log(file_url).close()
    writer = multiprocessing.get_context("spawn").Process(target=_batch_writer, args=(file_url, 300))
    writer.start()
    seen: list[tuple[int, int]] = []
    polls = 0
    with open_log(file_url, read_only=True) as reader:
        deadline = time.monotonic() + 120
        while len(seen) < 1500 and time.monotonic() < deadline:
            new = [(e.payload["b"], e.payload["k"]) for e in reader.read_all(from_position=len(seen) + 1)]
            if new:
                polls += 1
                assert new[-1][1] == 4, f"a read ended inside an append: {new[-3:]}"
            seen += new
    writer.join(60)
    assert writer.exitcode == 0
    assert seen == [(b, k) for b in range(300) for k in range(5)]
    assert polls > 1
