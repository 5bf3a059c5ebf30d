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

Usage::

    python benchmarks/capture_bench.py [--runs 50] [--distributions 150]
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--distributions", type=int, default=150)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        count = _top_up(base / "site", args.distributions)
        repo = _repo(base / "repo", 5, modified=True, untracked=True)
        os.chdir(repo)
        (base / "reg").mkdir()
        rows = []
        with eventreg.open(f"sqlite:///{base / 'reg' / 'reg.db'}", artifacts=f"file://{base / 'reg' / 'art'}",
                           actor="bench") as reg:
            reg.start_run("bench", capture="off").end()  # warm up: the log's tables, imports
            results = {}
            for level in ("off", "light", "full"):
                results[level] = _time_runs(reg, level, args.runs)
            capture.CODE_CACHE_SECONDS = 0
            results["full, no code cache"] = _time_runs(reg, "full", args.runs)
        baseline = results["off"][1]
        print(f"start_run + end_run, SQLite, {count} distributions, dirty checkout, {args.runs} runs after the first")
        print(f"{'capture':<22}{'first ms':>10}{'median ms':>11}{'p95 ms':>9}{'x off':>8}")
        for name, (first, median, p95) in results.items():
            print(f"{name:<22}{first * 1e3:>10.1f}{median * 1e3:>11.1f}{p95 * 1e3:>9.1f}{median / baseline:>8.2f}")
            rows.append((name, median))
        target = results["full"][1] * 1e3
        print(f"target: full capture after the first < 50 ms: {'met' if target < 50 else 'NOT met'} ({target:.1f} ms)\n")

        print("capture_code on a 200-file checkout (no cache), 5 repeats")
        print(f"{'checkout':<28}{'median ms':>11}{'stored KiB':>12}")
        store = reg._artifact_store()
        for name, modified, untracked in (("200 modified files", True, False), ("200 untracked files", False, True)):
            folder = _repo(base / name.replace(" ", "-"), 200, modified, untracked)
            times, size = [], 0
            for _ in range(5):
                start = time.perf_counter()
                record = code_capture.capture_code(store, path=str(folder))
                times.append(time.perf_counter() - start)
                size = (record.get("diff") or {}).get("size", 0) + sum(
                    e["size"] for e in (record.get("untracked") or {}).values())
            median = statistics.median(times) * 1e3
            print(f"{name:<28}{median:>11.1f}{size / 1024:>12.1f}")
        print("target: a 200-file diff < 200 ms")


if __name__ == "__main__":
    main()
