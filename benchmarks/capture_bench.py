"""
Benchmark of reproducibility capture (docs/reproducibility.md): what full capture adds to
a run, and what capturing a large uncommitted diff costs.

Measured in one process, against a baseline measured in the same run:

- ``start_run`` + ``end_run`` in a dirty git checkout with ``capture="off"`` (the
  baseline), ``"light"`` and ``"full"``: the first run (the environment document is built
  and stored) and the median / p95 of the next ones (the document is referenced by
  digest). ``full, no code cache`` sets ``eventreg.capture.CODE_CACHE_SECONDS = 0`` so
  every run asks git and hashes the diff again.
- :func:`eventreg.capture.code.capture_code` on a checkout with 200 modified files, and
  with 200 untracked files.

The interpreter's distributions are topped up with empty ``*.dist-info`` folders on
``sys.path`` until there are at least ``--distributions`` (default 150): they are read the
way real ones are (by folder name), so the cost is the same.

``benchmarks/registry_bench.py`` prints the same table (it runs this script in a child
process, because the extra ``*.dist-info`` folders and the checkout stay in the process).

Usage::

    python benchmarks/capture_bench.py [--runs 50] [--distributions 150] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import eventreg
from eventreg import capture
from eventreg.capture import code as code_capture
from eventreg.capture import environment as env_capture


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=b@example.com", "-c", "user.name=b", *args], cwd=cwd,
                   check=True, capture_output=True)


def _top_up(site: Path, wanted: int) -> int:
    have = len(env_capture.current_environment()[0]["distributions"])
    for i in range(max(0, wanted - have)):
        (site / f"benchpkg{i:03d}-1.0.{i}.dist-info").mkdir(parents=True)
    sys.path.append(str(site))
    return len(env_capture.current_environment()[0]["distributions"])


def _repo(root: Path, files: int, modified: bool, untracked: bool) -> Path:
    root.mkdir()
    _git(root, "init", "-q")
    for i in range(files):
        (root / f"m{i:03d}.py").write_text("\n".join(f"x{j} = {j}" for j in range(40)) + "\n")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "base")
    for i in range(files):
        if modified:
            (root / f"m{i:03d}.py").write_text("\n".join(f"x{j} = {j + 1}" for j in range(40)) + "\n")
        if untracked:
            (root / f"new{i:03d}.py").write_text(f"y = {i}\n" * 20)
    return root


def _time_runs(reg: eventreg.Registry, level: str, runs: int) -> tuple[float, float, float]:
    def one() -> float:
        start = time.perf_counter()
        run = reg.start_run("bench", capture=level)
        run.end()
        return time.perf_counter() - start

    first = one()
    rest = sorted(one() for _ in range(runs))
    return first, statistics.median(rest), rest[int(len(rest) * 0.95) - 1]


def measure(runs: int, distributions: int) -> dict:
    """
    Every number of the benchmark, in seconds (JSON-ready).
    """
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        count = _top_up(base / "site", distributions)
        repo = _repo(base / "repo", 5, modified=True, untracked=True)
        here = os.getcwd()
        os.chdir(repo)
        try:
            (base / "reg").mkdir()
            with eventreg.open(f"sqlite:///{base / 'reg' / 'reg.db'}", artifacts=f"file://{base / 'reg' / 'art'}",
                               actor="bench") as reg:
                reg.start_run("bench", capture="off").end()  # warm up: the log's tables, imports
                results = {level: _time_runs(reg, level, runs) for level in ("off", "light", "full")}
                cache, capture.CODE_CACHE_SECONDS = capture.CODE_CACHE_SECONDS, 0
                try:
                    results["full, no code cache"] = _time_runs(reg, "full", runs)
                finally:
                    capture.CODE_CACHE_SECONDS = cache
                store = reg._artifact_store()
            checkouts = {}
            for name, modified, untracked in (("200 modified files", True, False),
                                              ("200 untracked files", False, True)):
                folder = _repo(base / name.replace(" ", "-"), 200, modified, untracked)
                times, size = [], 0
                for _ in range(5):
                    start = time.perf_counter()
                    record = code_capture.capture_code(store, path=str(folder))
                    times.append(time.perf_counter() - start)
                    size = (record.get("diff") or {}).get("size", 0) + sum(
                        e["size"] for e in (record.get("untracked") or {}).values())
                checkouts[name] = (statistics.median(times), size)
        finally:
            os.chdir(here)
    return {"distributions": count, "runs": runs, "levels": results, "checkouts": checkouts}


def table(measured: dict) -> list[str]:
    """
    The benchmark's table: each level against ``capture="off"`` measured in the same run,
    and the issue's targets (full capture after the first < 50 ms; a 200-file diff < 200 ms).
    """
    levels, checkouts = measured["levels"], measured["checkouts"]
    baseline = levels["off"][1]
    lines = [f"reproducibility capture: start_run + end_run, SQLite, {measured['distributions']} distributions, "
             f"dirty checkout, {measured['runs']} runs after the first",
             f"  {'capture':<22}{'first ms':>10}{'median ms':>11}{'p95 ms':>9}{'x off':>8}{'target':>11}"]
    for name, (first, median, p95) in levels.items():
        verdict = f"{'< 50 ms':>9} {'ok' if median < 0.050 else 'MISSED'}" if name == "full" else ""
        lines.append(f"  {name:<22}{first * 1e3:>10.1f}{median * 1e3:>11.1f}{p95 * 1e3:>9.1f}"
                     f"{median / baseline:>7.2f}x {verdict}")
    lines.append(f"  {'capture_code, no cache':<22}{'':>10}{'median ms':>11}{'KiB':>9}{'x off':>8}{'target':>11}")
    for name, (median, size) in checkouts.items():
        verdict = f"{'< 200 ms':>9} {'ok' if median < 0.200 else 'MISSED'}" if name == "200 modified files" else ""
        lines.append(f"  {name:<22}{'':>10}{median * 1e3:>11.1f}{size / 1024:>9.1f}{median / baseline:>7.1f}x {verdict}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--distributions", type=int, default=150)
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON (registry_bench reads them)")
    args = parser.parse_args()
    measured = measure(args.runs, args.distributions)
    print(json.dumps(measured) if args.json else "\n".join(table(measured)))


if __name__ == "__main__":
    main()
