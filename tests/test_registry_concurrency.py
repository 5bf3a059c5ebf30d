"""
Concurrent writers in several processes (PostgreSQL, MariaDB, SQLite, the file backend):
version numbers are never duplicated or skipped, and an alias's history stays one clean
chain.
"""

from __future__ import annotations

import multiprocessing
import random
import threading

import pytest

import eventreg
from eventreg import InvalidTransition, NotFound
from eventreg.domain.state import fold

PROCESSES = 4
VERSIONS_EACH = 50
PROMOTIONS_EACH = 25


@pytest.fixture(params=["postgres_url", "mysql_url", "sqlite_url", "file_url"], ids=["postgresql", "mariadb", "sqlite", "file"])
def shared_url(request):
    return request.getfixturevalue(request.param)


def _register_many(url: str, start, count: int) -> list[int]:
    with eventreg.open(url, artifacts="memory://unused", actor="writer", snapshot_every=0) as reg:
        start.wait(60)
        return [reg.register_version("iris", params={"i": i}, code=None).version for i in range(count)]


def _promote_many(url: str, start, count: int, seed: int) -> list[tuple[int, int | None, int]]:
    rng = random.Random(seed)
    moves = []
    with eventreg.open(url, artifacts="memory://unused", actor=f"promoter-{seed}", snapshot_every=0) as reg:
        versions = reg.get_model("iris").latest_version
        start.wait(60)
        for _ in range(count):
            if rng.random() < 0.25:
                try:
                    alias = reg.rollback("iris", alias="production", reason=f"rb by {seed}")
                except (InvalidTransition, NotFound):  # no earlier holder yet
                    continue
            else:
                alias = reg.promote("iris", rng.randint(1, versions), alias="production", reason=f"by {seed}")
            moves.append((alias.position, alias.previous, alias.version))
    return moves


def _run_in_processes(target, args_for) -> list:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        start = manager.Event()
        with ctx.Pool(PROCESSES) as pool:
            pending = [pool.apply_async(target, args_for(start, index)) for index in range(PROCESSES)]
            start.set()
            return [p.get(timeout=300) for p in pending]


def test_concurrent_register_version_numbers_each_version_exactly_once(shared_url):
    eventreg.open(shared_url, artifacts="memory://unused", actor="setup").close()  # create the schema once
    results = _run_in_processes(_register_many, lambda start, i: (shared_url, start, VERSIONS_EACH))
    numbers = sorted(n for result in results for n in result)
    assert numbers == list(range(1, PROCESSES * VERSIONS_EACH + 1))
    with eventreg.open(shared_url, artifacts="memory://unused", actor="check", snapshot_every=0) as reg:
        assert [v.version for v in reg.list_versions("iris")] == numbers
        assert reg.log.verify().ok
        assert fold(reg.log.read_all()) == reg._state


def test_concurrent_promotions_leave_a_clean_alias_chain(shared_url):
    with eventreg.open(shared_url, artifacts="memory://unused", actor="setup", snapshot_every=0) as reg:
        for _ in range(6):
            reg.register_version("iris", code=None)
    results = _run_in_processes(_promote_many, lambda start, i: (shared_url, start, PROMOTIONS_EACH, i))
    with eventreg.open(shared_url, artifacts="memory://unused", actor="check", snapshot_every=0) as reg:
        history = reg.alias_holders("iris", "production")
        assert history[0].previous is None
        for before, after in zip(history, history[1:]):
            assert after.previous == before.version, (before, after)
            assert after.position > before.position
        # every move is one a process was told about, exactly as told (a promotion to the
        # current holder writes nothing and returns the move that put it there)
        recorded = {(a.position, a.previous, a.version) for a in history}
        told = {move for result in results for move in result}
        assert told == recorded and len(recorded) == len(history)
        assert reg.get_model("iris").aliases["production"] == history[-1].version
        assert fold(reg.log.read_all()) == reg._state


def test_threads_sharing_one_registry_and_two_registries_on_one_log(memory_url):
    first = eventreg.open(memory_url, artifacts="memory://unused", actor="a")
    second = eventreg.open(memory_url, artifacts="memory://unused", actor="b")
    got: list[int] = []
    lock = threading.Lock()

    def work(reg):
        for _ in range(25):
            number = reg.register_version("iris", code=None).version
            with lock:
                got.append(number)

    threads = [threading.Thread(target=work, args=(reg,)) for reg in (first, first, second, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 101))
    assert first.list_versions("iris") == second.list_versions("iris")
