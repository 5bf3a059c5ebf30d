"""
``eventreg reproduce --env venv`` for real: a version trained in a small virtual
environment, from a git checkout with an uncommitted change that then moves on by two
commits, is rebuilt in a new one, created and installed by ``reproduce`` itself from
the recorded requirements, offline (``PIP_NO_INDEX`` and ``PIP_FIND_LINKS`` pointing at a
wheel folder, as a user's wheel cache would), and re-run there.

The wheel folder holds the distributions of this interpreter, packed from their installed
files (tests/fixtures/wheelhouse.py), and a wheel of the eventreg source under test; the
training environment is installed from it too, so the record holds those and nothing else.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import eventreg
from eventreg.cli import cli
from tests.fixtures.services import unavailable
from tests.fixtures.wheelhouse import wheelhouse

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "reproduce"


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=cwd,
                   check=True, capture_output=True)


def _bin(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """
    The wheel folder and the ``name==version`` lines it holds (eventreg, its dependencies,
    scikit-learn and theirs).
    """
    try:
        import sklearn  # noqa: F401
        from packaging.requirements import Requirement  # noqa: F401
    except ModuleNotFoundError as e:  # under CI=true this fails: the test extra installs both
        unavailable("scikit-learn", e)
    folder = tmp_path_factory.mktemp("wheels")
    return folder, wheelhouse(ROOT, folder, ["scikit-learn"])


@pytest.fixture
def offline(monkeypatch, wheels):
    """
    pip may use the wheel folder and nothing else; no path of the caller leaks in.
    """
    folder, _ = wheels
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.setenv("PATH", os.pathsep.join(  # no uv: the pip path is the one every machine has
        p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "uv").exists()))
    return folder


def _names(lines) -> list[str]:
    return sorted(re.sub(r"[-_.]+", "-", line).lower() for line in lines)


def _train_venv(path: Path, lines: list[str]) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, capture_output=True)
    python = _bin(path) / "python"
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                           "--no-compile", *lines], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return python


def test_a_version_is_reproduced_in_a_new_virtual_environment_built_offline(tmp_path, monkeypatch, wheels, offline):
    _, lines = wheels
    python = _train_venv(tmp_path / "train-env", lines)
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "first")
    url, artifacts = f"sqlite:///{tmp_path / 'reg.db'}", f"file://{tmp_path / 'artifacts'}"
    for key, value in (("EVENTREG_URL", url), ("EVENTREG_ARTIFACTS", artifacts), ("EVENTREG_ACTOR", "alice")):
        monkeypatch.setenv(key, value)
    script = repo / "train.py"
    script.write_text(script.read_text().replace('"max_depth": 4', '"max_depth": 3'))  # uncommitted
    trained = subprocess.run([str(python), "train.py"], cwd=repo, capture_output=True, text=True)
    assert trained.returncode == 0, trained.stderr
    for n in (1, 2):  # then the checkout moves on by two commits
        script.write_text(script.read_text().replace(f'"n_estimators": {49 + n}', f'"n_estimators": {50 + n}'))
        _git(repo, "commit", "-qam", f"later {n}")
    with eventreg.open() as reg:
        version = reg.get_version("iris", 1)
        recorded = version.environment["digest"]
        requirements = CliRunner().invoke(cli, ["env", "iris", "1"]).output
    assert _names(line for line in requirements.splitlines() if not line.startswith("#")) == _names(lines)

    result = CliRunner().invoke(cli, ["reproduce", "iris", "1", "--env", "venv", "--workdir", str(tmp_path / "fresh")])

    assert result.exit_code == 0, result.output
    assert ("reproduced: params equal, metrics equal, model digest equal, probe predictions equal (10 row(s))"
            in result.output)
    code = (tmp_path / "fresh" / "code" / "train.py").read_text()
    assert '"max_depth": 3' in code and '"n_estimators": 50' in code  # the recorded commit plus its diff
    rebuilt = _bin(tmp_path / "fresh" / "venv") / "python"
    assert rebuilt.exists()
    where = subprocess.run([str(rebuilt), "-c", "import eventreg, sklearn; print(eventreg.__file__, sklearn.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert where.stdout.count(str(tmp_path / "fresh" / "venv")) == 2, where  # both from the new venv
    with eventreg.open() as reg:
        (event,) = [e for e in reg.history("iris") if e.type == "version.reproduced"]
        assert event.payload["outcome"] == "reproduced" and event.payload["differences"] == {}
        assert event.payload["comparison"]["probe"]["equal"] is True
        rerun = reg.get_run(event.payload["run_id"])
    # The re-run recorded its own environment: the same distributions, so the same digest.
    assert rerun.environment["digest"] == recorded == event.payload["environment"]
