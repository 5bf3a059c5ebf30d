"""
MLflow's client API on MLflow's own SQLite store and on the eventreg plugin, same run.

Each row times one MlflowClient call (both sides pay MLflow's client overhead) on
``sqlite:///mlflow.db`` and on ``eventreg+sqlite:///reg.db``, in a fresh temporary
directory, and prints the median per call and the ratio (MLflow's time / eventreg's: above
1 means the plugin is faster). The ``store only`` column is the eventreg store method's
own time for the same call, without MLflow's client.

Rows: create run, log_metric, log_batch (100 metrics), register version, set alias, get
version by alias, search_runs, search_model_versions. ``mlflow server`` REST rows are not
measured yet.

Usage::

    python benchmarks/mlflow_plugin_bench.py            # 200 calls per row
    python benchmarks/mlflow_plugin_bench.py --calls 50 --json

Needs ``pip install 'eventreg[mlflow]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _time(fn: Callable[[int], Any], calls: int) -> float:
    samples = []
    for i in range(calls):
        start = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _rows(client: Any, store: Any, calls: int) -> dict[str, tuple[float, float | None]]:
    from mlflow.entities import Metric

    exp = client.create_experiment("bench")
    run_id = client.create_run(exp).info.run_id
    client.create_registered_model("bench-model")
    client.create_model_version("bench-model", "s3://bucket/model", run_id=None)
    out: dict[str, tuple[float, float | None]] = {}

    def store_time(fn: Callable[[int], Any]) -> float | None:
        return _time(fn, calls) if store is not None else None

    stamp = lambda: int(time.time() * 1000)  # noqa: E731
    out["create run"] = (_time(lambda i: client.create_run(exp), calls), None)
    out["log_metric"] = (_time(lambda i: client.log_metric(run_id, "loss", 1.0 / (i + 1), step=i), calls),
                         store_time(lambda i: store.log_metric(run_id, Metric("loss2", 1.0, stamp(), i))))
    batch = lambda i: [Metric(f"m{k}", float(k), stamp(), i) for k in range(100)]  # noqa: E731
    out["log_batch (100 metrics)"] = (_time(lambda i: client.log_batch(run_id, metrics=batch(i)), calls), None)
    out["register version"] = (_time(lambda i: client.create_model_version("bench-model", "s3://b/m"), calls),
                               None)
    out["set alias"] = (_time(lambda i: client.set_registered_model_alias(
        "bench-model", "prod", str(i % 2 + 1)), calls), None)
    out["get by alias"] = (_time(lambda i: client.get_model_version_by_alias("bench-model", "prod"), calls),
                           None)
    out["search_runs"] = (_time(lambda i: client.search_runs([exp], max_results=10), calls), None)
    out["search_model_versions"] = (_time(lambda i: client.search_model_versions("name='bench-model'",
                                                                                  max_results=10), calls), None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
    from mlflow import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        mlflow_uri = f"sqlite:///{Path(tmp)}/mlflow.db"
        plugin_uri = f"eventreg+sqlite:///{Path(tmp)}/reg.db"
        baseline = _rows(MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri), None, args.calls)
        plugin_client = MlflowClient(tracking_uri=plugin_uri, registry_uri=plugin_uri)
        plugin = _rows(plugin_client, plugin_client._tracking_client.store, args.calls)
    rows = [{"call": name, "mlflow_sqlite_ms": baseline[name][0] * 1e3, "eventreg_ms": plugin[name][0] * 1e3,
             "ratio": baseline[name][0] / plugin[name][0],
             "eventreg_store_only_ms": None if plugin[name][1] is None else plugin[name][1] * 1e3}
            for name in baseline]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'call':26} {'MLflow SQLite ms':>17} {'eventreg ms':>12} {'ratio':>7} {'store only ms':>14}")
    for r in rows:
        only = "-" if r["eventreg_store_only_ms"] is None else f"{r['eventreg_store_only_ms']:.2f}"
        print(f"{r['call']:26} {r['mlflow_sqlite_ms']:17.2f} {r['eventreg_ms']:12.2f} {r['ratio']:6.2f}x {only:>14}")


if __name__ == "__main__":
    main()
