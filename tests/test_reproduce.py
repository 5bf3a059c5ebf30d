"""
``eventreg reproduce`` end to end on examples/reproduce: from a git checkout that moved
on, from outside git, with a changed dataset, and with an unseeded script.

The re-run reuses this interpreter (it has every recorded distribution), so no test
downloads anything; building a fresh environment is shown by the dry-run plan.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

import eventreg
from eventreg.cli import cli

pytest.importorskip("sklearn")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "reproduce"
ROOT = str(Path(__file__).resolve().parent.parent)


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=cwd,
                   check=True, capture_output=True)


@pytest.fixture
def registry_env(tmp_path, monkeypatch):
    url, artifacts = f"sqlite:///{tmp_path / 'reg.db'}", f"file://{tmp_path / 'artifacts'}"
    env = {**os.environ, "EVENTREG_URL": url, "EVENTREG_ARTIFACTS": artifacts, "EVENTREG_ACTOR": "alice",
           "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for key in ("EVENTREG_URL", "EVENTREG_ARTIFACTS", "EVENTREG_ACTOR"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
    return env


def _train(folder: Path, env: dict[str, str], *args: str) -> None:
    done = subprocess.run([sys.executable, "train.py", *args], cwd=folder, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "registered iris version" in done.stdout


def _reproduce(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["reproduce", "iris", "1", "--workdir", str(tmp_path / "fresh"), *args])
    return result.exit_code, result.output


def _history_types() -> list:
    with eventreg.open() as reg:
        return [(e.type, e) for e in reg.history("iris")]


def test_a_version_from_a_dirty_checkout_is_reproduced_after_the_checkout_moved_on(tmp_path, registry_env):
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "first")
    script = repo / "train.py"
    script.write_text(script.read_text().replace('"max_depth": 4', '"max_depth": 3'))  # uncommitted
    _train(repo, registry_env)
    for n in (1, 2):  # the checkout moves on
        script.write_text(script.read_text().replace('"n_estimators": 50', f'"n_estimators": {50 + n}')
                          .replace(f'"n_estimators": {50 + n - 1}', f'"n_estimators": {50 + n}'))
        _git(repo, "commit", "-qam", f"later {n}")
    with eventreg.open() as reg:
        code = reg.get_version("iris", 1).code
        assert code["kind"] == "git" and code["dirty"] and code["diff"]["size"] > 0
        assert code["command"]["entry_point"] == "train.py"

    exit_code, output = _reproduce(tmp_path)

    assert exit_code == 0, output
    assert "reproduced: params equal, metrics equal, model digest equal" in output
    rebuilt = (tmp_path / "fresh" / "code" / "train.py").read_text()
    assert '"max_depth": 3' in rebuilt and '"n_estimators": 50' in rebuilt  # the commit plus the diff
    (type_, event), = [(t, e) for t, e in _history_types() if t == "version.reproduced"]
    assert event.actor == "alice" and event.payload["outcome"] == "reproduced"
    assert event.payload["run_id"] and event.payload["environment"].startswith("sha256:")
    with eventreg.open() as reg:
        again = reg.get_run(event.payload["run_id"])
        assert again.tags["eventreg.reproduces"] == "iris:1"
        assert len(reg.list_versions("iris")) == 1  # the re-run registered nothing


def test_outside_git_the_stored_script_is_rerun_and_a_changed_byte_stops_it_first(tmp_path, registry_env):
    folder = tmp_path / "plain"
    shutil.copytree(EXAMPLE, folder)
    _train(folder, registry_env)
    with eventreg.open() as reg:
        version = reg.get_version("iris", 1)
        assert version.code["kind"] == "files" and list(version.code["files"]) == ["train.py"]
        recorded = version.data["datasets"]["iris"]["digest"]

    exit_code, output = _reproduce(tmp_path)
    assert exit_code == 0, output
    assert "reproduced: params equal, metrics equal, model digest equal" in output

    data = folder / "iris.csv"
    raw = bytearray(data.read_bytes())
    raw[-3] = ord("1") if raw[-3] != ord("1") else ord("2")
    data.write_bytes(bytes(raw))
    result = CliRunner().invoke(cli, ["reproduce", "iris", "1", "--workdir", str(tmp_path / "fresh2")])

    assert result.exit_code == 2
    assert "iris.csv" in result.output and recorded in result.output
    assert eventreg.capture.datasets.file_digest(data) in result.output
    assert "nothing was run" in result.output
    assert not (tmp_path / "fresh2" / "run-ids.txt").exists()
    outcomes = [e.payload["outcome"] for t, e in _history_types() if t == "version.reproduced"]
    assert outcomes == ["reproduced", "failed"]


def test_an_unseeded_script_is_not_reproduced_and_each_metric_difference_is_recorded(tmp_path, registry_env):
    folder = tmp_path / "plain"
    shutil.copytree(EXAMPLE, folder)
    _train(folder, registry_env, "--unseeded")

    exit_code, output = _reproduce(tmp_path)

    assert exit_code == 1, output
    assert "not reproduced:" in output and "metric mean_confidence:" in output and "difference" in output
    (_, event), = [(t, e) for t, e in _history_types() if t == "version.reproduced"]
    assert event.payload["outcome"] == "not_reproduced"
    assert "metric:mean_confidence" in event.payload["differences"]
    assert "model digest differs" in event.payload["comparison"]["checked"]


def test_a_dry_run_prints_the_plan_and_changes_nothing(tmp_path, registry_env, monkeypatch):
    folder = tmp_path / "plain"
    shutil.copytree(EXAMPLE, folder)
    _train(folder, registry_env)

    exit_code, output = _reproduce(tmp_path, "--dry-run", "--env", "venv")

    assert exit_code == 0, output
    assert "code: write 1 stored file(s)" in output and "data: verify iris" in output
    assert "environment: build" in output and "install" in output and "-r" in output
    assert "run: " in output and "train.py" in output
    assert not (tmp_path / "fresh").exists()
    assert all(t != "version.reproduced" for t, _ in _history_types())


def test_reproduce_refuses_a_version_without_a_recorded_command(tmp_path, registry_env):
    with eventreg.open() as reg:
        reg.register_version("iris", params={"a": 1}, code=None)
    exit_code, output = _reproduce(tmp_path)
    assert exit_code == 2
    assert "records no code and command to re-run" in output


def test_an_environment_that_cannot_be_installed_is_recorded_as_failed(tmp_path, registry_env, monkeypatch):
    folder = tmp_path / "plain"
    shutil.copytree(EXAMPLE, folder)
    _train(folder, registry_env)
    (tmp_path / "no-wheels").mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # offline, and the wheel folder is empty
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "no-wheels"))
    monkeypatch.setenv("PATH", os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "uv").exists()))

    exit_code, output = _reproduce(tmp_path, "--env", "venv")

    assert exit_code == 1, output
    assert "not reproduced: building the environment failed" in output
    (_, event), = [(t, e) for t, e in _history_types() if t == "version.reproduced"]
    assert event.payload["outcome"] == "failed" and "building the environment failed" in event.payload["reason"]
    assert not (tmp_path / "fresh" / "run-ids.txt").exists()  # nothing ran


PROBE_SCRIPT = '''
import sys, time
import numpy as np
from sklearn.linear_model import Ridge
import eventreg

X = np.linspace(0, 1, 40).reshape(-1, 2)
with eventreg.open() as reg, reg.start_run("probe", registered_model_name="probe") as run:
    noise = float(np.random.default_rng().normal(scale=1e-6)) if "--noisy" in sys.argv else 0.0
    model = Ridge(alpha=0.5).fit(X, X @ [1.0, 2.0] + noise)
    model.trained_at_ = time.time_ns()  # pickled with the model: its file is never byte-equal
    run.log_params({"alpha": 0.5})
    run.log_model(model, probe=X[:5])
'''


def _probe_version(tmp_path: Path, env: dict[str, str], *args: str) -> None:
    folder = tmp_path / "probe"
    folder.mkdir()
    (folder / "train.py").write_text(PROBE_SCRIPT)
    done = subprocess.run([sys.executable, "train.py", *args], cwd=folder, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _probe_events() -> list:
    with eventreg.open() as reg:
        return [e for e in reg.history("probe") if e.type == "version.reproduced"]


def test_a_model_whose_file_changes_is_reproduced_by_its_predictions_on_the_probe_set(tmp_path, registry_env):
    _probe_version(tmp_path, registry_env)
    with eventreg.open() as reg:
        version = reg.get_version("probe", 1)
        assert version.model_info["flavor"]["probe"]["rows"] == 5
        assert {"model-probe/inputs.npy", "model-probe/predictions.npy"} <= set(version.artifacts)

    result = CliRunner().invoke(cli, ["reproduce", "probe", "1", "--workdir", str(tmp_path / "fresh")])

    assert result.exit_code == 0, result.output
    assert ("reproduced: params equal, metrics equal, model digest differs, probe predictions equal (5 row(s))"
            in result.output)
    (event,) = _probe_events()
    assert event.payload["outcome"] == "reproduced" and event.payload["differences"] == {}
    probe = event.payload["comparison"]["probe"]
    assert probe["equal"] is True and probe["mismatched"] == 0 and probe["model_digest"] == "differs"
    assert probe["inputs"] == "equal"

    shown = CliRunner().invoke(cli, ["versions", "show", "probe", "1"])
    assert shown.exit_code == 0, shown.output
    assert (f"reproduction at position {event.position} by alice: reproduced: params equal, metrics equal, "
            "model digest differs, probe predictions equal (5 row(s))") in shown.output
    with eventreg.open() as reg:
        report = json.loads(reg.audit_report("probe"))
        (recorded,) = report["versions"][0]["reproductions"]
        assert recorded["outcome"] == "reproduced" and recorded["comparison"]["probe"]["equal"] is True
        assert "Reproductions" in reg.audit_report("probe", format="html")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
            from starlette.testclient import TestClient
        from eventreg.ui import app as ui_app
        page = TestClient(ui_app(reg)).get("/models/probe/versions/1")
    assert page.status_code == 200
    section = page.text.split('<table id="reproductions">', 1)[1].split("</table>", 1)[0]
    assert "5 row(s): predictions equal" in section and "model digest differs" in section
    assert event.payload["run_id"] in section


def test_predictions_that_drift_are_a_difference_unless_within_rtol(tmp_path, registry_env):
    _probe_version(tmp_path, registry_env, "--noisy")

    exact = CliRunner().invoke(cli, ["reproduce", "probe", "1", "--workdir", str(tmp_path / "exact")])
    loose = CliRunner().invoke(cli, ["reproduce", "probe", "1", "--rtol", "1e-3", "--workdir", str(tmp_path / "loose")])

    assert exact.exit_code == 1, exact.output
    assert "probe predictions: '5 row(s)' -> '5 differ' (max abs difference" in exact.output
    assert loose.exit_code == 0, loose.output
    assert "probe predictions equal within rtol 0.001 (5 row(s))" in loose.output
    first, second = _probe_events()
    assert first.payload["outcome"] == "not_reproduced"
    assert first.payload["differences"]["probe:predictions"]["reproduced"] == "5 differ"
    assert 0 < first.payload["comparison"]["probe"]["max_rel_difference"] < 1e-3
    assert second.payload["outcome"] == "reproduced" and second.payload["comparison"]["rtol"] == 1e-3
