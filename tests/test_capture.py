"""
What runs and versions capture by themselves: the environment (stored once by digest),
the code (diff, untracked files, script files, command), datasets and the seed.
"""

from __future__ import annotations

import io
import json
import random
import tarfile
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import eventreg
from eventreg.artifacts import ManifestEntry
from eventreg.capture import code as code_capture
from eventreg.capture import environment as env_capture
from eventreg.capture.datasets import ETAG_MANIFEST_FILES, fingerprint
from eventreg.cli import cli


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path, monkeypatch):
    folder = tmp_path / "repo"
    folder.mkdir()
    _git(folder, "init", "-q")
    (folder / ".gitignore").write_text("*.secret\nregistry/\n")
    (folder / "train.py").write_text("print('v1')\n")
    _git(folder, "add", ".")
    _git(folder, "commit", "-qm", "first")
    _git(folder, "remote", "add", "origin", "https://bob:ghp_token123@github.com/acme/models.git")
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def reg(tmp_path):
    (tmp_path / "registry").mkdir()
    with eventreg.open(f"sqlite:///{tmp_path / 'registry' / 'reg.db'}",
                       artifacts=f"file://{tmp_path / 'registry' / 'artifacts'}", actor="alice") as registry:
        yield registry


def _stored(reg, entry) -> bytes:
    return reg._artifact_store().get_bytes(ManifestEntry(sha256=entry["sha256"], size=entry["size"]))


# -- environment -----------------------------------------------------------------------


def test_every_run_refers_to_one_stored_environment_document(reg):
    with reg.start_run("e") as first:
        pass
    with reg.start_run("e") as second:
        pass
    a, b = reg.get_run(first.id).environment, reg.get_run(second.id).environment
    assert a["digest"] == b["digest"] and a["digest"].startswith("sha256:")
    document = env_capture.load_environment(reg._artifact_store(), a)
    names = {d["name"].lower().replace("_", "-"): d["version"] for d in document["distributions"]}
    assert names["click"] == metadata.version("click")
    assert len(document["distributions"]) == a["distribution_count"] >= 20
    assert document["python"] == ".".join(map(str, sys.version_info[:3]))
    objects = [p for p in (Path(reg.artifacts_url[7:]) / "objects").rglob("*") if p.is_file()]
    assert len([p for p in objects if p.name == a["digest"][7:]]) == 1  # stored once


def test_eventreg_env_prints_a_requirements_file(reg, monkeypatch):
    monkeypatch.setenv("EVENTREG_URL", reg.log.url)
    monkeypatch.setenv("EVENTREG_ARTIFACTS", reg.artifacts_url)
    reg.register_version("iris", params={"a": 1})
    result = CliRunner().invoke(cli, ["env", "iris", "1"])
    assert result.exit_code == 0, result.output
    assert f"click=={metadata.version('click')}" in result.output.splitlines()
    uv = CliRunner().invoke(cli, ["env", "iris", "1", "--format", "uv"])
    assert "uv venv --python" in uv.output


def test_direct_urls_and_hashes_are_recorded_without_credentials(tmp_path, monkeypatch):
    site = tmp_path / "site"
    info = site / "demo_pkg-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "direct_url.json").write_text(json.dumps({
        "url": "https://user:secret@files.example.com/demo_pkg-1.2.3-py3-none-any.whl",
        "archive_info": {"hashes": {"sha256": "ab" * 32}}}))
    monkeypatch.syspath_prepend(str(site))
    document, _, digest = env_capture.current_environment()
    [item] = [d for d in document["distributions"] if d["name"] == "demo_pkg"]
    assert item == {"name": "demo_pkg", "version": "1.2.3", "hash": "sha256=" + "ab" * 32,
                    "direct_url": "https://files.example.com/demo_pkg-1.2.3-py3-none-any.whl"}
    assert "demo_pkg @ https://files.example.com/" in env_capture.requirements(document)
    monkeypatch.syspath_prepend(str(tmp_path))  # another sys.path: another answer
    assert env_capture.current_environment()[2] == digest  # same distributions, same digest


# -- code ------------------------------------------------------------------------------


def test_a_dirty_checkout_records_its_diff_and_untracked_files_but_not_ignored_ones(repo, reg):
    (repo / "train.py").write_text("print('v2')\n")
    (repo / "helper.py").write_text("X = 1\n")
    (repo / "token.secret").write_text("do not store")
    with reg.start_run("e") as run:
        pass
    code = reg.get_run(run.id).code
    assert code["kind"] == "git" and code["dirty"] is True and code["branch"]
    assert code["commit"] == _git(repo, "rev-parse", "HEAD").strip()
    assert code["repo"] == "https://github.com/acme/models.git"  # credentials stripped
    diff = _stored(reg, code["diff"]).decode()
    assert "-print('v1')" in diff and "+print('v2')" in diff
    assert set(code["untracked"]) == {"helper.py"}
    assert code["untracked"]["helper.py"]["size"] == 6
    with tarfile.open(fileobj=io.BytesIO(_stored(reg, code["untracked_bundle"]))) as tar:
        assert tar.getnames() == ["helper.py"] and tar.extractfile("helper.py").read() == b"X = 1\n"
    assert "argv" in code["command"] and code["command"]["cwd"] == "."


