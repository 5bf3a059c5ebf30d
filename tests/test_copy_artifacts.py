"""
``eventreg.copy(..., artifacts=DEST)`` and ``eventreg copy --artifacts DEST``: the model
files move with the log, verified and resumable (issue 20).

Before, the copy moved the log only: on the new backend ``load_model`` failed with
"stored object is missing".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import eventreg
from eventreg.cli import cli
from eventreg.errors import ArtifactIntegrityError


def _source(tmp_path: Path) -> tuple[str, str]:
    """
    A SQLite registry with a logged model (version 1), a version with a folder of files
    (version 2) and a run artifact; returns (log URL, artifact URL).
    """
    url, store = f"sqlite:///{tmp_path / 'src.db'}", f"file://{tmp_path / 'src-artifacts'}"
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"\x00weights" * 1000)
    (folder / "sub" / "config.json").write_text('{"depth": 3}')
    (tmp_path / "notes.txt").write_text("run notes")
    with eventreg.open(url, artifacts=store, actor="alice") as reg:
        with reg.start_run("exp", code=None) as run:
            run.log_model({"coef": [1, 2, 3]}, "model")
            run.log_artifact(str(tmp_path / "notes.txt"))
        reg.register_version("iris", run=run.id, code=None)
        reg.register_version("iris", artifacts=str(folder), code=None)
    return url, store


def _objects(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and len(p.name) == 64)


def test_copy_with_artifacts_makes_a_working_registry(tmp_path: Path) -> None:
    src, store = _source(tmp_path)
    dst, dst_store = f"file://{tmp_path / 'dst-log'}", f"file://{tmp_path / 'dst-artifacts'}"
    result = eventreg.copy(src, dst, artifacts=dst_store, source_artifacts=store, progress=False)
    assert result.artifacts_copied == len(_objects(tmp_path / "src-artifacts")) >= 3
    assert result.artifacts_skipped == 0 and result.artifacts_bytes > 8000
    with eventreg.open(dst, artifacts=dst_store) as reg:
        assert reg.load_model("models:/iris/1") == {"coef": [1, 2, 3]}
        reg.download("iris", 2, tmp_path / "out")
        assert (tmp_path / "out" / "weights.bin").read_bytes() == b"\x00weights" * 1000
        assert reg.verify(artifacts=True).ok


def test_without_artifacts_the_objects_stay_behind(tmp_path: Path) -> None:
    src, _ = _source(tmp_path)
    dst, dst_store = f"sqlite:///{tmp_path / 'dst.db'}", f"file://{tmp_path / 'dst-artifacts'}"
    result = eventreg.copy(src, dst, progress=False)
    assert result.artifacts_copied is None
    with eventreg.open(dst, artifacts=dst_store) as reg, pytest.raises(ArtifactIntegrityError):
        reg.load_model("models:/iris/1")


def test_an_interrupted_artifact_copy_resumes_and_checks_what_is_there(tmp_path: Path) -> None:
    src, store = _source(tmp_path)
    dst, dst_store = f"sqlite:///{tmp_path / 'dst.db'}", f"file://{tmp_path / 'dst-artifacts'}"
    first = eventreg.copy(src, dst, artifacts=dst_store, source_artifacts=store, progress=False)
    copied = _objects(tmp_path / "dst-artifacts")
    copied[0].chmod(0o644)
    copied[0].unlink()  # as if the first run had stopped before this object
    again = eventreg.copy(src, dst, artifacts=dst_store, source_artifacts=store, progress=False)
    assert (again.copied, again.artifacts_copied, again.artifacts_skipped) == (0, 1, first.artifacts_copied - 1)
    # an object at the destination whose bytes differ is found, not trusted
    victim = _objects(tmp_path / "dst-artifacts")[0]
    victim.chmod(0o644)
    victim.write_bytes(b"x" * victim.stat().st_size)
    with pytest.raises(ArtifactIntegrityError, match="differ"):
        eventreg.copy(src, dst, artifacts=dst_store, source_artifacts=store, progress=False)


def test_a_missing_source_object_is_an_integrity_error(tmp_path: Path) -> None:
    src, store = _source(tmp_path)
    gone = _objects(tmp_path / "src-artifacts")[0]
    gone.chmod(0o644)
    gone.unlink()
    with pytest.raises(ArtifactIntegrityError):
        eventreg.copy(src, "memory://", artifacts=f"file://{tmp_path / 'dst'}", source_artifacts=store,
                      progress=False)


def test_copy_artifacts_to_s3(tmp_path: Path, s3_artifacts) -> None:
    src, store = _source(tmp_path)
    dst = f"sqlite:///{tmp_path / 'dst.db'}"
    result = eventreg.copy(src, dst, artifacts=s3_artifacts.url, artifact_options=s3_artifacts.options,
                           source_artifacts=store, progress=False)
    assert result.artifacts_copied >= 3
    with eventreg.open(dst, artifacts=s3_artifacts.url, artifact_options=s3_artifacts.options) as reg:
        assert reg.load_model("models:/iris/1") == {"coef": [1, 2, 3]}
        assert reg.verify(artifacts=True).ok
    again = eventreg.copy(src, dst, artifacts=s3_artifacts.url, artifact_options=s3_artifacts.options,
                          source_artifacts=store, progress=False)
    assert (again.artifacts_copied, again.artifacts_skipped) == (0, result.artifacts_copied)
    # and back from S3 into a local folder
    back = eventreg.copy(dst, f"sqlite:///{tmp_path / 'back.db'}", artifacts=f"file://{tmp_path / 'back'}",
                         source_artifacts=s3_artifacts.url, source_artifact_options=s3_artifacts.options,
                         progress=False)
    assert back.artifacts_copied == result.artifacts_copied


def test_the_command_copies_artifacts_or_says_they_stay(tmp_path: Path) -> None:
    src, store = _source(tmp_path)
    runner = CliRunner()
    plain = runner.invoke(cli, ["--artifacts", store, "copy", src, f"sqlite:///{tmp_path / 'a.db'}"])
    assert plain.exit_code == 0, plain.output
    assert "artifacts were not copied" in plain.stdout
    dst_store = f"file://{tmp_path / 'b-artifacts'}"
    full = runner.invoke(cli, ["--artifacts", store, "copy", src, f"sqlite:///{tmp_path / 'b.db'}",
                               "--artifacts", dst_store])
    assert full.exit_code == 0, full.output
    assert "artifact objects" in full.stdout and "not copied" not in full.stdout
    with eventreg.open(f"sqlite:///{tmp_path / 'b.db'}", artifacts=dst_store) as reg:
        assert reg.load_model("models:/iris/1") == {"coef": [1, 2, 3]}
