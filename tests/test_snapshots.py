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
from eventreg.domain.state import apply, dump_state, fold
from eventreg.errors import LogCorrupted


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
    assert math.isnan(run.metrics["nan"]) and run.metric_summaries["loss"].step == 2
    loss = run.metric_summaries["loss"]
    assert (loss.count, loss.min, loss.max, loss.value) == (3, 1 / 3, 1.0, 1 / 3)
    nan = run.metric_summaries["nan"]
    assert nan.count == 3 and math.isnan(nan.min) and math.isnan(nan.max), "NaN is no bound"
    assert loaded.models["iris"].versions[2].parents == (1,)
    assert loaded.models["iris"].alias_history["production"][-1].action == "rollback"
    assert loaded.models["iris"].versions[1].created_at.tzinfo is not None


def _header(data):
    size = int.from_bytes(data[len(snapshots.MAGIC):len(snapshots.MAGIC) + 8], "little")
    start = len(snapshots.MAGIC) + 8
    return json.loads(zlib.decompress(data[start:start + size])), data[start + size:]


def _pack(header, chunks):
    head = zlib.compress(json.dumps(header).encode())
    return snapshots.MAGIC + len(head).to_bytes(8, "little") + head + chunks


def test_snapshots_of_another_version_layout_or_garbage_are_not_trusted(state):
    data = snapshots.dump(state, "1.0")
    assert snapshots.load(data, "1.1") is None
    header, chunks = _header(data)
    assert snapshots.load(_pack(header, chunks), "1.0") == state
    header["layout"]["VersionState"].append("new_field")
    assert snapshots.load(_pack(header, chunks), "1.0") is None
    header, chunks = _header(data)
    header["models"][0][0] = 7  # a model without a usable name
    del header["models"][0][-1]
    assert snapshots.load(_pack(header, chunks), "1.0") is None
    header, chunks = _header(data)
    header["chunks"][-1][1] += 1  # a chunk that runs past the end
    assert snapshots.load(_pack(header, chunks), "1.0") is None
    for garbage in (b"", b"not zlib", zlib.compress(b"[1, 2]"), zlib.compress(b"{}"), snapshots.MAGIC,
                    data[:len(snapshots.MAGIC) + 20]):
        assert snapshots.load(garbage, "1.0") is None


def _registry_events(tmp_path, models=3, versions=7, runs=9):
    with eventreg.open("memory://", artifacts=f"file://{tmp_path / 'a'}", actor="alice") as reg:
        for m in range(models):
            for v in range(versions):
                reg.register_version(f"m{m}", code=None, params={"v": v}, metrics={"acc": v / 10})
            reg.promote(f"m{m}", versions, alias="production")
        for r in range(runs):
            with reg.start_run("exp", code=None) as run:
                run.log_metrics({"loss": 1.0 / (r + 1)}, step=r)
        return list(reg.log.read_all())


def test_records_are_decoded_on_first_read_and_a_fold_continues_from_them(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshots, "CHUNK", 2)  # many chunks for a few records
    events = _registry_events(tmp_path)
    middle = len(events) // 2
    loaded = snapshots.load(snapshots.dump(fold(events[:middle]), "1.0"), "1.0")
    assert isinstance(loaded.runs, snapshots.LazyDict) or not loaded.runs
    versions = loaded.models["m0"].versions
    assert len(versions) == 7 and 3 in versions and 99 not in versions and versions.get(99) is None
    assert versions[3].params == {"v": 2}
    with pytest.raises(KeyError):
        versions[99]
    # folding the rest into the partly decoded state gives what folding everything gives,
    # in the same order
    for recorded in events[middle:]:
        apply(loaded, recorded)
    whole = fold(events)
    assert loaded == whole
    assert list(loaded.runs) == list(whole.runs)
    assert [list(m.versions) for m in loaded.models.values()] == [list(m.versions) for m in whole.models.values()]


def test_a_snapshot_of_a_loaded_state_keeps_undecoded_chunks_as_they_were(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshots, "CHUNK", 2)
    events = _registry_events(tmp_path)
    state = fold(events)
    data = snapshots.dump(state, "1.0")
    assert snapshots.dump(snapshots.load(data, "1.0"), "1.0") == data  # nothing read: the same bytes
    loaded = snapshots.load(data, "1.0")
    for changed in (loaded, state):  # one chunk decoded and changed (a version's tags are replaced, as the fold does)
        version = changed.models["m1"].versions[2]
        version.tags = {**version.tags, "seen": "yes"}
    again = snapshots.dump(loaded, "1.0")
    assert again != data and snapshots.load(again, "1.0") == state


def test_a_damaged_chunk_is_reported_when_read(tmp_path):
    data = snapshots.dump(fold(_registry_events(tmp_path, models=1, runs=0)), "1.0")
    header, chunks = _header(data)
    offset, length = header["chunks"][0]
    damaged = chunks[:offset] + zlib.compress(b"[[[1]], [[], [], []]]") + chunks[offset + length:]
    header["chunks"][0][1] = len(damaged) - len(chunks) + length
    loaded = snapshots.load(_pack(header, damaged), "1.0")
    with pytest.raises(LogCorrupted, match="snapshot"):
        loaded.models["m0"].versions[1]


def test_reads_the_generic_codecs_snapshots_too(state):
    assert snapshots.load(dump_state(state, "1.0"), "1.0") == state
    assert snapshots.load(dump_state(state, "1.0"), "2.0") is None


def test_it_is_smaller_than_the_generic_codec(tmp_path):
    state = fold(_registry_events(tmp_path, models=10, versions=100, runs=300))
    assert len(snapshots.dump(state, "1.0")) < len(dump_state(state, "1.0"))


def test_threads_sharing_a_loaded_state_each_see_every_record_and_the_same_objects(tmp_path, monkeypatch):
    import threading

    monkeypatch.setattr(snapshots, "CHUNK", 2)
    whole = fold(_registry_events(tmp_path, models=4, versions=12, runs=30))
    data = snapshots.dump(whole, "1.0")
    for _ in range(10):
        loaded = snapshots.load(data, "1.0")
        barrier = threading.Barrier(6)
        seen: list[dict] = []
        errors: list[BaseException] = []

        def reader(i: int) -> None:
            mine = {}
            try:
                barrier.wait(10)
                if i % 3 == 0:  # walks everything: decodes and reorders while others read
                    assert list(loaded.runs) == list(whole.runs)
                    mine.update((run_id, id(run)) for run_id, run in loaded.runs.items())
                elif i % 3 == 1:
                    for name, model in whole.models.items():
                        for number, version in model.versions.items():
                            found = loaded.models[name].versions[number]
                            assert found == version
                            mine[(name, number)] = id(found)
                else:
                    for run_id in reversed(list(whole.runs)):
                        assert run_id in loaded.runs and loaded.runs.get(run_id) == whole.runs[run_id]
                        mine[run_id] = id(loaded.runs[run_id])
            except BaseException as e:  # reported below
                errors.append(e)
            seen.append(mine)

        threads = [threading.Thread(target=reader, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors, errors
        for key in set().union(*seen):  # one object per record, whichever thread decoded it
            assert len({ids[key] for ids in seen if key in ids}) == 1, key
        assert loaded == whole
