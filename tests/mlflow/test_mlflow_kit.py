"""
MLflow 3.17.2's own store tests (the kit in ../shared/peer-tests/mlflow-3.17.2) against the
eventreg stores: the pass counts are printed and may not drop below the floors recorded in
kit_floors.json (raise a floor when a change makes more of them pass).

The kit is MLflow's code and stays outside the project; without it these tests skip
locally and fail under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.services import REQUIRE_SERVICES

ROOT = Path(__file__).resolve().parents[2]
KIT = Path(os.environ.get("EVENTREG_MLFLOW_KIT", ROOT.parent / "shared" / "peer-tests" / "mlflow-3.17.2"))
FLOORS = json.loads(Path(__file__).with_name("kit_floors.json").read_text())
REGISTRY = "eventreg.mlflow.testing:registry_store"
TRACKING = "eventreg.mlflow.testing:tracking_store"

PARTS = {
    "registry": (["tests/store/model_registry/test_sqlalchemy_store.py"], {"MLFLOW_PEER_STORE": REGISTRY}),
    "tracking": (["tests/store/tracking/sqlalchemy_store/test_sqlalchemy_store_experiments.py",
                  "tests/store/tracking/sqlalchemy_store/test_sqlalchemy_store_runs.py"],
                 {"MLFLOW_PEER_TRACKING_STORE": TRACKING}),
    "live_server": (["tests/tracking/test_model_registry.py"],
                    {"MLFLOW_PEER_STORE": REGISTRY, "MLFLOW_PEER_TRACKING_STORE": TRACKING}),
}


def _counts(output: str) -> dict[str, int]:
    last = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed|skipped|deselected)", line)]
    if not last:
        return {}
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|deselected|xfailed|errors?)",
                                                  last[-1])}


@pytest.fixture(scope="module")
def kit_runs():
    """
    The three parts started at once (the live-server part alone takes minutes, most of it
    MLflow's own database migrations per test), each in its own pytest process with the
    kit as rootdir; yields part -> (counts, output).
    """
    if not (KIT / "pytest.ini").exists():
        message = f"MLflow's store-test kit is not at {KIT} (it lives in ../shared, beside the checkout)"
        if REQUIRE_SERVICES:
            pytest.fail(message + " (CI=true: it must run)", pytrace=False)
        pytest.skip(message)
    sql_only = [line.strip() for line in (KIT / "sql-only.txt").read_text().splitlines() if line.strip()]
    started = {}
    for part, (files, switch) in PARTS.items():
        env = {**os.environ, **switch, "PYTHONDONTWRITEBYTECODE": "1", "MLFLOW_ENABLE_TELEMETRY": "false",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "EVENTREG_ARTIFACTS", "EVENTREG_URL"):
            env.pop(var, None)
        command = [sys.executable, "-m", "pytest", *files, "-q", "-p", "no:cacheprovider",
                   "-k", "not workspace-enabled", *(f"--deselect={node}" for node in sql_only)]
        started[part] = subprocess.Popen(command, cwd=KIT, env=env, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True)
    results = {}
    try:
        for part, process in started.items():
            output, _ = process.communicate(timeout=1500)
            results[part] = (_counts(output), output)
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()
    yield results


@pytest.mark.timeout(1800)  # the fixture's setup runs the whole kit: about 10 minutes on 2 shared cores
@pytest.mark.parametrize("part", sorted(PARTS))
def test_mlflow_kit(part, kit_runs, capsys):
    counts, output = kit_runs[part]
    with capsys.disabled():
        print(f"\nMLflow kit [{part}]: {counts.get('passed', 0)} passed, {counts.get('failed', 0)} failed, "
              f"{counts.get('skipped', 0)} skipped (floor {FLOORS[part]})")
    assert counts, f"the kit printed no summary:\n{output[-5000:]}"
    assert counts.get("passed", 0) >= FLOORS[part], (
        f"{part}: {counts.get('passed', 0)} passed, below the floor {FLOORS[part]}\n"
        + "\n".join(line for line in output.splitlines() if line.startswith(("FAILED", "ERROR")))
    )
