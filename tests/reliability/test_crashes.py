"""
Crashes (issue 7, point 2): a writer killed or cut off mid-append leaves a sound log.

A writer process appends batches whose every event says which batch it belongs to, the
batch's size and its own index. It is killed with SIGKILL at a random moment (or its
database connection is terminated by the server), again and again. After each fault:

- the log opens again;
- every batch is whole: all its events, in order, at consecutive positions and stream
  versions, or none of them (no half event, no half batch);
- every append that had returned before the kill is there (nothing acknowledged is lost);
- ``verify()`` is ok;
- the next append succeeds.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import defaultdict

import pytest

from eventreg import open_log
from eventreg.log import NewEvent
from tests.reliability.workers import parse_report, spawn


@pytest.fixture(params=["sqlite_url", "file_url", "postgres_url", "mysql_url"],
                ids=lambda name: name.removesuffix("_url"))
def crash_url(request):
    return request.getfixturevalue(request.param)


def check_batches(log, acknowledged: set[str]) -> dict[str, int]:
    """
    Assert every crash-test batch in the log is whole and every acknowledged one is there.

    Returns:
        The number of events and batches found.
    """
    batches: dict[str, list] = defaultdict(list)
    for event in log.read_all():
        if event.type == "crash.test":
            batches[event.payload["batch"]].append(event)
    for batch_id, events in batches.items():
        size = events[0].payload["size"]
        assert [e.payload["index"] for e in events] == list(range(size)), f"half batch {batch_id}"
        assert all(e.payload["size"] == size for e in events)
        first = events[0]
        assert [e.position for e in events] == list(range(first.position, first.position + size))
        assert {e.stream_id for e in events} == {first.stream_id}
        assert [e.stream_version for e in events] == list(
            range(first.stream_version, first.stream_version + size))
    lost = acknowledged - batches.keys()
    assert not lost, f"appends that had returned are missing after the crash: {sorted(lost)[:5]}"
    return {"events": sum(len(v) for v in batches.values()), "batches": len(batches)}


def _start_writer(url: str, seed: int, **kw):
    proc = spawn("crash_writer", url, seed, kw.get("max_batches", 10**6), kw.get("pause", 0.0))
    ready = proc.stdout.readline()
    if not ready.startswith(b"R "):
        proc.kill()
        _, err = proc.communicate(timeout=30)
        pytest.fail(f"writer did not start: {ready!r} {err.decode()[-2000:]}")
    return proc, ready.decode()


def test_kill_9_mid_append_never_leaves_half_a_batch(crash_url, budget, reliability_report):
    kills = budget.count(20 if crash_url.startswith(("sqlite", "file")) else 8)
    rng = random.Random(7)
    acknowledged: set[str] = set()
    mid_append = 0
    committed_mid_append = 0
    started_at = time.monotonic()
    for i in range(kills):
        proc, ready = _start_writer(crash_url, i)
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
        report = parse_report(ready + out.decode())
        assert not report["failed"], f"appends failed before the kill: {out.decode()[-500:]}"
        acknowledged.update(report["done"])
        in_flight = report["started"][-1] if report["started"] and (
            not report["done"] or report["done"][-1] != report["started"][-1]) else None
        with open_log(crash_url) as log:
            stats = check_batches(log, acknowledged)
            result = log.verify()
            assert result.ok, f"after kill {i}: {result}"
            if in_flight is not None:
                mid_append += 1
                committed_mid_append += any(e.payload.get("batch") == in_flight
                                            for e in log.read_all(from_position=max(1, result.checked - 10)))
            (after,) = log.append("after-crash", [NewEvent("crash.after", {"kill": i})])
            assert after.position == result.checked + 1
    reliability_report("kill-9", backend=crash_url.split(":", 1)[0], kills=kills, mid_append=mid_append,
                       committed_mid_append=committed_mid_append, seconds=round(time.monotonic() - started_at, 1),
                       **stats)
    # the kills must mostly land inside appends, or this test proves little
    assert mid_append >= kills // 2, f"only {mid_append} of {kills} kills landed inside an append"


# -- the server drops the connection mid-transaction ----------------------------------------


def _server_sessions(conn, postgres: bool):
    from sqlalchemy import text

    if postgres:
        rows = conn.execute(text(
            "SELECT pid, state FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).all()
    else:
        rows = conn.execute(text(
            "SELECT id, command FROM information_schema.processlist "
            "WHERE db = DATABASE() AND id <> CONNECTION_ID()")).all()
    return rows


def _terminate(conn, session_id: int, postgres: bool) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        if postgres:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": session_id})
        else:
            conn.execute(text(f"KILL CONNECTION {int(session_id)}"))
    except DBAPIError:  # the session ended on its own in between
        pass


@pytest.mark.parametrize("server", ["postgres_url", "mysql_url"], ids=["postgres", "mysql"])
def test_connection_dropped_mid_transaction(request, server, budget, reliability_report):
    from sqlalchemy import create_engine

    url = request.getfixturevalue(server)
    postgres = server == "postgres_url"
    drops = budget.count(15)
    rng = random.Random(11)
    proc, ready = _start_writer(url, 1000)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    states: dict[str, int] = defaultdict(int)
    try:
        with admin.connect() as conn:
            for _ in range(drops):
                time.sleep(rng.uniform(0.02, 0.15))
                for session_id, state in _server_sessions(conn, postgres):
                    states[str(state)] += 1
                    _terminate(conn, session_id, postgres)
        # the writer must get going again on its own: a new append returns after the last drop
        deadline = time.monotonic() + 30
        seen = ready
        os.set_blocking(proc.stdout.fileno(), False)
        marker = None
        while time.monotonic() < deadline:
            chunk = proc.stdout.read() or b""
            seen += chunk.decode()
            if marker is None:
                marker = len(parse_report(seen)["done"])
            elif len(parse_report(seen)["done"]) >= marker + 3:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"the writer did not recover after the connection was dropped: {seen[-800:]}")
    finally:
        proc.kill()
        out, err = proc.communicate(timeout=60)
        admin.dispose()
    report = parse_report(seen + out.decode())
    assert report["failed"], "no append saw the dropped connection; the test proved nothing"
    with open_log(url) as log:
        stats = check_batches(log, set(report["done"]))
        present = {e.payload["batch"] for e in log.read_all() if e.type == "crash.test"}
        assert log.verify().ok
        log.append("after-drop", [NewEvent("crash.after", {})])
        assert log.verify().ok
    reliability_report("connection-drop", backend="postgresql" if postgres else "mariadb", drops=drops,
                       failed_appends=len(report["failed"]),
                       failed_but_committed=len(set(report["failed"]) & present), session_states=dict(states), **stats)


def test_a_torn_tail_at_any_byte_is_never_read_and_the_next_append_is_clean(tmp_path, budget):
    """
    A crash while a batch is being written (power loss: any prefix of the bytes reached
    the disk) on the file backend: cut the last batch of three events at many byte
    offsets; each time the log opens with the events before it, verifies, and the next
    append lands right after them, readable by a fresh handle.
    """
    import shutil

    base = tmp_path / "base"
    with open_log(f"file://{base}") as log:
        for i in range(5):
            log.append(f"s-{i % 2}", [NewEvent("e", {"i": i})])
        head = log.head()
    before = (base / "events.jsonl").read_bytes()
    full = tmp_path / "full"
    shutil.copytree(base, full)
    with open_log(f"file://{full}") as log:
        log.append("s-9", [NewEvent("batch", {"k": k, "pad": "é" * 50}) for k in range(3)])
    tail = (full / "events.jsonl").read_bytes()[len(before):]
    rng = random.Random(5)
    newlines = [i + 1 for i, b in enumerate(tail) if b == ord("\n")][:-1]
    cuts = sorted(set(newlines + [1, len(tail) - 1] + rng.sample(range(1, len(tail)), budget.count(12, 120))))
    for cut in cuts:
        case = tmp_path / f"cut-{cut}"
        shutil.copytree(base, case)
        (case / "events.jsonl").write_bytes(before + tail[:cut])
        url = f"file://{case}"
        with open_log(url) as log:
            assert log.head() == head, f"cut at byte {cut}"
            assert [e.position for e in log.read_all()] == [1, 2, 3, 4, 5]
            assert log.read_stream("s-9") == []
            assert log.verify().ok
            (event,) = log.append("s-9", [NewEvent("after", {"cut": cut})])
            assert event.position == 6 and event.stream_version == 1
        with open_log(url) as again:
            assert [e.type for e in again.read_all()][-1] == "after"
            assert again.verify().ok
