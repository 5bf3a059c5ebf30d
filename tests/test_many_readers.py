"""
Many readers on one log (the workers of ``eventreg ui`` or ``mlflow server``): processes
that each keep a registry open and answer requests while other processes write catch up
before every answer, never go back in time, and end at the log's head with exactly the
projection a fresh replay of the log builds. The timings are benchmarks/readers_bench.py's.
"""

from __future__ import annotations

import multiprocessing
import pickle
import random
import time

import pytest

import eventreg
from eventreg import InvalidTransition, NotFound
from eventreg.domain.state import fold

READERS = 4
WRITERS = 2
SECONDS = 5
MODELS = 4


@pytest.fixture(params=["postgres_url", "sqlite_url"], ids=["postgresql", "sqlite"])
def shared_url(request):
    return request.getfixturevalue(request.param)


def _writer(url: str, index: int, start, stop) -> int:
    rng = random.Random(index)
    commands = 0
    with eventreg.open(url, artifacts="memory://unused", actor=f"writer-{index}") as reg:
        start.wait(120)
        while not stop.is_set():
            model = f"model-{rng.randrange(MODELS)}"
            roll = rng.random()
            try:
                if roll < 0.4:
                    reg.register_version(model, params={"writer": index}, metrics={"accuracy": rng.random()},
                                         code=None)
                elif roll < 0.7:
                    reg.log_metrics(model, "latest", {"accuracy": rng.random()}, step=commands)
                elif roll < 0.9:
                    latest = reg.get_model(model).latest_version
                    reg.promote(model, rng.randint(1, latest), alias="production", reason=f"writer {index}")
                else:
                    reg.rollback(model, alias="production", reason=f"writer {index}")
            except (InvalidTransition, NotFound):  # no earlier holder to roll back to
                pass
            commands += 1
    return commands


def _reader(url: str, index: int, start, done) -> tuple[list[int], bool, tuple[int, str], bytes]:
    """
    Answer requests until ``done``; return the positions seen, whether every model's
    latest version only ever grew, and the final head and projection.
    """
    rng = random.Random(100 + index)
    reg = eventreg.open(url, artifacts="memory://unused", actor=f"reader-{index}", snapshot_every=0)
    latest = {f"model-{m}": 0 for m in range(MODELS)}
    monotonic = True
    positions = []
    start.wait(120)
    while not done.is_set():
        model = f"model-{rng.randrange(MODELS)}"
        kind = rng.randrange(3)
        if kind == 0:
            number = reg.get_model(model).latest_version
        elif kind == 1:
            number = reg.get_version(model, reg.get_alias(model, "production").version).version
            number = max(number, reg.get_model(model).latest_version)
        else:
            found = reg.search_versions(f"model = '{model}'", order_by="version DESC", limit=1)
            number = found[0].version
        monotonic = monotonic and number >= latest[model]
        latest[model] = max(latest[model], number)
        positions.append(reg.position)
        time.sleep(0.005)
    with reg._reading() as state:  # one last catch-up: the writers are done
        final = (state.position, state.last_hash), pickle.dumps(state)
    reg.close()
    return positions, monotonic, *final


def test_readers_catch_up_to_the_head_and_the_state_of_a_fresh_replay(shared_url):
    with eventreg.open(shared_url, artifacts="memory://unused", actor="setup") as reg:
        for m in range(MODELS):
            reg.register_version(f"model-{m}", metrics={"accuracy": 0.5}, code=None)
            reg.promote(f"model-{m}", 1, alias="production")
        opened_at = reg.position
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        start = manager.Barrier(READERS + WRITERS + 1)  # every process has its registry open
        stop, done = manager.Event(), manager.Event()
        with ctx.Pool(READERS + WRITERS) as pool:
            readers = [pool.apply_async(_reader, (shared_url, i, start, done)) for i in range(READERS)]
            writers = [pool.apply_async(_writer, (shared_url, i, start, stop)) for i in range(WRITERS)]
            start.wait(120)
            time.sleep(SECONDS)
            stop.set()
            commands = [w.get(timeout=300) for w in writers]
            done.set()
            results = [r.get(timeout=300) for r in readers]
    with eventreg.open(shared_url, artifacts="memory://unused", actor="check", snapshot_every=0) as reg:
        head = reg.head()
        fresh = fold(reg.log.read_all())
        assert reg.log.verify().ok
    assert sum(commands) > 0 and head.position > opened_at
    for positions, monotonic, final_head, state in results:
        assert monotonic, "a reader saw a model's latest version go down"
        assert positions == sorted(positions), "a reader's position went back"
        assert len(set(positions)) > 1, "the reader never saw the writers' events while they wrote"
        assert final_head == tuple(head)
        assert pickle.loads(state) == fresh


@pytest.fixture(params=["postgres_url", "mysql_url", "sqlite_url"], ids=["postgresql", "mariadb", "sqlite"])
def sql_url(request):
    return request.getfixturevalue(request.param)


def test_a_reader_sees_another_writers_events_at_its_next_request(sql_url):
    with eventreg.open(sql_url, artifacts="memory://x", actor="a") as first, \
            eventreg.open(sql_url, artifacts="memory://x", actor="b", snapshot_every=0) as second:
        first.register_version("m", code=None)
        first.promote("m", 1, alias="production")
        assert second.get_version("m", "production").version == 1
        assert second.log.unchanged_since(second.position)  # nothing new: the events are not read
        first.register_version("m", code=None)
        assert not second.log.unchanged_since(second.position)
        first.promote("m", 2, alias="production")
        assert second.get_version("m", "production").version == 2
        assert second.log.unchanged_since(second.position)


def test_a_reader_whose_connections_were_cut_reconnects(postgres_url):
    import sqlalchemy as sa

    with eventreg.open(postgres_url, artifacts="memory://x", actor="a", snapshot_every=0) as reader:
        with eventreg.open(postgres_url, artifacts="memory://x", actor="w") as writer:
            writer.register_version("m", code=None)
        assert reader.get_model("m").latest_version == 1
        engine = sa.create_engine(postgres_url)
        try:
            with engine.connect() as conn:  # the server ends every other session on the database
                conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        finally:
            engine.dispose()
        with eventreg.open(postgres_url, artifacts="memory://x", actor="w") as writer:
            writer.register_version("m", code=None)
        assert reader.get_model("m").latest_version == 2
        assert reader.get_model("m").latest_version == 2


def test_threads_reading_through_one_log_share_its_kept_connection_or_the_pool(postgres_url):
    import threading

    with eventreg.open(postgres_url, artifacts="memory://x", actor="w") as writer, \
            eventreg.open(postgres_url, artifacts="memory://x", actor="r", snapshot_every=0) as reader:
        for _ in range(20):
            writer.register_version("m", code=None)
        expected = [e.position for e in writer.log.read_all()]
        seen: list[list[int]] = []
        errors: list[BaseException] = []

        def read() -> None:
            try:
                for _ in range(30):  # each read takes the kept connection if free, else a pooled one
                    seen.append([e.position for e in reader.log.read_all()])
                    assert reader.get_model("m").latest_version == 20
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=read) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(seen) == 180 and all(positions == expected for positions in seen)
