"""
Benchmark of the web UI: server time per page type, and the same pages in Chromium.

Builds (once, cached under /tmp) a SQLite registry of 100,000 versions over 100 models
(every 10th promoted to ``production``, every 50th rolled back) and 1,000,000 metric
points (10 runs of 100,000 ``loss`` points, each registered as the last version of one
model), with a projection snapshot saved after every tenth of the models, through the public API with ``sqlite_synchronous="OFF"`` while building. Then
requests every page type ``--rounds`` times (varying model and version) through the ASGI
app in process and prints p50/p95 per page against the targets (p95 < 100 ms, the models
page < 50 ms) and as a ratio of the static-file floor measured in the same run. With
Chromium available (Debian's, through Playwright) it also loads each page in the browser
until its charts are drawn (target < 1 s).

Usage::

    python benchmarks/ui_bench.py [--small] [--rounds 40] [--no-browser]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

import eventreg
import eventreg.ui
from eventreg import snapshots

CHROMIUM = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
SERVER_TARGET_MS = 100.0
MODELS_TARGET_MS = 50.0
BROWSER_TARGET_MS = 1000.0


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def build(db: Path, models: int, per_model: int, runs: int, points: int) -> None:
    """
    Write the benchmark registry to ``db`` through the public API (once; it is cached).
    """
    started = time.perf_counter()
    partial = db.with_suffix(".building")
    for leftover in partial.parent.glob(partial.name + "*"):
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    art = f"file://{partial}-artifacts"
    with eventreg.open(f"sqlite:///{partial}", artifacts=art, actor="builder", sqlite_synchronous="OFF",
                       snapshot_every=0) as reg:
        run_ids = []
        for r in range(runs):
            with reg.start_run("bench", name=f"trial {r}") as active:
                active.log_params({"lr": 0.01 * (r + 1), "optimizer": "adam"})
                with active.metric_buffer(max_points=20_000, max_seconds=3600) as buffer:
                    for step in range(points // runs):
                        buffer.log_metric("loss", 1.0 / (step + 1) + (step % 97) / 10_000, step=step)
            run_ids.append(active.info.id)
            _say(f"  run {r + 1}/{runs}: {points // runs:,} points ({time.perf_counter() - started:.0f} s)")
        for m in range(models):
            name = f"model-{m:04d}"
            reg.create_model(name, description=f"benchmark model {m}", tags={"team": f"t{m % 7}"})
            for v in range(1, per_model + 1):
                from_run = run_ids[m] if v == per_model and m < runs else None
                reg.register_version(
                    name, run=from_run, params={"lr": 0.01, "depth": v % 7, "seed": v},
                    metrics={"accuracy": 0.8 + v / (per_model * 10), "f1": 0.7 + (v % 13) / 100},
                    data={"uri": f"s3://data/{name}.parquet", "digest": f"sha256:{v:064x}"},
                    code={"repo": "git@example.com:ml/bench.git", "commit": f"{m * per_model + v:040x}"},
                    label=f"r{v}" if v % 100 == 0 else None)
                if v % 10 == 0:
                    reg.promote(name, v, alias="production", reason="passed the gate")
                if v % 50 == 0:
                    reg.rollback(name, alias="production", reason="canary regression")
            if (m + 1) % max(1, models // 10) == 0:
                reg.save_snapshot()  # as a registry that runs for months has them along its log
            if (m + 1) % max(1, models // 20) == 0:
                _say(f"  models {m + 1}/{models} ({time.perf_counter() - started:.0f} s, position {reg.head().position:,})")
    for suffix in ("-wal", "-shm"):
        Path(str(partial) + suffix).unlink(missing_ok=True)
    partial.rename(db)
    Path(f"{partial}-artifacts").mkdir(exist_ok=True)
    _say(f"  built {db} in {time.perf_counter() - started:.0f} s")


def _pages(reg: Any, models: int, per_model: int, runs: int) -> dict[str, Any]:
    """
    page type -> a function giving a URL (varied per call).
    """
    pick = random.Random(7)
    names = [f"model-{m:04d}" for m in range(models)]
    run_ids = [r.id for r in reg.search_runs("bench")]
    middle = reg.head().position // 2

    def model() -> str:
        return pick.choice(names)

    return {
        "static file (floor)": lambda: "/static/ui.css",
        "models": lambda: "/",
        "models filtered": lambda: f"/?q={pick.randrange(models):04d}",
        "model": lambda: f"/models/{model()}",
        "model, a later page": lambda: f"/models/{model()}?page={min(10, per_model // 50)}",
        "model history": lambda: f"/models/{model()}/history",
        "version": lambda: f"/models/{model()}/versions/{pick.randrange(1, per_model)}",
        "version, 100k-point metric": lambda: f"/models/model-{pick.randrange(runs):04d}/versions/{per_model}",
        "compare 3": lambda: f"/models/{model()}/compare?v=1&v={per_model // 2}&v={per_model - 1}",
        "compare, 100k-point metric": lambda: f"/models/model-{pick.randrange(runs):04d}/compare?v=1&v={per_model}",
        "runs": lambda: "/runs",
        "run, 100k points": lambda: f"/runs/{pick.choice(run_ids)}",
        "search in one model": lambda: "/search?filter=" + quote(f"model = '{model()}' and metrics.accuracy > 0.85"),
        "search everywhere": lambda: "/search?filter=" + quote("metrics.f1 >= 0.82 and params.depth = 3"),
        "audit": lambda: "/audit",
        "audit of a model": lambda: f"/audit?model={model()}&type=alias",
        "audit page 5": lambda: f"/audit?before={reg.head().position - 200}",
        "model as_of (view cached)": lambda: f"/models/{pick.choice(names[:models // 3])}?as_of={middle}",
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def serve_times(reg: Any, pages: dict[str, Any], rounds: int) -> dict[str, tuple[float, float, int]]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient

        client = TestClient(eventreg.ui.app(reg))
    out = {}
    for name, url in pages.items():
        first = url()
        started = time.perf_counter()
        warm = client.get(first)  # the first request of a kind (a first as_of folds the log): reported apart
        cold = (time.perf_counter() - started) * 1000
        assert warm.status_code == 200, (first, warm.status_code, warm.text[-300:])
        times = []
        repeats = []  # requests of a URL already asked for in this run (kept reads are warm)
        seen = {first}
        size = 0
        for _ in range(rounds):
            target = url()
            started = time.perf_counter()
            response = client.get(target)
            took = (time.perf_counter() - started) * 1000
            times.append(took)
            if target in seen:
                repeats.append(took)
            seen.add(target)
            assert response.status_code == 200, (target, response.status_code)
            size = max(size, len(response.content))
        again = _percentile(repeats, 0.95) if len(repeats) >= 5 else None
        out[name] = (statistics.median(times), _percentile(times, 0.95), size, again, cold)
        _say(f"  server: {name}: p95 {out[name][1]:.1f} ms")
    return out


def browser_times(url: str, pages: dict[str, Any], rounds: int) -> dict[str, float]:
    executable = next((p for p in CHROMIUM if os.path.exists(p)), None)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        executable = None
    if executable is None:
        _say("  no Chromium/Playwright: browser times skipped")
        return {}
    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=[
            "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for name, target in pages.items():
            if name.startswith("static"):
                continue
            page.goto(url + target(), wait_until="load", timeout=0)  # a first as_of folds the log
            times = []
            for _ in range(rounds):
                started = time.perf_counter()
                page.goto(url + target(), wait_until="load")
                charts = page.locator(".chart").count()
                if charts:
                    page.locator(f".chart[data-drawn] >> nth={charts - 1}").wait_for()
                times.append((time.perf_counter() - started) * 1000)
            out[name] = _percentile(times, 0.95)
            _say(f"  Chromium: {name}: p95 {out[name]:.0f} ms")
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="2,000 versions and 100,000 points")
    parser.add_argument("--rounds", type=int, default=40, help="requests per page type")
    parser.add_argument("--browser-rounds", type=int, default=5, help="loads per page type in Chromium")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    models, per_model, runs, points = (20, 100, 2, 100_000) if args.small else (100, 1000, 10, 1_000_000)
    # the snapshots' format and layout name the cache: a registry built by code whose
    # snapshots this code does not trust (as_of would fold from the start) is rebuilt
    layout = hashlib.sha256(json.dumps([snapshots.FORMAT, snapshots.LAYOUT], sort_keys=True).encode()).hexdigest()[:8]
    db = Path(tempfile.gettempdir()) / f"eventreg-ui-bench-{models * per_model}v-{points}p-snapshots-{layout}.db"
    if not db.exists():
        _say(f"building {models * per_model:,} versions over {models} models and {points:,} metric points "
             f"in {runs} runs (cached at {db}; takes minutes for the full size)")
        build(db, models, per_model, runs, points)
    opened = time.perf_counter()
    with eventreg.open(f"sqlite:///{db}", artifacts=f"file://{db.with_suffix('.building')}-artifacts",
                       actor="viewer") as reg:
        _say(f"opened {db} (position {reg.head().position:,}) in {time.perf_counter() - opened:.1f} s")
        pages = _pages(reg, models, per_model, runs)
        started = time.perf_counter()
        reg.as_of(reg.head().position // 2)
        cold_as_of = (time.perf_counter() - started) * 1000
        server = serve_times(reg, pages, args.rounds)
        _table(server, {}, models * per_model, points, args, cold_as_of)
        if not args.no_browser:
            from eventreg.ui._server import BackgroundServer

            with BackgroundServer(eventreg.ui.app(reg)) as running:
                shown = browser_times(running.url, pages, args.browser_rounds)
            if shown:
                _table(server, shown, models * per_model, points, args, cold_as_of)


def _table(server: dict[str, tuple[float, float, int, float | None, float]], shown: dict[str, float], versions: int, points: int,
           args: Any, cold_as_of: float) -> None:
    floor = server["static file (floor)"][1]
    print("first: the first request of the page type in this run (a first as_of folds the log, a first chart "
          "reads its metric); repeat p95: requests of a URL already requested in this run")
    print(f"\nweb UI: {versions:,} versions, {points:,} metric points; {args.rounds} requests per page "
          f"(server time in process); Chromium p95 over {args.browser_rounds} loads\n")
    header = (f"{'page':<30} {'first ms':>8} {'p50 ms':>8} {'p95 ms':>8} {'x floor':>8} {'target':>8} {'ok':>4} "
              f"{'repeat p95':>10} {'KiB':>6} "
              f"{'Chromium p95 ms':>16} {'ok':>4}")
    print(header)
    print("-" * len(header))
    for name, (p50, p95, size, again, cold) in server.items():
        target = MODELS_TARGET_MS if name == "models" else SERVER_TARGET_MS
        ok = "yes" if p95 < target else "NO"
        browser = shown.get(name)
        cell = (f"{browser:16.0f} {'yes' if browser < BROWSER_TARGET_MS else 'NO':>4}" if browser is not None
                else f"{'-':>16} {'':>4}")
        repeat = f"{again:10.1f}" if again is not None else f"{'-':>10}"
        print(f"{name:<30} {cold:8.1f} {p50:8.1f} {p95:8.1f} {p95 / floor:8.1f} {target:8.0f} {ok:>4} {repeat} {size / 1024:6.0f} {cell}")
    print(f"\nfirst as_of request (the middle of the log: from the newest snapshot before it, then kept): {cold_as_of:.0f} ms; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)

if __name__ == "__main__":
    main()
