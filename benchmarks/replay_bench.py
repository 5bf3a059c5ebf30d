"""
Benchmark of replay, fast open and time travel on a registry of 1,000,000 events.

The log is a SQLite file built once (``--build``, batched appends, a few minutes) and
reused by later runs; its events are a realistic registry mix: models, versions with
params and metrics, tags, promotions and rollbacks, runs with metric curves. Measured:

- full replay: ``fold`` of every event into a fresh projection (events/s; target
  >= 200,000/s), reading from the log included and excluded;
- open time: ``eventreg.open`` with no snapshot (replays everything) and with a
  snapshot at the head (target < 1 s);
- ``as_of`` latency at the midpoint of the log (position and timestamp).

Usage::

    python benchmarks/replay_bench.py [--db /tmp/eventreg-replay-1m.db] [--events 1000000]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import eventreg
from eventreg.config import open_log
from eventreg.domain import events as ev
from eventreg.domain.codec import to_new_event
from eventreg.domain.events import MetricPoint
from eventreg import snapshots
from eventreg.domain.state import RegistryState, fold
from eventreg.timetravel import bulk

DEFAULT_DB = "/tmp/eventreg-replay-1m.db"
MODELS = 200
BATCH = 5_000


def _blocks(total: int):
    """
    ``(stream, [event objects])`` groups of a realistic registry, about ``total`` events.
    """
    stamp = datetime(2026, 1, 1, tzinfo=timezone.utc)
    made = 0
    versions = [0] * MODELS
    holders: list[list[int]] = [[] for _ in range(MODELS)]
    cycle = 0
    while made < total:
        m = cycle % MODELS
        name = f"model-{m:03d}"
        model_events: list = []
        if versions[m] == 0:
            model_events.append(ev.ModelCreated(model=name, description=f"model number {m}",
                                                tags={"team": f"team-{m % 7}"}))
        run_id = f"run-{cycle:08d}"
        experiment = f"exp-{m % 20}"
        run_events: list = [ev.RunStarted(run_id=run_id, experiment=experiment, name=f"trial {cycle}",
                                          tags={"kind": "train"}, environment={"python": "3.11.7"},
                                          code={"repo": "git@example.com:ml/models.git",
                                                "commit": f"{cycle:040x}", "dirty": False})]
        run_events.append(ev.RunParamsLogged(run_id=run_id, params={"lr": 0.01 * (1 + cycle % 5),
                                                                    "depth": 3 + cycle % 6, "seed": cycle}))
        for step in range(16):
            stamp += timedelta(milliseconds=250)
            run_events.append(ev.RunMetricsLogged(run_id=run_id, points=(
                MetricPoint(key="loss", value=1.0 / (step + 1), step=step, timestamp=stamp),
                MetricPoint(key="val_loss", value=1.1 / (step + 1), step=step, timestamp=stamp))))
        run_events.append(ev.RunFinished(run_id=run_id, status="FINISHED"))
        versions[m] += 1
        number = versions[m]
        model_events.append(ev.VersionRegistered(
            model=name, version=number, params={"lr": 0.01, "depth": 3 + cycle % 6},
            metrics=(MetricPoint(key="accuracy", value=0.8 + (cycle % 100) / 1000, step=None, timestamp=stamp),),
            tags={"stage": "candidate"}, data={"uri": f"s3://data/{name}.parquet", "digest": f"sha256:{cycle:064x}"},
            code={"repo": "git@example.com:ml/models.git", "commit": f"{cycle:040x}", "dirty": False},
            run_id=run_id, architecture={"flavor": "sklearn"}))
        model_events.append(ev.VersionTagSet(model=name, version=number, key="validated", value="yes"))
        model_events.append(ev.VersionMetricsLogged(model=name, version=number, points=(
            MetricPoint(key="auc", value=0.9, step=None, timestamp=stamp),)))
        stack = holders[m]
        model_events.append(ev.AliasPromoted(model=name, alias="staging", version=number,
                                             previous=number - 1 if number > 1 else None, reason="nightly"))
        if cycle % 3 == 0:
            model_events.append(ev.AliasPromoted(model=name, alias="production", version=number,
                                                 previous=stack[-1] if stack else None, reason="passed gate"))
            stack.append(number)
        if cycle % 30 == 0 and len(stack) > 1:
            model_events.append(ev.AliasRolledBack(model=name, alias="production", version=stack[-2],
                                                   previous=stack[-1], reason="latency regression"))
            stack.pop()
        yield f"experiment:{experiment}", ([ev.ExperimentCreated(experiment=experiment)] if cycle < 20 else [])
        yield f"run:{run_id}", run_events
        yield f"model:{name}", model_events
        made += len(run_events) + len(model_events) + (1 if cycle < 20 else 0)
        cycle += 1


def build(db: str, total: int) -> None:
    """
    Write about ``total`` events into a new SQLite log at ``db`` in large batches.
    """
    actors = ["alice", "bob", "ci-bot", "carol"]
    started = time.perf_counter()
    with open_log(f"sqlite:///{db}") as log:
        size = 0
        for index, (stream, items) in enumerate(_blocks(total)):
            if not items:
                continue
            actor = actors[index % len(actors)]
            log.append(stream, [to_new_event(e, actor=actor) for e in items])
            size += len(items)
            if size // 50_000 != (size - len(items)) // 50_000:
                print(f"  {size:,} events, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print(f"built {db} in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def _timed(function, repeat: int = 3, what: str = ""):
    best = float("inf")
    result = None
    for _ in range(repeat):
        result = None  # the previous run's result is not kept alive during the next
        gc.collect()
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    if what:
        print(f"  {what}: {best:.2f} s", file=sys.stderr, flush=True)
    return best, result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=DEFAULT_DB, help="the SQLite log (built if missing)")
    parser.add_argument("--events", type=int, default=1_000_000, help="events to build")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args(argv)
    if not Path(args.db).exists():
        build(args.db, args.events)
    if args.build_only:
        return
    url = f"sqlite:///{args.db}"
    rows = []
    load_before = os.getloadavg()[0]
    with open_log(url) as log:
        head = log.head()
        gc_read_s, events = _timed(lambda: list(log.read_all()), repeat=1, what="read, GC on")
        rows.append(("read_all into a list, GC on", f"{gc_read_s:.2f} s", f"{head.position / gc_read_s:,.0f} events/s"))
        events = None
        read_s, events = _timed(lambda: _read(log), repeat=1, what="read, GC paused")
        rows.append(("read_all, GC paused (as a registry replays)", f"{read_s:.2f} s",
                     f"{head.position / read_s:,.0f} events/s"))
        gc_s, _ = _timed(lambda: _fold(events), repeat=1, what="fold, GC on")
        _ = None  # that projection is not kept alive during the next measurement
        rows.append(("full replay (fold, in memory, GC on)", f"{gc_s:.2f} s", f"{head.position / gc_s:,.0f} events/s"))
        fold_s, state = _timed(lambda: _fold(events, paused=True), repeat=3, what="fold, GC paused")
        rows.append(("full replay (fold, in memory, GC paused)", f"{fold_s:.2f} s",
                     f"{head.position / fold_s:,.0f} events/s, best of 3 (target >= 200,000)"))
        events.clear()
        blob = snapshots.dump(state, "bench")
        fast_s, loaded = _timed(lambda: snapshots.load(blob, "bench"), repeat=1, what="fast snapshot load")
        rows.append(("load projection, eventreg/snapshots.py", f"{fast_s:.2f} s",
                     f"{len(blob) / 1e6:.1f} MB compressed; records decoded when first read"))
        every_s, _ = _timed(lambda: _decode_everything(snapshots.load(blob, "bench")), repeat=1,
                            what="load and decode every record")
        rows.append(("  load and decode every record", f"{every_s:.2f} s", "(what a search over all versions pays once)"))
        assert loaded == state
        state = loaded = blob = None  # free the memory before opening
        total_s = read_s + fold_s
        rows.append(("full replay (read + fold)", f"{total_s:.2f} s", f"{head.position / total_s:,.0f} events/s"))
        # open without a snapshot: hide them by opening with snapshots ignored
    artifacts = "memory://bench-artifacts"
    no_snap_s, _ = _timed(lambda: _open_without_snapshot(url, artifacts), repeat=1, what="open without snapshot")
    rows.append(("open, no snapshot", f"{no_snap_s:.2f} s", ""))
    with eventreg.open(url, artifacts=artifacts, actor="bench") as reg:
        save_s, _ = _timed(reg.save_snapshot, repeat=1, what="save snapshot")
        size = len(reg.log.latest_snapshot().data)
    rows.append(("save a snapshot at head", f"{save_s:.2f} s", f"{size / 1e6:.1f} MB compressed"))
    snap_s, _ = _timed(lambda: _open(url, artifacts), repeat=2, what="open with snapshot")
    rows.append(("open, snapshot at head", f"{snap_s:.3f} s", "target < 1 s"))
    first_s, _ = _timed(lambda: _open(url, artifacts, first_query=True), repeat=2, what="open and first query")
    rows.append(("  open and get_version(model, 'production')", f"{first_s:.3f} s", ""))
    with eventreg.open(url, artifacts=artifacts, actor="bench") as reg:
        middle = head.position // 2
        pos_s, view = _timed(lambda: reg.as_of(middle), repeat=1, what="as_of position")
        rows.append((f"as_of(position {middle:,})", f"{pos_s:.2f} s", ""))
        when = next(iter(reg.log.read_all(from_position=middle, limit=1))).recorded_at
        time_s, _ = _timed(lambda: reg.as_of(when), repeat=1, what="as_of time")
        rows.append((f"as_of({when:%Y-%m-%dT%H:%M:%S}Z)", f"{time_s:.2f} s", ""))
        model = reg.as_of(middle).get_model("model-000")
        rows.append(("  (check: model-000 at midpoint)", f"version {model.latest_version}", f"aliases {model.aliases}"))
    _print_table(head.position, rows, (load_before, os.getloadavg()[0]))


def _read(log) -> list:
    with bulk():
        return list(log.read_all())


def _fold(events, paused: bool = False) -> RegistryState:
    with bulk() if paused else contextlib.nullcontext():
        return fold(events)


def _open(url: str, artifacts: str, first_query: bool = False) -> None:
    reg = eventreg.open(url, artifacts=artifacts, actor="bench", snapshot_every=0)
    if first_query:
        reg.get_version("model-000", "production")
    reg.close()


def _decode_everything(state: RegistryState) -> int:
    return sum(len(list(m.versions.values())) for m in state.models.values()) + len(list(state.runs.values()))


def _open_without_snapshot(url: str, artifacts: str) -> None:
    from eventreg.registry import Registry

    log = open_log(url)
    log.latest_snapshot = lambda: None  # type: ignore[method-assign]
    reg = Registry(log, artifacts=artifacts, actor="bench", snapshot_every=0)
    reg.close()


def _print_table(events: int, rows: list[tuple[str, str, str]], load: tuple[float, float]) -> None:
    print(f"\nreplay benchmark: {events:,} events, SQLite, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, load average {load[0]:.1f} at the start and {load[1]:.1f} at the end\n")
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    print(f"{'measure':<{widths[0]}}  {'time':>{widths[1]}}  rate / note")
    for name, took, note in rows:
        print(f"{name:<{widths[0]}}  {took:>{widths[1]}}  {note}")


if __name__ == "__main__":
    main()
