"""
Scale benchmark: does an open registry's memory and latency stay flat as metric points grow?

For each backend (SQLite file, PostgreSQL in its own database) and each size it builds a
log of 100,000 versions (100 models, an alias moved every 10 versions) and the given
number of run metric points (runs of 100,000 points each, key ``loss``, 100 points an
event, written with batched appends), saves a snapshot, then measures in a fresh process:

- open time from the snapshot: ``eventreg.open`` once eventreg, the backend and its
  driver are imported (what a running service pays; the imports are timed apart), the
  snapshot's decode alone, and the process's RSS once open;
- ``get_version(model, "production")`` and ``search_versions`` latency (median); and
  again with every size's registry open in one process, the sizes taking turns call
  after call (``interleaved``): the ratio between sizes then does not depend on how
  fast the machine happened to be while each process ran (a shared machine's speed
  was seen to swing by 1.7x from minute to minute, more than the 1.2x target);
- RSS after decoding every version and run (``search_versions()`` + ``search_runs()``);
- one run's metric history of 100,000 points, the first read (cold: read from the log)
  and the next (warm: from the cache), and its 500-bucket chart read (warm, and cold:
  the median over three other runs). Chart buckets are cut with numpy, which a process
  imports at its first chart read: that import is timed apart.

It prints one table per backend with each size's ratio to the first (smallest) size,
measured in the same run, next to the targets of issue 21. The databases it builds are
deleted at the end unless ``--keep``; those ``--reuse`` measures are left as they are.
100M points take several GB per backend and a long time to build: check ``df -h``
first and run it in the background, e.g.::

    nohup python benchmarks/scale_bench.py --sizes 1M,10M,100M > scale.log 2>&1 &

Usage::

    python benchmarks/scale_bench.py [--sizes 1M,10M] [--backends sqlite,postgresql] [--quick]
        [--dir DIR] [--keep] [--reuse] [--rounds 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PG_ADMIN = os.environ.get("EVENTREG_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RUN_POINTS = 100_000  # points of each run (all of key "loss")
PER_EVENT = 100  # points per run.metrics_logged event
BATCH = 1_000  # events per append

#: measure -> (target as text, check(ratio or value) -> bool, "ratio" or "value")
TARGETS = {
    "open RSS (MB)": "growth < 10%",
    "full-decode RSS (MB)": "<= 150 MB",
    "snapshot open (s)": "< 0.5 s",
    "snapshot open CPU (s)": "",
    "imports (s)": "",
    "snapshot decode (s)": "",
    "snapshot size (MB)": "",
    "get_version(alias) (ms)": "",
    "search_versions (ms)": "",
    "get_version(alias), interleaved (ms)": "<= 1.2x",
    "search_versions, interleaved (ms)": "<= 1.2x",
    "history 100k cold (ms)": "< 50 ms",
    "history 100k cold CPU (ms)": "",
    "history 100k warm (ms)": "< 50 ms",
    "buckets warm (ms)": "< 20 ms",
    "buckets cold (ms)": "< 20 ms",
    "buckets cold CPU (ms)": "",
    "numpy import, first chart read only (ms)": "",
}


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _size(text: str) -> int:
    text = text.strip().upper()
    factor = {"K": 1_000, "M": 1_000_000, "G": 1_000_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("KMG")) * factor)


def _label(n: int) -> str:
    for factor, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if n >= factor and n % factor == 0:
            return f"{n // factor}{suffix}"
    return str(n)


# -- building ----------------------------------------------------------------------------------


def _version_events(models: int, versions: int, runs: int):
    from eventreg.domain import events as ev
    from eventreg.domain.codec import to_new_event
    from eventreg.domain.events import MetricPoint

    stamp = datetime(2026, 1, 1, tzinfo=timezone.utc)
    per_model = versions // models
    for m in range(models):
        name = f"model-{m:04d}"
        items = [ev.ModelCreated(model=name, description=f"model {m}", tags={"team": f"t{m % 7}"})]
        for v in range(1, per_model + 1):
            items.append(ev.VersionRegistered(
                model=name, version=v, params={"lr": 0.01, "depth": v % 7},
                metrics=(MetricPoint(key="accuracy", value=0.8 + v / (10 * per_model), step=None, timestamp=stamp),),
                tags={"stage": "candidate"}, data={"uri": f"s3://data/{name}.parquet"},
                run_id=f"run-{(m * per_model + v) % max(runs, 1):08d}"))
            if v % 10 == 0:
                items.append(ev.AliasPromoted(model=name, alias="production", version=v,
                                              previous=v - 10 if v > 10 else None, reason="gate"))
        yield f"model:{name}", [to_new_event(e, actor="builder") for e in items]


def _run_events(run: int, points: int):
    """
    The events of run ``run``: started, ``points`` points of ``loss`` (columns, as the codec
    writes them, built directly: the builder's time goes to the log), finished.
    """
    from eventreg.domain import events as ev
    from eventreg.domain.codec import to_new_event
    from eventreg.log import NewEvent, format_timestamp

    run_id = f"run-{run:08d}"
    yield to_new_event(ev.RunStarted(run_id=run_id, experiment="exp", name=f"trial {run}",
                                     tags={"kind": "train"}, environment={"python": "3.11.7"}, code=None),
                       actor="builder")
    start = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=run)
    for first in range(0, points, PER_EVENT):
        steps = list(range(first, min(points, first + PER_EVENT)))
        columns = {"key": "loss", "value": [1.0 / (step + 1) + (step % 7) / 100 for step in steps], "step": steps,
                   "timestamp": format_timestamp(start + timedelta(milliseconds=first))}
        yield NewEvent("run.metrics_logged", {"run_id": run_id, "points": columns},
                       schema_version=ev.RunMetricsLogged.schema_version, actor="builder")
    yield to_new_event(ev.RunFinished(run_id=run_id, status="FINISHED"), actor="builder")


def build(url: str, *, models: int, versions: int, points: int) -> None:
    """
    Write the benchmark's log at ``url`` (an empty database) with batched appends, printing progress.
    """
    from eventreg.config import open_log
    from eventreg.domain import events as ev
    from eventreg.domain.codec import to_new_event

    runs = max(1, -(-points // RUN_POINTS))
    options = {"sqlite_synchronous": "OFF"} if url.startswith("sqlite") else {}
    started = last = time.perf_counter()
    written = 0
    with open_log(url, **options) as log:
        log.append("experiment:exp", [to_new_event(ev.ExperimentCreated(experiment="exp"), actor="builder")])
        for stream, items in _version_events(models, versions, runs):
            for i in range(0, len(items), BATCH):
                log.append(stream, items[i:i + BATCH])
        for run in range(runs):
            batch = []
            per_run = min(RUN_POINTS, points - run * RUN_POINTS)
            for event in _run_events(run, per_run):
                batch.append(event)
                if len(batch) >= BATCH:
                    log.append(f"run:run-{run:08d}", batch)
                    batch = []
            if batch:
                log.append(f"run:run-{run:08d}", batch)
            written += per_run
            now = time.perf_counter()
            if now - last >= 15 or run == runs - 1:
                last = now
                rate = written / (now - started)
                print(f"  {url.rsplit('/', 1)[-1]}: {written:,} of {points:,} points "
                      f"({rate:,.0f}/s, {(points - written) / rate / 60:.1f} min left)", flush=True)


def _fresh_postgres(name: str) -> tuple[str, object]:
    import psycopg

    admin = psycopg.connect(PG_ADMIN.replace("postgresql+psycopg://", "postgresql://"), autocommit=True,
                            connect_timeout=3)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


# -- measuring (each in a fresh process) -------------------------------------------------------


def snapshot_worker(url: str) -> None:
    import eventreg

    start = time.perf_counter()
    with eventreg.open(url, artifacts="memory://bench", actor="bench", snapshot_every=0) as reg:
        folded = time.perf_counter() - start
        reg.save_snapshot()
    print(json.dumps({"fold": folded}))


def _median_ms(call, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _load_driver(url: str) -> None:
    """
    Import what opening ``url`` imports the first time (the backend, its driver and, for
    PostgreSQL, SQLAlchemy's dialect) by opening and closing the log alone: a long-running
    process (a service, a notebook) pays this once. The snapshot is not read.
    """
    from eventreg import open_log

    open_log(url).close()


def measure_worker(url: str, models: int) -> None:
    before = _rss_mb()
    start = time.perf_counter()
    import eventreg

    _load_driver(url)
    imports_s = time.perf_counter() - start
    imported = _rss_mb()
    start, cpu = time.perf_counter(), time.process_time()
    reg = eventreg.open(url, artifacts="memory://bench", actor="bench", snapshot_every=0)
    opened_s, opened_cpu = time.perf_counter() - start, time.process_time() - cpu
    gc.collect()
    out = {"snapshot open (s)": opened_s, "snapshot open CPU (s)": opened_cpu, "imports (s)": imports_s, "snapshot position": reg._snapshot_position,
           "position": reg.position, "rss_before_import": before, "rss_import": imported,
           "open RSS (MB)": _rss_mb()}
    from eventreg import snapshots

    blob = reg.log.latest_snapshot().data
    start = time.perf_counter()
    snapshots.load(blob, eventreg.__version__)  # the snapshot alone: no connection, no catch-up
    out["snapshot decode (s)"] = time.perf_counter() - start
    out["snapshot size (MB)"] = len(blob) / 1e6
    del blob
    gc.collect()
    model = f"model-{models // 2:04d}"
    reg.get_version(model, "production")
    out["get_version(alias) (ms)"] = _median_ms(lambda: reg.get_version(model, "production"), 500)
    query = f"model = '{model}' and metrics.accuracy > 0.85"
    reg.search_versions(query)
    out["search_versions (ms)"] = _median_ms(lambda: reg.search_versions(query), 50)
    out["versions"] = len(reg.search_versions())  # decodes every version
    out["runs"] = len(reg.search_runs())  # and every run
    gc.collect()
    out["full-decode RSS (MB)"] = _rss_mb()
    start, cpu = time.perf_counter(), time.process_time()
    points = reg.get_run_metric_history("run-00000000", "loss")
    out["history 100k cold (ms)"] = (time.perf_counter() - start) * 1000
    out["history 100k cold CPU (ms)"] = (time.process_time() - cpu) * 1000
    out["history points"] = len(points)
    out["history 100k warm (ms)"] = _median_ms(lambda: reg.get_run_metric_history("run-00000000", "loss"), 5)
    start = time.perf_counter()
    import numpy  # noqa: F401  what a process's first chart read imports (once)

    out["numpy import, first chart read only (ms)"] = (time.perf_counter() - start) * 1000
    time.sleep(0.5)  # numpy's BLAS threads spin for about 0.1 s after the import: a later read does not meet them
    out["buckets warm (ms)"] = _median_ms(lambda: reg.get_run_metric_buckets("run-00000000", "loss"), 5)
    others = [f"run-{n:08d}" for n in range(1, min(out["runs"], 4))]  # up to 3 runs not read yet
    walls, cpus = [], []
    for other in others:
        start, cpu = time.perf_counter(), time.process_time()
        reg.get_run_metric_buckets(other, "loss")
        walls.append((time.perf_counter() - start) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    if others:
        out["buckets cold (ms)"], out["buckets cold CPU (ms)"] = statistics.median(walls), statistics.median(cpus)
    reg.close()
    out["load average"] = os.getloadavg()[0]
    print(json.dumps(out))


def latency_worker(models: int, *urls: str) -> None:
    """
    ``get_version(alias)`` and ``search_versions`` on each registry of ``urls``, all open
    in this process, the registries taking turns (60 turns): the median of each.
    """
    import eventreg

    regs = [eventreg.open(url, artifacts="memory://bench", actor="bench", snapshot_every=0) for url in urls]
    model = f"model-{models // 2:04d}"
    query = f"model = '{model}' and metrics.accuracy > 0.85"
    times: list[dict[str, list[float]]] = [{"alias": [], "search": []} for _ in regs]
    for reg in regs:
        reg.search_versions(query)
    for _ in range(60):
        for reg, found in zip(regs, times):
            start = time.perf_counter()
            for _ in range(100):
                reg.get_version(model, "production")
            found["alias"].append((time.perf_counter() - start) * 10)
            start = time.perf_counter()
            reg.search_versions(query)
            found["search"].append((time.perf_counter() - start) * 1000)
    for reg in regs:
        reg.close()
    print(json.dumps([{"get_version(alias), interleaved (ms)": statistics.median(found["alias"]),
                       "search_versions, interleaved (ms)": statistics.median(found["search"])} for found in times]))


def _worker(*args: str) -> Any:
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    done = subprocess.run([sys.executable, __file__, "--worker", *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"worker {args[0]} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the table -------------------------------------------------------------------------------


def table(backend: str, results: dict[int, dict]) -> list[str]:
    sizes = list(results)
    base = results[sizes[0]]
    head = f"{backend:<38}" + "".join(f"{_label(s) + ' points':>18}" for s in sizes) + "   target"
    lines = [head, "-" * len(head)]
    for measure, target in TARGETS.items():
        if measure not in base:
            continue
        cells = []
        for size in sizes:
            value = results[size].get(measure)
            if value is None:
                cells.append(f"{'-':>18}")
                continue
            ratio = value / base[measure] if base[measure] else float("nan")
            cells.append(f"{value:>9.2f} ({ratio:4.2f}x)" if size != sizes[0] else f"{value:>18.2f}")
        lines.append(f"{measure:<38}" + "".join(f"{c:>18}" for c in cells) + f"   {target}".rstrip())
    first, last = results[sizes[0]], results[sizes[-1]]
    growth = (last["open RSS (MB)"] - first["open RSS (MB)"]) / first["open RSS (MB)"] * 100
    lines.append(f"open RSS growth {_label(sizes[0])} -> {_label(sizes[-1])}: {growth:+.1f}% (target < 10%); "
                 f"RSS after import: {first['rss_import']:.0f} MB; load average (1 min, median of rounds): "
                 + ", ".join(f"{results[size].get('load average', float('nan')):.1f}" for size in sizes))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=None, help="metric points per log, e.g. 1M,10M,100M")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--versions", type=int, default=None, help="versions per log (default 100,000)")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--dir", default=None, help="where SQLite files go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--reuse", action="store_true", help="measure databases kept by --keep, not rebuild")
    parser.add_argument("--rounds", type=int, default=3, help="measuring rounds per size (medians)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, url, *rest = args.worker
        if kind == "latency":
            latency_worker(int(url), *rest)
        else:
            snapshot_worker(url) if kind == "snapshot" else measure_worker(url, int(rest[0]))
        return
    sizes = [_size(s) for s in (args.sizes or ("200k,1M" if args.quick else "1M,10M,100M")).split(",")]
    versions = args.versions or (5_000 if args.quick else 100_000)
    models = 100 if versions >= 10_000 else 10
    folder = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="eventreg-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"scale_bench: {versions:,} versions over {models} models; sizes "
          f"{', '.join(_label(s) for s in sizes)} points; databases in {folder} / PostgreSQL", flush=True)
    for backend in args.backends.split(","):
        urls: dict[int, str] = {}
        drops = []
        try:
            for size in sizes:
                name = f"eventreg_scale_{_label(size).lower()}_{versions}"
                if backend == "sqlite":
                    path = folder / f"{name}.db"
                    if not args.reuse:
                        for old in folder.glob(path.name + "*"):
                            old.unlink()
                    urls[size] = f"sqlite:///{path}"
                    if not args.reuse:  # what it did not build it does not delete (as on PostgreSQL)
                        drops.append(lambda path=path: [p.unlink() for p in path.parent.glob(path.name + "*")])
                elif args.reuse:
                    urls[size] = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
                else:
                    urls[size], drop = _fresh_postgres(name)
                    drops.append(drop)
                if not args.reuse:
                    start = time.perf_counter()
                    print(f"{backend} {_label(size)}: building", flush=True)
                    build(urls[size], models=models, versions=versions, points=size)
                    built = time.perf_counter() - start
                    fold = _worker("snapshot", urls[size])["fold"]
                    print(f"{backend} {_label(size)}: built in {built:.0f} s, snapshot after a fold of {fold:.1f} s",
                          flush=True)
            # the sizes take turns, round after round, so a busy spell of the machine does
            # not fall on one size only; each figure is the median of its rounds
            rounds: dict[int, list[dict]] = {size: [] for size in sizes}
            for turn in range(args.rounds):
                for size in sizes:
                    rounds[size].append(_worker("measure", urls[size], str(models)))
                    print(f"{backend} {_label(size)} round {turn + 1}: {json.dumps(rounds[size][-1])}", flush=True)
            results = {size: {key: statistics.median(r[key] for r in found if key in r)
                              for key in found[0]} for size, found in rounds.items()}
            interleaved = _worker("latency", str(models), *urls.values())
            for size, found in zip(urls, interleaved):
                results[size].update(found)
        finally:
            if not args.keep:
                for drop in drops:
                    drop()
        print("\n".join(["", *table(backend, results), ""]), flush=True)


if __name__ == "__main__":
    main()