def test_caps_and_light_and_off_are_recorded_as_skipped(repo, reg, monkeypatch):
    (repo / "big.py").write_bytes(b"#" * 5000)
    monkeypatch.setenv("EVENTREG_CAPTURE_MAX_FILE_BYTES", "1000")
    record = code_capture.capture_code(reg._artifact_store(), max_file_bytes=1000)
    assert "big.py" not in record.get("untracked", {})
    assert "over the 1,000-byte file cap" in record["skipped"]["untracked:big.py"]

    with reg.start_run("e", capture="light") as light:
        pass
    light_code = reg.get_run(light.id).code
    assert light_code["commit"] and light_code["skipped"]["diff"] == "capture=light"
    assert "untracked" not in light_code

    monkeypatch.setenv("EVENTREG_CAPTURE", "off")
    with reg.start_run("e") as off:
        pass
    recorded = reg.get_run(off.id)
    assert recorded.code == {"skipped": {"code": "capture=off"}}
    assert recorded.environment["skipped"] == "capture=off"

    with pytest.raises(eventreg.ValidationError, match="capture must be one of"):
        reg.start_run("e", capture="most")


def test_outside_git_the_script_and_its_package_are_stored(tmp_path):
    package = tmp_path / "proj" / "mypkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "model.py").write_text("LAYERS = 3\n")
    (package / "train.py").write_text(
        "import sys, json\n"
        "from eventreg.capture.code import capture_code\n"
        "class Store:\n"
        "    def put_bytes(self, data, progress=None):\n"
        "        import hashlib, types\n"
        "        return types.SimpleNamespace(sha256=hashlib.sha256(data).hexdigest(), size=len(data))\n"
        "print(json.dumps(capture_code(Store())))\n")
    done = subprocess.run([sys.executable, str(package / "train.py"), "--epochs", "3"], cwd=tmp_path,
                          capture_output=True, text=True,
                          env={"PYTHONPATH": str(Path(__file__).resolve().parent.parent), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["kind"] == "files"
    assert set(record["files"]) == {"mypkg/__init__.py", "mypkg/model.py", "mypkg/train.py"}
    assert record["command"]["entry_point"] == "mypkg/train.py"
    assert record["command"]["argv"][1:] == ["--epochs", "3"]


# -- data and seeds --------------------------------------------------------------------


def test_datasets_are_fingerprinted_and_become_lineage_of_the_version(tmp_path, reg):
    pd = pytest.importorskip("pandas")
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("x\n1\n")
    (data / "b.csv").write_text("x\n2\n")
    frame = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    with reg.start_run("e") as run:
        file_record = run.log_dataset(data / "a.csv", context="train")
        folder_record = run.log_dataset(data, name="all", context="eval")
        frame_record = run.log_dataset(frame, name="frame")
        array_record = run.log_dataset(np.arange(6).reshape(3, 2), name="array")
    assert file_record["digest"] == "sha256:" + __import__("hashlib").sha256(b"x\n1\n").hexdigest()
    assert folder_record["files"] == 2 and folder_record["size"] == 8 and folder_record["context"] == "eval"
    assert frame_record["rows"] == 3 and frame_record["schema"] == {"x": "int64", "y": str(frame.dtypes["y"])}
    assert array_record["schema"] == {"dtype": "<i8", "shape": [3, 2]}
    version = reg.register_version("m", run=run.id)
    assert set(version.data["datasets"]) == {"a.csv", "all", "frame", "array"}
    assert reg.get_run(run.id).datasets["all"]["digest"] == folder_record["digest"]

    (data / "b.csv").write_text("x\n3\n")  # one byte
    assert fingerprint(data)["digest"] != folder_record["digest"]
    frame.loc[0, "x"] = 9
    assert fingerprint(frame)["digest"] != frame_record["digest"]

    direct = reg.register_version("m", data=[data / "a.csv"], code=None)
    assert direct.data["datasets"]["a.csv"]["digest"] == file_record["digest"]


def test_bad_dataset_sources_say_what_is_wrong(tmp_path, reg):
    with reg.start_run("e") as run:
        with pytest.raises(eventreg.NotFound, match="no dataset at"):
            run.log_dataset(tmp_path / "missing.csv")
        with pytest.raises(eventreg.ValidationError, match="cannot fingerprint a dict"):
            run.log_dataset({"a": 1})
    assert ETAG_MANIFEST_FILES > 0


def test_seed_everything_seeds_and_records_the_seed_on_the_active_run(reg):
    with reg.start_run("e") as run:
        result = eventreg.seed_everything(7)
        first = (random.random(), np.random.rand())
        eventreg.seed_everything(7)
        assert (random.random(), np.random.rand()) == first
    assert result["seeded"][:2] == ["random", "numpy"]
    assert reg.get_run(run.id).tags["eventreg.seed"] == "7"
    with pytest.raises(eventreg.ValidationError, match="seed must be an integer"):
        eventreg.seed_everything(-1)
