"""
The README's first command: ``eventreg demo`` in a fresh folder, through the installed
console script, twice, then the CLI reading what it left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn", reason="the demo needs scikit-learn: pip install -e '.[demo]'")


def _eventreg(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    script = shutil.which("eventreg", path=str(Path(sys.executable).parent)) or shutil.which("eventreg")
    if script is None:
        pytest.fail("the eventreg console script is not installed (pip install -e '.[demo]')")
    base = {k: v for k, v in os.environ.items() if not k.startswith("EVENTREG_")}
    return subprocess.run([script, *args], cwd=cwd, env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=300)


def test_demo_in_a_fresh_folder_twice(tmp_path: Path) -> None:
    first = _eventreg("demo", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    for step in ("Train a RandomForest", "Register", "Promote", "Roll 'production' back",
                 "history", "Verify"):
        assert step in out, f"the demo does not say {step!r}:\n{out}"
    assert "\x1b[" not in out, "no colour codes when not on a terminal"
    assert "ok:" in out
    assert (tmp_path / "eventreg.db").is_file() and (tmp_path / "eventreg-artifacts").is_dir()

    second = _eventreg("demo", cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "exists already" in second.stdout

    versions = json.loads(_eventreg("--json", "versions", "list", "iris", cwd=tmp_path).stdout)
    assert [v["version"] for v in versions] == [1, 2, 3, 4]
    assert all(v["params"]["n_estimators"] in (100, 5) for v in versions)
    assert all(0 <= v["metrics"]["accuracy"] <= 1 for v in versions)
    production = json.loads(_eventreg("--json", "versions", "show", "iris", "production", cwd=tmp_path).stdout)
    assert production["version"] == 3, "the second demo promoted 3, then 4, then rolled back to 3"
    runs = json.loads(_eventreg("--json", "runs", "list", "--experiment", "iris_classifier_project",
                                cwd=tmp_path).stdout)
    assert len(runs) == 4 and all(r["status"] == "FINISHED" for r in runs)
    verified = _eventreg("verify", cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_demo_respects_url_and_artifacts_and_json(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    artifacts = f"file://{tmp_path / 'elsewhere-artifacts'}"
    done = _eventreg("--json", "--url", url, "--artifacts", artifacts, "--actor", "ci", "demo", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["versions"] == [1, 2] and result["production"] == 1
    assert result["verify"]["ok"] is True
    assert (tmp_path / "elsewhere.db").is_file() and (tmp_path / "elsewhere-artifacts").is_dir()
    assert not (tmp_path / "eventreg.db").exists()
    with_env = _eventreg("--json", "versions", "show", "iris", "1", cwd=tmp_path,
                         env={"EVENTREG_URL": url, "EVENTREG_ARTIFACTS": artifacts})
    assert json.loads(with_env.stdout)["actor"] == "ci"
