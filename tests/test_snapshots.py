"""
The fast snapshot codec: an exact round trip, and never trusted blindly.
"""

from __future__ import annotations

import json
import math
import zlib

import pytest

import eventreg
from eventreg import snapshots
from eventreg.domain.state import dump_state, fold


@pytest.fixture
def state(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "w.bin").write_bytes(b"weights")
    with eventreg.open("memory://", artifacts=f"file://{tmp_path / 'a'}", actor="alice") as reg:
        reg.create_model("iris", description="ü flowers", tags={"team": "vision"})
        with reg.start_run("exp", code=None, tags={"k": "v"}) as run:
            run.log_params({"lr": 0.1, "depth": None, "name": "x"})
            for step in range(3):
                run.log_metrics({"loss": 1 / (step + 1), "nan": float("nan")}, step=step)
            run.log_artifact(folder)
        reg.register_version("iris", run=run.id, label="v1.0", artifacts=folder,
                             data={"uri": "s3://d", "digest": "sha256:" + "0" * 64}, code={"commit": "abc"})
        reg.register_version("iris", metrics={"acc": float("inf")}, parents=[1], code=None)
        reg.promote("iris", 1, alias="production", reason="launch")
        reg.promote("iris", 2, alias="production")
        reg.rollback("iris", alias="production", reason="bad")
        reg.deprecate_version("iris", 2, reason="old")
        reg.register_version("cats", code=None)
        reg.archive_model("cats", reason="gone")
        with pytest.raises(ZeroDivisionError):
            with reg.start_run("exp", code=None):
                1 / 0
        return fold(reg.log.read_all())


def test_round_trip_is_exact(state):
    loaded = snapshots.load(snapshots.dump(state, "1.0"), "1.0")
    assert loaded == state
    run = next(iter(loaded.runs.values()))
    assert math.isnan(run.metrics["nan"]) and run.metric_history["loss"][2].step == 2
    assert loaded.models["iris"].versions[2].parents == (1,)
    assert loaded.models["iris"].alias_history["production"][-1].action == "rollback"
    assert loaded.models["iris"].versions[1].created_at.tzinfo is not None


def test_snapshots_of_another_version_layout_or_garbage_are_not_trusted(state):
    data = snapshots.dump(state, "1.0")
    assert snapshots.load(data, "1.1") is None
    document = json.loads(zlib.decompress(data))
    document["layout"]["VersionState"].append("new_field")
    assert snapshots.load(zlib.compress(json.dumps(document).encode()), "1.0") is None
    document = json.loads(zlib.decompress(data))
    document["models"][0][0] = 7  # a model without a usable name
    del document["models"][0][-1]
    assert snapshots.load(zlib.compress(json.dumps(document).encode()), "1.0") is None
    for garbage in (b"", b"not zlib", zlib.compress(b"[1, 2]"), zlib.compress(b"{}")):
        assert snapshots.load(garbage, "1.0") is None


def test_reads_the_generic_codecs_snapshots_too(state):
    assert snapshots.load(dump_state(state, "1.0"), "1.0") == state
    assert snapshots.load(dump_state(state, "1.0"), "2.0") is None


def test_it_is_smaller_than_the_generic_codec(state):
    assert len(snapshots.dump(state, "1.0")) < len(dump_state(state, "1.0"))
