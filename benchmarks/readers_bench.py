"""
Many readers on one log: reader processes that each hold an open registry and answer
requests while writer processes append, each request catching up incrementally first.

This is the shape of ``eventreg ui`` or ``mlflow server`` run with several workers on
one PostgreSQL log. Every reader process opens one :class:`eventreg.Registry` and
answers requests in a loop (``get_alias``, ``get_model``, ``get_version``,
``search_versions``, ``list_models``, picked at random); before each answer the registry
reads the events appended since its last request and folds them into its projection.
Meanwhile the writers register versions, log metrics, promote and roll back.

Measured per request: the catch-up (``Writer.catch_up``, timed by wrapping it: one per
request), how many events it folded, the answer after it, and the whole request. The
baselines come from the same run: the same requests after the writers have stopped (the
catch-up then finds nothing: the cost of asking), and a fresh ``eventreg.open`` plus the
answer (what a reader without a live projection pays per request). At the end each reader
catches up once more and sends its head and its projection; each must equal the log's
head and a fresh replay of the whole log (``RegistryState`` compares with ``==``), else
the script exits 1.

Usage::

    python benchmarks/readers_bench.py [--seconds 60] [--readers 8] [--writers 2]
                                       [--read-rate 50] [--write-rate 20] [--pooled N]
                                       [--backend postgresql|sqlite]

PostgreSQL: a new database on ``EVENTREG_PG_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``), dropped at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import pickle
import random
import statistics
import sys
import tempfile
import time
import uuid
from array import array
from pathlib import Path
from typing import Any

import eventreg
from eventreg.domain.state import fold
from eventreg.errors import InvalidTransition, NotFound

PG_ADMIN = os.environ.get("EVENTREG_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MODELS = 10
#: requests each reader answers after the writers stopped (the "nothing new" baseline)
IDLE_REQUESTS = 200
#: fresh opens timed at the end (the "no live projection" baseline)
FRESH_OPENS = 5


def _open(url: str, actor: str, **options: Any) -> eventreg.Registry:
    return eventreg.open(url, artifacts="memory://readers-bench", actor=actor, **options)


def seed(url: str) -> None:
    """
    Ten models with three versions each, ``production`` on version 2.
    """
    with _open(url, "setup") as reg:
        for m in range(MODELS):
            for v in range(3):
                reg.register_version(f"model-{m}", params={"lr": 0.01 * (v + 1), "depth": 3 + v},
                                     metrics={"accuracy": 0.7 + v / 20, "loss": 0.5 - v / 20}, code=None)
            reg.promote(f"model-{m}", 2, alias="production", reason="seed")


def request(reg: eventreg.Registry, rng: random.Random) -> Any:
    """
    One request a service answers: a read of the live registry, chosen at random.
    """
    model = f"model-{rng.randrange(MODELS)}"
    kind = rng.randrange(5)
    if kind == 0:
        return reg.get_alias(model, "production")
    if kind == 1:
        return reg.get_model(model)
    if kind == 2:
        return reg.get_version(model, "latest")
    if kind == 3:
        return reg.search_versions(f"model = '{model}' and metrics.accuracy >= 0.75",
                                   order_by="metrics.accuracy DESC", limit=10)
    return reg.list_models()


def paced(rng: random.Random, rate: float) -> Any:
    """
    Sleeps so that calls come ``rate`` times a second on average (a Poisson process; 0: no sleep).
    """
    due = [time.perf_counter()]

    def wait() -> None:
        if rate <= 0:
            return
        due[0] += rng.expovariate(rate)
        ahead = due[0] - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)
        else:
            due[0] = time.perf_counter()  # behind: don't catch up in a burst

    return wait


def writer_process(url: str, index: int, go: Any, stop: Any, rate: float, out: Any) -> None:
    """
    Register versions, log metrics, promote and roll back until ``stop`` is set.
    """
    rng = random.Random(1000 + index)
    commands = 0
    with _open(url, f"writer-{index}") as reg:  # a writer saves snapshots as a service would
        go.wait(120)
        wait = paced(rng, rate)
        while not stop.is_set():
            wait()
            model = f"model-{rng.randrange(MODELS)}"
            roll = rng.random()
            try:
                if roll < 0.4:
                    reg.register_version(model, params={"lr": rng.random(), "writer": index},
                                         metrics={"accuracy": rng.random(), "loss": rng.random()}, code=None)
                elif roll < 0.75:
                    latest = reg.get_model(model).latest_version
                    reg.log_metrics(model, latest, {"accuracy": rng.random(), "loss": rng.random()},
                                    step=commands)
                elif roll < 0.9:
                    latest = reg.get_model(model).latest_version
                    reg.promote(model, rng.randint(1, latest), alias=rng.choice(["production", "staging"]),
                                reason=f"writer {index}")
                else:
                    reg.rollback(model, alias="production", reason=f"writer {index} rolls back")
            except (InvalidTransition, NotFound):  # nothing to roll back to: a no-op request
                pass
            commands += 1
    out.put(("writer", index, commands))


def reader_process(url: str, index: int, pooled: bool, rate: float, ready: Any, go: Any, done: Any,
                   out: Any) -> None:
    """
    Answer requests until the writers are done, then :data:`IDLE_REQUESTS` more; send the
    samples, the head and the projection. ``pooled``: check for and read new events with
    pooled reads (ping, query, rollback), as before the log kept a connection for them.
    """
    rng = random.Random(index)
    reg = _open(url, f"reader-{index}", snapshot_every=0)  # a reader never appends (no snapshot on close)
    if pooled:  # as before the log kept a connection: every check and read a pooled read
        from eventreg.backends.sql_connections import NOT_RUN

        reg.log.unchanged_since = lambda position: False
        reg.log._kept.query = lambda *args, **kwargs: NOT_RUN
    writer = reg._writer
    plain_catch_up = writer.catch_up
    last: list[float] = [0.0, 0.0]

    def timed_catch_up() -> None:  # each request calls it once, under the registry's lock
        before = writer.state.position
        started = time.perf_counter()
        plain_catch_up()
        last[0] = time.perf_counter() - started
        last[1] = writer.state.position - before

    writer.catch_up = timed_catch_up
    opened_at = reg.position
    samples = {phase: (array("d"), array("d"), array("d")) for phase in ("live", "idle")}
    ready.put(index)
    go.wait(120)

    def one(phase: str) -> None:
        started = time.perf_counter()
        request(reg, rng)
        whole = time.perf_counter() - started
        catch_up, events, wholes = samples[phase]
        catch_up.append(last[0])
        events.append(last[1])
        wholes.append(whole)

    wait = paced(rng, rate)
    while not done.is_set():
        wait()
        one("live")
    for _ in range(IDLE_REQUESTS):
        wait()
        one("idle")
    with reg._reading() as state:  # caught up with everything the writers appended
        final = (state.position, state.last_hash, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
    reg.close()
    out.put(("reader", index, pooled, {phase: tuple(a.tobytes() for a in arrays) for phase, arrays in samples.items()},
             opened_at, final))


# -- the run ------------------------------------------------------------------------------


def fresh_database(backend: str) -> tuple[str, Any]:
    """
    A new empty log URL and a function that removes it.
    """
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="eventreg-readers-")
        path = Path(folder) / "registry.db"

        def remove() -> None:
            for item in Path(folder).iterdir():
                item.unlink()
            os.rmdir(folder)

        return f"sqlite:///{path}", remove
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"eventreg_readers_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()

    return sa.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False), drop


def run(url: str, *, seconds: float, readers: int, writers: int, read_rate: float, write_rate: float,
        pooled: int) -> dict[str, Any]:
    """
    Seed the log, run the readers and writers, collect what they sent.
    """
    seed(url)
    ctx = multiprocessing.get_context("spawn")
    ready, out = ctx.Queue(), ctx.Queue()
    go, stop, done = ctx.Event(), ctx.Event(), ctx.Event()
    procs = [ctx.Process(target=reader_process, args=(url, i, i < pooled, read_rate, ready, go, done, out))
             for i in range(readers)]
    procs += [ctx.Process(target=writer_process, args=(url, i, go, stop, write_rate, out)) for i in range(writers)]
    for p in procs:
        p.start()
    for _ in range(readers):
        ready.get(timeout=300)
    start_position = eventreg.open_log(url).head().position
    go.set()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    results: dict[str, Any] = {"readers": {}, "writers": {}, "start_position": start_position}
    while len(results["writers"]) < writers:
        kind, index, *rest = out.get(timeout=300)
        results[kind + "s"][index] = rest
    results["seconds"] = time.perf_counter() - started
    done.set()
    while len(results["readers"]) < readers:
        kind, index, *rest = out.get(timeout=600)
        results[kind + "s"][index] = rest
    for p in procs:
        p.join(60)
    return results


def percentiles(values: list[float]) -> tuple[float, float, float, float]:
    if not values:
        return (float("nan"),) * 4  # type: ignore[return-value]
    ordered = sorted(values)
    cut = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return ordered[len(ordered) // 2], cut[94], cut[98], ordered[-1]


def fresh_open_baseline(url: str) -> list[float]:
    """
    Seconds to open the registry and answer one request, :data:`FRESH_OPENS` times.
    """
    rng = random.Random(7)
    times = []
    for _ in range(FRESH_OPENS):
        started = time.perf_counter()
        with _open(url, "baseline", snapshot_every=0) as reg:
            request(reg, rng)
        times.append(time.perf_counter() - started)
    return times


def check(url: str, results: dict[str, Any]) -> tuple[list[str], float, int]:
    """
    Compare every reader's head and projection with the log's head and a fresh replay.
    """
    log = eventreg.open_log(url)
    try:
        head = log.head()
        started = time.perf_counter()
        fresh = fold(log.read_all())
        replay = time.perf_counter() - started
    finally:
        log.close()
    problems = []
    for index, (_, _, opened_at, (position, last_hash, state_bytes)) in sorted(results["readers"].items()):
        if (position, last_hash) != tuple(head):
            problems.append(f"reader {index}: head {position}:{last_hash[:12]}, the log's {head[0]}:{head[1][:12]}")
        elif pickle.loads(state_bytes) != fresh:
            problems.append(f"reader {index}: projection differs from a fresh replay")
    return problems, replay, head[0]


def _columns(readers: list[Any]) -> dict[str, list[list[float]]]:
    """
    The samples of ``readers`` by phase: catch-up seconds, events caught up, whole seconds.
    """
    per_phase: dict[str, list[list[float]]] = {"live": [[], [], []], "idle": [[], [], []]}
    for _, arrays, _, _ in readers:
        for phase, raw in arrays.items():
            for column, blob in zip(per_phase[phase], raw):
                column.extend(array("d", blob))
    return per_phase


def report(args: argparse.Namespace, results: dict[str, Any], fresh: list[float], problems: list[str],
           replay: float, head: int) -> None:
    readers = list(results["readers"].values())
    incremental = all(  # each reader folded each event once, by catch-ups, from where it opened
        sum(array("d", arrays["live"][1])) + sum(array("d", arrays["idle"][1])) == position - opened_at
        for _, arrays, opened_at, (position, *_) in readers)
    commands = sum(c for (c,) in results["writers"].values())
    appended = head - results["start_position"]
    seconds = results["seconds"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    requests = sum(len(array("d", arrays["live"][2])) for _, arrays, _, _ in readers)
    print(f"many readers on one {args.backend} log: {args.readers} readers ({args.read_rate:g} requests/s each), "
          f"{args.writers} writers ({args.write_rate:g} commands/s each), {seconds:.0f} s "
          f"(load average {load:.1f}, {os.cpu_count()} CPUs)")
    print(f"writers: {commands:,} commands, {appended:,} events appended ({appended / seconds:,.0f} events/s); "
          f"readers: {requests:,} requests ({requests / seconds:,.0f}/s)")
    print()
    print("| per request | p50 | p95 | p99 | max |")
    print("|---|---:|---:|---:|---:|")

    def row(name: str, values: list[float], scale: float = 1000.0, unit: str = " ms") -> None:
        cells = " | ".join(f"{v * scale:,.2f}{unit}" if unit else f"{v:,.0f}" for v in percentiles(values))
        print(f"| {name} | {cells} |")

    groups = [("", [r for r in readers if not r[0]]), (" (pooled reads)", [r for r in readers if r[0]])]
    p95s = {}
    for suffix, members in groups:
        if not members:
            continue
        columns = _columns(members)
        live_catch, live_events, live_whole = columns["live"]
        idle_catch, _, idle_whole = columns["idle"]
        row(f"catch-up, writers running{suffix}", live_catch)
        row(f"events caught up, writers running{suffix}", live_events, 1.0, "")
        row(f"answer after the catch-up{suffix}", [w - c for w, c in zip(live_whole, live_catch)])
        row(f"whole request, writers running{suffix}", live_whole)
        row(f"catch-up, nothing new{suffix}", idle_catch)
        row(f"whole request, nothing new{suffix}", idle_whole)
        p95s[suffix] = percentiles(live_catch)[1], percentiles(idle_catch)[1]
    row("fresh open + answer (baseline)", fresh)
    print()
    for suffix, (p95, idle) in p95s.items():
        print(f"p95 catch-up per request{suffix}: {p95 * 1000:.2f} ms ({idle * 1000:.2f} ms when nothing is new); "
              f"the median fresh open costs {statistics.median(fresh) / p95:,.0f}x it")
    if len(p95s) == 2:
        (mine, _), (pooled, _) = p95s[""], p95s[" (pooled reads)"]
        print(f"p95 catch-up, pooled reads / kept connection: {pooled / mine:.1f}x")
    print(f"each reader folded every event once, by the catch-ups of its requests: {incremental}")
    print(f"fresh replay of the whole log ({head:,} events): {replay * 1000:.0f} ms")
    if problems:
        print("CONVERGENCE FAILED:")
        for problem in problems:
            print("  " + problem)
    else:
        print(f"convergence: all {args.readers} readers at the log's head (position {head:,}) "
              f"with a projection equal to a fresh replay")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the writers write (default 60)")
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--read-rate", type=float, default=50.0,
                        help="requests per second each reader answers, on average (default 50; 0: flat out)")
    parser.add_argument("--write-rate", type=float, default=20.0,
                        help="commands per second each writer sends, on average (default 20; 0: flat out)")
    parser.add_argument("--pooled", type=int, default=0, metavar="N",
                        help="N of the readers check for and read new events with pooled reads, as before "
                             "the log kept a connection for them (a same-run comparison)")
    args = parser.parse_args(argv)
    url, remove = fresh_database(args.backend)
    try:
        results = run(url, seconds=args.seconds, readers=args.readers, writers=args.writers, read_rate=args.read_rate,
                      write_rate=args.write_rate, pooled=args.pooled)
        fresh = fresh_open_baseline(url)
        problems, replay, head = check(url, results)
        report(args, results, fresh, problems, replay, head)
    finally:
        remove()
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
