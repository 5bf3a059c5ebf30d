"""
Subscriptions: a durable consumer sees every new event once, in order, across restarts.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import eventreg
from eventreg import ValidationError

ROOT = Path(__file__).resolve().parent.parent

CONSUMER = textwrap.dedent("""
    import os, sys
    import eventreg

    url, out, stop = sys.argv[1:4]
    reg = eventreg.open(url, artifacts="memory://consumer", actor="deployer", snapshot_every=0)

    def handle(event):
        with open(out, "a") as f:
            f.write(f"{event.position} {event.type} {event.payload['version']}\\n")
            f.flush()
            os.fsync(f.fileno())

    reg.subscribe("deployer", handle, types=["alias.promoted", "alias.rolled_back"],
                  poll_interval=0.02, stop=lambda: os.path.exists(stop), timeout=120)
    reg.close()
""")


def _start_consumer(url: str, out: Path, stop: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CONSUMER, url, str(out), str(stop)], cwd=ROOT)


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _seen(out: Path) -> list[str]:
    return out.read_text().splitlines() if out.exists() else []


@pytest.mark.parametrize("url_fixture", ["sqlite_url", "file_url", "postgres_url", "mysql_url"],
                         ids=["sqlite", "file", "postgresql", "mysql"])
def test_a_consumer_in_another_process_sees_each_promotion_once_in_order_across_a_restart(
        request, url_fixture, tmp_path):
    url = request.getfixturevalue(url_fixture)
    out, stop = tmp_path / "seen.txt", tmp_path / "stop"
    with eventreg.open(url, artifacts=f"file://{tmp_path / 'a'}", actor="ci") as reg:
        for _ in range(4):
            reg.register_version("iris", code=None)
        reg.promote("iris", 1, alias="production")  # before the consumer ever ran: delivered too
        consumer = _start_consumer(url, out, stop)
        try:
            for version in (2, 3, 4):
                reg.promote("iris", version, alias="production", reason="while the consumer runs")
                reg.set_version_tag("iris", version, "seen", "no")  # not subscribed to
            _wait_for(lambda: len(_seen(out)) == 4)
            stop.touch()
            assert consumer.wait(30) == 0
            stop.unlink()
            reg.rollback("iris", alias="production", reason="while the consumer is down")
            reg.promote("iris", 1, alias="staging")
            consumer = _start_consumer(url, out, stop)
            reg.rollback("iris", alias="production", reason="after the restart")
            reg.promote("iris", 4, alias="production", force=True)
            _wait_for(lambda: len(_seen(out)) == 8)
            time.sleep(0.2)  # nothing more arrives
        finally:
            stop.touch()
            consumer.wait(30)
        expected = [f"{e.position} {e.type} {e.version}"
                    for e in reg.history(types=["alias.promoted", "alias.rolled_back"])]
        assert _seen(out) == expected
        assert reg.log.get_checkpoint("deployer") == reg.head().position


def test_events_after_the_checkpoint_are_delivered_in_order(memory_url, tmp_path):
    with eventreg.open(memory_url, artifacts="memory://a", actor="ci") as reg:
        reg.register_version("iris", code=None)
        reg.register_version("iris", code=None)
        seen = []
        assert reg.subscribe("all", seen.append, timeout=0) == 3
        assert [e.position for e in seen] == [1, 2, 3]
        assert reg.subscribe("all", seen.append, timeout=0) == 0
        reg.promote("iris", 2, alias="production")
        assert reg.subscribe("all", seen.append, timeout=0, batch=1) == 1
        assert [e.position for e in seen] == [1, 2, 3, 4]
        assert reg.log.get_checkpoint("all") == 4


def test_a_failing_handler_gets_the_event_again(memory_url):
    with eventreg.open(memory_url, artifacts="memory://a", actor="ci") as reg:
        for _ in range(3):
            reg.register_version("iris", code=None)
        calls = []

        def flaky(event):
            calls.append(event.position)
            if event.position == 3 and calls.count(3) == 1:
                raise RuntimeError("deploy failed")

        with pytest.raises(RuntimeError, match="deploy failed"):
            reg.subscribe("deployer", flaky, timeout=0)
        assert reg.log.get_checkpoint("deployer") == 2
        reg.subscribe("deployer", flaky, timeout=0)
        assert calls == [1, 2, 3, 3, 4]


def test_subscribe_runs_until_stopped_and_picks_up_new_events(memory_url):
    with eventreg.open(memory_url, artifacts="memory://a", actor="ci") as reg:
        reg.register_version("iris", code=None)
        seen, stop = [], threading.Event()
        thread = threading.Thread(target=reg.subscribe, args=("watcher", seen.append),
                                  kwargs={"types": ["alias.promoted"], "poll_interval": 0.01, "stop": stop})
        thread.start()
        reg.promote("iris", 1, alias="production")
        _wait_for(lambda: len(seen) == 1)
        stop.set()
        thread.join(5)
        assert not thread.is_alive() and seen[0].type == "alias.promoted"
        started = time.monotonic()
        assert reg.subscribe("other", seen.append, types=["model.archived"], poll_interval=0.01, timeout=0.1) == 0
        assert 0.1 <= time.monotonic() - started < 10
        assert reg.log.get_checkpoint("other") == reg.head().position


def test_subscribe_rejects_bad_arguments(memory_url):
    with eventreg.open(memory_url, artifacts="memory://a", actor="ci") as reg:
        with pytest.raises(ValidationError, match="unknown event type"):
            reg.subscribe("x", print, types=["alias.moved"], timeout=0)
        with pytest.raises(ValidationError, match="consumer"):
            reg.subscribe("", print, timeout=0)
        with pytest.raises(ValidationError, match="handler"):
            reg.subscribe("x", None, timeout=0)
        with pytest.raises(ValidationError, match="stop"):
            reg.subscribe("x", print, stop=True)
