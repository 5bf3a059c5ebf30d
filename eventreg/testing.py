"""
The event-log conformance suite every backend passes.

Like fsspec's abstract tests, it ships in the package so a third-party backend can run
it too. Subclass :class:`EventLogContract` once per backend and supply:

- a ``log_url`` fixture returning the URL of a fresh, empty log;
- three tamper hooks that change the stored log directly, bypassing eventreg, while
  the log is closed: ``tamper_edit_payload(url, position, payload_text)``,
  ``tamper_delete(url, position)`` and ``tamper_swap(url, a, b)`` (swap the stored
  contents of positions ``a`` and ``b``).

Differences between backends are the capability flags on the log
(``persistent``, ``shared_between_processes``, ``supports_concurrent_writers``),
never the backend's name.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import threading
import time
from typing import Any

import pytest

from eventreg.config import open_log
from eventreg.errors import ConcurrencyConflict, InvalidEvent
from eventreg.log import (
    ANY,
    GENESIS_HASH,
    NO_STREAM,
    Head,
    NewEvent,
    RecordedEvent,
    canonical_json,
    event_hash,
)

# -- worker functions for other processes (module level so "spawn" can import them) ----


def _race_writer(url: str, stream_id: str, tag: str, barrier: Any, results: Any) -> None:
    log = open_log(url)
    try:
        barrier.wait(30)
        events = [NewEvent("raced", {"writer": tag, "i": i}) for i in range(3)]
        try:
            log.append(stream_id, events, expected_version=1)
            results.put((tag, "won"))
        except ConcurrencyConflict:
            results.put((tag, "conflict"))
        except Exception as e:  # reported to the test, which fails with it
            results.put((tag, f"error {type(e).__name__}: {e}"))
    finally:
        log.close()


def _bulk_writer(url: str, stream_id: str, count: int, barrier: Any) -> None:
    log = open_log(url)
    try:
        barrier.wait(60)
        for i in range(count):
            log.append(stream_id, [NewEvent("tick", {"i": i})], expected_version=i)
    finally:
        log.close()


def _payload_equal(a: Any, b: Any) -> bool:
    """
    Equality that treats NaN as equal to NaN and keeps int/float and -0.0 apart.
    """
    return canonical_json(a) == canonical_json(b)


class EventLogContract:
    """
    The shared behaviour of every event-log backend.
    """

    #: events per writer in the concurrent-writers test (4 writers)
    concurrent_events_per_writer = 500

    # -- what a backend's test class supplies ---------------------------------------------

    @pytest.fixture
    def log_url(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError("subclass must provide a log_url fixture")

    def tamper_edit_payload(self, url: str, position: int, payload_text: str) -> None:
        raise NotImplementedError

    def tamper_delete(self, url: str, position: int) -> None:
        raise NotImplementedError

    def tamper_swap(self, url: str, a: int, b: int) -> None:
        raise NotImplementedError

    # -- helpers --------------------------------------------------------------------------

    @pytest.fixture
    def log(self, log_url):
        log = open_log(log_url)
        yield log
        log.close()

    @staticmethod
    def _fill(log, streams: int = 3, per_stream: int = 4) -> list[RecordedEvent]:
        recorded = []
        for round_ in range(per_stream):
            for s in range(streams):
                recorded += log.append(f"stream-{s}", [NewEvent("filled", {"s": s, "round": round_})])
        return recorded

    # -- empty log ------------------------------------------------------------------------

    def test_a_new_log_is_empty_and_verifies(self, log):
        assert log.head() == Head(0, GENESIS_HASH)
        assert list(log.read_all()) == []
        assert log.read_stream("nothing") == []
        assert log.stream_version("nothing") == 0
        result = log.verify()
        assert result.ok and result.checked == 0

    # -- round trip -----------------------------------------------------------------------

    def test_payloads_round_trip_exactly(self, log):
        payloads = [
            {"text": "héllo wörld — 模型 🚀", "escape": "quote\" back\\slash \n tab\t nul\u0000"},
            {"nested": {"a": [1, 2.5, {"b": None, "c": [True, False]}], "empty": {}, "list": []}},
            {"floats": [0.1, 1e-300, 1.7976931348623157e308, -0.0, 5e-324, 123456789.123456789]},
            {"ints": [0, -1, 2**53 + 1, 2**63 - 1, -(2**63)], "big": 10**30},
            {"specials": [math.nan, math.inf, -math.inf]},
            {"big": "x" * (1024 * 1024)},
        ]
        appended = log.append("payloads", [NewEvent("p", p) for p in payloads], expected_version=NO_STREAM)
        read = log.read_stream("payloads")
        assert len(read) == len(payloads)
        for original, event, returned in zip(payloads, read, appended):
            assert _payload_equal(event.payload, original)
            assert event._replace(payload=None) == returned._replace(payload=None)
            assert _payload_equal(returned.payload, original)
        assert math.isnan(read[4].payload["specials"][0])
        assert math.copysign(1.0, read[2].payload["floats"][3]) == -1.0
        assert type(read[3].payload["ints"][0]) is int

    def test_envelope_fields_are_recorded(self, log):
        before = time.time()
        (event,) = log.append(
            "env", [NewEvent("thing.happened", {"k": "v"}, schema_version=3, actor="alice",
                             metadata={"request": "r-1"})]
        )
        after = time.time()
        (stored,) = log.read_stream("env")
        assert stored == event
        assert (stored.position, stored.stream_id, stored.stream_version) == (1, "env", 1)
        assert (stored.type, stored.schema_version, stored.actor) == ("thing.happened", 3, "alice")
        assert stored.metadata == {"request": "r-1"}
        assert stored.recorded_at.utcoffset().total_seconds() == 0
        assert before - 1 <= stored.recorded_at.timestamp() <= after + 1
        assert stored.prev_hash == GENESIS_HASH
        assert stored.hash == event_hash(stored)

    def test_the_caller_changing_its_dict_later_does_not_change_history(self, log):
        payload = {"list": [1, 2]}
        log.append("mut", [NewEvent("p", payload)])
        payload["list"].append(3)
        payload["new"] = True
        assert log.read_stream("mut")[0].payload == {"list": [1, 2]}
        assert log.verify().ok

    # -- expected versions ----------------------------------------------------------------

    def test_expected_version_rules(self, log):
        log.append("s", [NewEvent("a", {})], expected_version=NO_STREAM)
        with pytest.raises(ConcurrencyConflict) as info:
            log.append("s", [NewEvent("b", {})], expected_version=NO_STREAM)
        assert info.value.expected == 0 and info.value.actual == 1
        with pytest.raises(ConcurrencyConflict):
            log.append("s", [NewEvent("b", {})], expected_version=5)
        log.append("s", [NewEvent("b", {}), NewEvent("c", {})], expected_version=1)
        log.append("s", [NewEvent("d", {})], expected_version=ANY)
        assert [e.type for e in log.read_stream("s")] == ["a", "b", "c", "d"]
        assert log.stream_version("s") == 4
        assert log.head().position == 4

    def test_a_conflict_writes_nothing(self, log):
        log.append("s", [NewEvent("a", {})])
        head = log.head()
        with pytest.raises(ConcurrencyConflict):
            log.append("s", [NewEvent("x", {}), NewEvent("y", {})], expected_version=0)
        assert log.head() == head
        assert len(log.read_stream("s")) == 1
        log.append("s", [NewEvent("b", {})], expected_version=1)
        assert log.verify().ok

    def test_two_processes_race_on_one_stream_exactly_one_wins(self, log, log_url):
        log.append("race", [NewEvent("start", {})])
        if log.shared_between_processes:
            ctx = multiprocessing.get_context("spawn")
            barrier, results = ctx.Barrier(2), ctx.Queue()
            workers = [ctx.Process(target=_race_writer, args=(log_url, "race", tag, barrier, results))
                       for tag in ("A", "B")]
        else:
            import queue

            barrier, results = threading.Barrier(2), queue.Queue()
            workers = [threading.Thread(target=_race_writer, args=(log_url, "race", tag, barrier, results))
                       for tag in ("A", "B")]
        for w in workers:
            w.start()
        outcomes = dict(results.get(timeout=60) for _ in workers)
        for w in workers:
            w.join(60)
        assert sorted(outcomes.values()) == ["conflict", "won"], outcomes
        winner = next(tag for tag, outcome in outcomes.items() if outcome == "won")
        events = log.read_stream("race")
        assert len(events) == 4
        assert {e.payload["writer"] for e in events[1:]} == {winner}
        assert [e.payload["i"] for e in events[1:]] == [0, 1, 2]
        assert log.verify().ok

    # -- atomicity ------------------------------------------------------------------------

    def test_an_append_that_fails_midway_writes_nothing(self, log):
        log.append("s", [NewEvent("ok", {})])
        head = log.head()
        batch = [NewEvent("ok", {"i": 1}), NewEvent("ok", {"i": 2}), NewEvent("bad", {"x": object()}),
                 NewEvent("ok", {"i": 4})]
        with pytest.raises(InvalidEvent, match="payload.x"):
            log.append("s", batch)
        assert log.head() == head
        assert [e.type for e in log.read_all()] == ["ok"]
        assert log.verify().ok

    @pytest.mark.parametrize(
        "payload",
        [{"x": {1, 2}}, {"x": b"bytes"}, {"x": (1, 2)}, {1: "int key"}, {"x": "\ud800"}, ["not", "a", "dict"]],
        ids=["set", "bytes", "tuple", "int-key", "lone-surrogate", "list"],
    )
    def test_a_payload_that_is_not_json_is_refused(self, log, payload):
        with pytest.raises(InvalidEvent):
            log.append("s", [NewEvent("bad", payload)])
        assert log.head().position == 0

    @pytest.mark.parametrize("stream_id", ["", "x" * 201, None, 42, "tab\there", "new\nline"],
                             ids=["empty", "too-long", "none", "int", "tab", "newline"])
    def test_a_bad_stream_id_is_refused(self, log, stream_id):
        with pytest.raises(InvalidEvent):
            log.append(stream_id, [NewEvent("e", {})])
        assert log.head().position == 0

    def test_a_bad_expected_version_is_refused(self, log):
        with pytest.raises(InvalidEvent):
            log.append("s", [NewEvent("e", {})], expected_version=-1)
        with pytest.raises(InvalidEvent):
            log.append("s", [NewEvent("e", {})], expected_version="1")
        assert log.head().position == 0

    def test_an_empty_append_records_nothing(self, log):
        assert log.append("s", []) == []
        assert log.head().position == 0

    # -- order ----------------------------------------------------------------------------

    def test_global_order_and_stream_versions(self, log):
        recorded = self._fill(log, streams=3, per_stream=4)
        events = list(log.read_all())
        assert [e.position for e in events] == list(range(1, 13))
        assert events == recorded
        for s in range(3):
            stream = log.read_stream(f"stream-{s}")
            assert [e.stream_version for e in stream] == [1, 2, 3, 4]
            assert [e.payload["round"] for e in stream] == [0, 1, 2, 3]
            assert log.stream_version(f"stream-{s}") == 4
        assert [e.position for e in log.read_all(from_position=5, limit=3)] == [5, 6, 7]
        assert [e.position for e in log.read_all(from_position=11)] == [11, 12]
        assert list(log.read_all(from_position=13)) == []
        assert [e.stream_version for e in log.read_stream("stream-1", from_version=3)] == [3, 4]

    def test_read_stream_stops_at_to_version(self, log):
        self._fill(log, streams=2, per_stream=5)
        assert [e.stream_version for e in log.read_stream("stream-1", 2, to_version=4)] == [2, 3, 4]
        assert [e.stream_version for e in log.read_stream("stream-1", to_version=1)] == [1]
        assert [e.stream_version for e in log.read_stream("stream-1", 4, to_version=99)] == [4, 5]
        assert log.read_stream("stream-1", 4, to_version=3) == []
        assert log.read_stream("stream-1", to_version=0) == []

    def test_a_long_read_all_streams_in_order(self, log):
        for chunk in range(5):
            log.append(f"bulk-{chunk % 2}", [NewEvent("b", {"n": chunk * 1000 + i}) for i in range(1000)])
        positions = [e.position for e in log.read_all()]
        assert positions == list(range(1, 5001))

    # -- persistence ----------------------------------------------------------------------

    def test_reopening_keeps_everything(self, log, log_url):
        if not log.persistent:
            pytest.skip("backend declares persistent=False: nothing survives close()")
        recorded = self._fill(log)
        head = log.head()
        log.save_snapshot(6, b"snap")
        log.set_checkpoint("consumer", 7)
        log.close()
        with open_log(log_url) as again:
            assert list(again.read_all()) == recorded
            assert again.head() == head
            assert again.latest_snapshot().data == b"snap"
            assert again.get_checkpoint("consumer") == 7
            (event,) = again.append("stream-0", [NewEvent("after", {})], expected_version=4)
            assert event.position == head.position + 1 and event.prev_hash == head.hash
            assert again.verify().ok

    def test_a_second_handle_sees_appends_of_the_first(self, log, log_url):
        with open_log(log_url) as other:
            assert other.head().position == 0
            log.append("s", [NewEvent("a", {})])
            assert [e.type for e in other.read_all()] == ["a"]
            other.append("s", [NewEvent("b", {})], expected_version=1)
            assert log.stream_version("s") == 2
            assert [e.type for e in log.read_all()] == ["a", "b"]

    # -- snapshots and checkpoints --------------------------------------------------------

    def test_snapshots(self, log):
        assert log.latest_snapshot() is None
        self._fill(log)
        blob = bytes(range(256)) * 100
        log.save_snapshot(3, b"first")
        log.save_snapshot(9, blob)
        snap = log.latest_snapshot()
        assert snap.position == 9 and snap.data == blob
        assert snap.created_at.utcoffset().total_seconds() == 0

    def test_snapshot_at_a_position_is_the_newest_at_or_before_it(self, log):
        assert log.snapshot_at(100) is None
        self._fill(log)
        log.save_snapshot(3, b"first")
        log.save_snapshot(9, b"second")
        log.save_snapshot(9, b"second, again")
        assert log.snapshot_at(2) is None
        assert log.snapshot_at(3).data == log.snapshot_at(8).data == b"first"
        assert log.snapshot_at(8).position == 3
        assert log.snapshot_at(9).data == log.snapshot_at(10**12).data == b"second, again"
        assert log.latest_snapshot().data == b"second, again"

    def test_checkpoints(self, log):
        assert log.get_checkpoint("deployer") == 0
        log.set_checkpoint("deployer", 5)
        log.set_checkpoint("auditor", 2)
        log.set_checkpoint("deployer", 9)
        assert log.get_checkpoint("deployer") == 9
        assert log.get_checkpoint("auditor") == 2

    # -- hash chain -----------------------------------------------------------------------

    def test_hash_chain_links_every_event(self, log):
        recorded = self._fill(log)
        prev = GENESIS_HASH
        for event in log.read_all():
            assert event.prev_hash == prev
            assert event.hash == event_hash(event)
            prev = event.hash
        assert log.head() == Head(recorded[-1].position, recorded[-1].hash)
        result = log.verify()
        assert result.ok and result.checked == len(recorded) and result.head == log.head()

    def test_verify_against_an_expected_head_after_growth(self, log):
        self._fill(log)
        head = log.head()
        self._fill(log)
        assert log.verify(expected_head=head).ok
        assert log.verify(expected_head=(head.position, head.hash)).ok
        forged = Head(head.position, "f" * 64)
        result = log.verify(expected_head=forged)
        assert not result.ok and result.first_bad_position == head.position
        beyond = Head(log.head().position + 5, head.hash)
        assert not log.verify(expected_head=beyond).ok

    def _tampered(self, log, log_url, tamper) -> Any:
        self._fill(log)
        log.close()
        tamper(log_url)
        with open_log(log_url) as again:
            return again.verify()

    def test_verify_names_an_edited_payload(self, log, log_url):
        if not log.persistent:
            pytest.skip("tampering needs storage that outlives the handle")
        result = self._tampered(log, log_url, lambda url: self.tamper_edit_payload(url, 5, '{"s":1,"round":99}'))
        assert not result.ok and result.first_bad_position == 5 and result.checked == 4

    def test_verify_names_a_deleted_event(self, log, log_url):
        if not log.persistent:
            pytest.skip("tampering needs storage that outlives the handle")
        result = self._tampered(log, log_url, lambda url: self.tamper_delete(url, 7))
        assert not result.ok and result.first_bad_position == 7

    def test_verify_names_swapped_events(self, log, log_url):
        if not log.persistent:
            pytest.skip("tampering needs storage that outlives the handle")
        result = self._tampered(log, log_url, lambda url: self.tamper_swap(url, 4, 9))
        assert not result.ok and result.first_bad_position == 4

    # -- copying a log verbatim -----------------------------------------------------------

    def test_import_events_copies_verbatim(self, log):
        with open_log("memory://") as source:
            self._fill(source)
            source.append("x", [NewEvent("unicode", {"t": "ünï"}, actor="bob", metadata={"m": 1})])
            copied = log.import_events(source.read_all())
            assert copied == 13
            assert list(log.read_all()) == list(source.read_all())
            assert log.head() == source.head()
            assert log.stream_version("stream-2") == 4
        assert log.verify().ok
        log.append("stream-0", [NewEvent("next", {})], expected_version=4)
        assert log.verify().ok

    def test_import_refuses_events_that_do_not_continue_the_log(self, log):
        with open_log("memory://") as source:
            self._fill(source)
            events = list(source.read_all())
        with pytest.raises(InvalidEvent):
            log.import_events(events[1:])
        assert log.head().position == 0
        forged = events[0]._replace(payload={"forged": True})
        with pytest.raises(InvalidEvent):
            log.import_events([forged])
        assert log.head().position == 0

    # -- concurrent writers and a tailing reader -------------------------------------------

    def test_concurrent_writers_and_a_tailing_reader(self, log, log_url):
        if not (log.supports_concurrent_writers and log.shared_between_processes):
            pytest.skip("backend has no concurrent writers in several processes")
        writers, per_writer = 4, self.concurrent_events_per_writer
        total = writers * per_writer
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(writers)
        procs = [ctx.Process(target=_bulk_writer, args=(log_url, f"writer-{w}", per_writer, barrier))
                 for w in range(writers)]
        for p in procs:
            p.start()
        seen: list[int] = []
        deadline = time.monotonic() + 300
        with open_log(log_url) as reader:
            while len(seen) < total and time.monotonic() < deadline:
                batch = [e.position for e in reader.read_all(from_position=len(seen) + 1)]
                seen.extend(batch)
                if not batch:
                    if not any(p.is_alive() for p in procs) and reader.head().position == len(seen):
                        break
                    time.sleep(0.002)
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * writers
        assert seen == list(range(1, total + 1)), "the reader saw a gap, a duplicate or disorder"
        for w in range(writers):
            assert [e.payload["i"] for e in log.read_stream(f"writer-{w}")] == list(range(per_writer))
        assert log.verify().ok

    # -- fork ----------------------------------------------------------------------------

    def test_a_process_forked_while_threads_append_appends_and_reads(self, log):
        """
        A child forked while other threads of the parent are inside ``append`` (holding
        the log's locks, mid-transaction) must not inherit those locks held: it appends
        and reads within 5 s. Forked several times, so that some forks land mid-append.

        The parent's threads pause once the fork is done, until the child answers: four
        threads appending without a break keep SQLite's write lock almost always taken,
        and a child polling for it through its busy handler measured up to 1.7 s to get
        it on a quiet machine (over 5 s once in CI, on a loaded one) -- waiting its turn,
        not a lock it inherited, which would hang it for good, paused or not.
        """
        if not hasattr(os, "fork"):
            pytest.skip("no os.fork on this platform")
        stop, running = threading.Event(), threading.Event()
        running.set()
        errors: list[BaseException] = []

        def append_until_stopped(n: int) -> None:
            try:
                while not stop.is_set():
                    running.wait()
                    log.append(f"thread-{n}", [NewEvent("e", {"n": n})])
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=append_until_stopped, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        try:
            while log.head().position < 20 and not errors:
                time.sleep(0.001)
            for _ in range(5):
                answer = self._forked_child_appends_and_reads(log, forked=running.clear)
                running.set()
                assert answer == "ok", answer
        finally:
            stop.set()
            running.set()
            for thread in threads:
                thread.join(60)
        assert not errors, errors
        assert log.verify().ok

    @staticmethod
    def _forked_child_appends_and_reads(log: Any, forked: Any = None) -> str:
        """
        Fork; the child appends one event and reads it back, then exits; the parent calls
        ``forked()``, then waits 5 s for its answer ("ok"), else kills the child and
        reports that it hung.
        """
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: no pytest machinery from here on
            code = 1
            try:
                os.close(read_end)
                (event,) = log.append("child", [NewEvent("e", {"from": "child"})])
                found = [e.hash for e in log.read_all(from_position=event.position, limit=1)]
                os.write(write_end, b"ok" if found == [event.hash] else b"not read back")
                code = 0
            except BaseException as e:
                os.write(write_end, repr(e).encode()[:500])
            finally:
                os._exit(code)
        os.close(write_end)
        if forked is not None:
            forked()
        try:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                time.sleep(0.01)
            else:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return "the forked child hung for 5 s"
            return os.read(read_end, 1000).decode() or "the child said nothing"
        finally:
            os.close(read_end)
