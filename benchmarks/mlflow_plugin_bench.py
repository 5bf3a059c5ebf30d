"""
MLflow's client API on MLflow's own SQLite store and on the eventreg plugin, same run.

Each row times one MlflowClient call (both sides pay MLflow's client overhead) on
``sqlite:///mlflow.db`` and on ``eventreg+sqlite:///reg.db``, in a fresh temporary
directory, and prints the median per call and the ratio (MLflow's time / eventreg's: above
1 means the plugin is faster); the two sides' calls alternate, so load drifts hit both. The
``store only`` column is the eventreg store method's own time for the same call, without
MLflow's client.

Rows: create run, log_metric, log_batch (100 metrics), register version, set alias, get
version by alias, search_runs, search_model_versions. With ``--rest`` the same rows run
again through ``mlflow server`` (one worker each, on free 127.0.0.1 ports): one server on
MLflow's SQLite store, one on the plugin, the client on an ``http://`` tracking URI, so both
pay HTTP and the server's request handling.

Usage::

    python benchmarks/mlflow_plugin_bench.py            # 200 calls per row
    python benchmarks/mlflow_plugin_bench.py --calls 50 --rest --json

Needs ``pip install 'eventreg[mlflow]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _time(fn: Callable[[int], Any], calls: int) -> float:
    samples = []
    for i in range(calls):
        start = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


Case = tuple[str, Callable[[int], Any], "Callable[[int], Any] | None"]


def _time_pair(theirs: Callable[[int], Any], ours: Callable[[int], Any], calls: int) -> tuple[float, float]:
    a, b = [], []
    for i in range(calls):
        start = time.perf_counter()
        theirs(i)
        middle = time.perf_counter()
        ours(i)
        b.append(time.perf_counter() - middle)
        a.append(middle - start)
    return statistics.median(a), statistics.median(b)


def _cases(client: Any, plugin: bool) -> list[Case]:
    """
    Each row's call on ``client`` after the shared set-up; with ``plugin`` also the same call
    on the client's eventreg stores alone (MLflow's client left out).
    """
    from mlflow.entities import Metric, ViewType

    exp = client.create_experiment("bench")
    run_id = client.create_run(exp).info.run_id
    client.create_registered_model("bench-model")
    client.create_model_version("bench-model", "s3://bucket/model", run_id=None)
    stamp = lambda: int(time.time() * 1000)  # noqa: E731
    batch = lambda i: [Metric(f"m{k}", float(k), stamp(), i) for k in range(100)]  # noqa: E731
    runs = reg = None
    if plugin:
        runs, reg = client._tracking_client.store, client._get_registry_client().store
        other_run = client.create_run(exp).info.run_id
    return [
        ("create run", lambda i: client.create_run(exp),
         runs and (lambda i: runs.create_run(exp, "bench", stamp(), [], None))),
        ("log_metric", lambda i: client.log_metric(run_id, "loss", 1.0 / (i + 1), step=i),
         runs and (lambda i: runs.log_metric(run_id, Metric("loss2", 1.0, stamp(), i)))),
        ("log_batch (100 metrics)", lambda i: client.log_batch(run_id, metrics=batch(i)),
         runs and (lambda i: runs.log_batch(other_run, batch(i), [], []))),
        ("register version", lambda i: client.create_model_version("bench-model", "s3://b/m"),
         reg and (lambda i: reg.create_model_version("bench-model", "s3://b/m"))),
        ("set alias", lambda i: client.set_registered_model_alias("bench-model", "prod", str(i % 2 + 1)),
         reg and (lambda i: reg.set_registered_model_alias("bench-model", "prod", str(i % 2 + 1)))),
        ("get by alias", lambda i: client.get_model_version_by_alias("bench-model", "prod"),
         reg and (lambda i: reg.get_model_version_by_alias("bench-model", "prod"))),
        ("search_runs", lambda i: client.search_runs([exp], max_results=10),
         runs and (lambda i: runs.search_runs([exp], None, ViewType.ACTIVE_ONLY, max_results=10))),
        ("search_model_versions",
         lambda i: client.search_model_versions("name='bench-model'", max_results=10),
         reg and (lambda i: reg.search_model_versions("name='bench-model'", max_results=10))),
    ]


def _compare(mode: str, baseline: list[Case], plugin: list[Case], calls: int) -> list[dict[str, Any]]:
    """Time each row's calls alternately on MLflow's side and on the plugin's, so load drifts hit both."""
    rows = []
    for (name, theirs, _), (_, ours, ours_only) in zip(baseline, plugin):
        mlflow_s, eventreg_s = _time_pair(theirs, ours, calls)
        only = None if ours_only is None else _time(ours_only, calls) * 1e3
        rows.append({"mode": mode, "call": name, "mlflow_sqlite_ms": mlflow_s * 1e3, "eventreg_ms": eventreg_s * 1e3,
                     "ratio": mlflow_s / eventreg_s, "eventreg_store_only_ms": only})
    return rows


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _server(uri: str, tmp: str, name: str) -> Iterator[str]:
    """``mlflow server`` on ``uri`` (tracking and registry), one worker; yields its http:// URI."""
    port = _free_port()
    log = open(Path(tmp) / f"{name}.log", "wb")  # noqa: SIM115
    env = {**os.environ, "MLFLOW_ENABLE_TELEMETRY": "false"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--registry-store-uri", uri,
         "--default-artifact-root", str(Path(tmp) / f"{name}-artifacts"), "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mlflow server on {uri} did not start; see {log.name}") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rest", action="store_true", help="also time the rows through `mlflow server`")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
    from mlflow import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        mlflow_uri = f"sqlite:///{Path(tmp)}/mlflow.db"
        plugin_uri = f"eventreg+sqlite:///{Path(tmp)}/reg.db"
        plugin_client = MlflowClient(tracking_uri=plugin_uri, registry_uri=plugin_uri)
        rows = _compare("in-process", _cases(MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri), False),
                        _cases(plugin_client, True), args.calls)
        if args.rest:
            with _server(f"sqlite:///{Path(tmp)}/mlflow-rest.db", tmp, "mlflow") as theirs, \
                    _server(f"eventreg+sqlite:///{Path(tmp)}/reg-rest.db", tmp, "eventreg") as ours:
                rows += _compare("REST", _cases(MlflowClient(tracking_uri=theirs, registry_uri=theirs), False),
                                 _cases(MlflowClient(tracking_uri=ours, registry_uri=ours), False), args.calls)
        os.chdir(Path(tmp).parent)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'mode':10} {'call':26} {'MLflow SQLite ms':>17} {'eventreg ms':>12} {'ratio':>7} {'store only ms':>14}")
    for r in rows:
        only = "-" if r["eventreg_store_only_ms"] is None else f"{r['eventreg_store_only_ms']:.2f}"
        print(f"{r['mode']:10} {r['call']:26} {r['mlflow_sqlite_ms']:17.2f} {r['eventreg_ms']:12.2f} "
              f"{r['ratio']:6.2f}x {only:>14}")


if __name__ == "__main__":
    main()
