"""
Artifact uploads killed midway (issue 7, point 2): no visible half object, no manifest
pointing at a missing one.

A writer process registers versions whose artifacts are large unique files (up to 24 MB,
so the kill usually lands inside the copy or the multipart upload) and is killed with
SIGKILL at a random moment, again and again, on a local-disk store and on S3 (moto).
After each kill:

- every object visible under its final key ``objects/<sha[:2]>/<sha>`` holds exactly the
  bytes its name promises (a half-written object is never visible);
- every manifest in the log (every registered version's artifacts) points at objects
  that exist with the recorded digest and size;
- the next upload and registration succeed.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import time

import pytest

import eventreg
from tests.reliability.workers import parse_report, spawn


def object_keys(store) -> list[str]:
    """
    Every key visible under ``<root>/objects``.
    """
    root = store.object_key("0" * 64).rsplit("/", 2)[0]
    store.fs.invalidate_cache()
    return store.fs.find(root) if store.fs.exists(root) else []


def check_store_and_manifests(reg, store, checked: set[str]) -> dict[str, int]:
    """
    Check the objects and versions not checked before (``checked`` remembers them).
    """
    keys = object_keys(store)
    for key in keys:
        name = key.rsplit("/", 1)[1]
        if name not in checked:
            assert hashlib.sha256(store.fs.cat_file(key)).hexdigest() == name, (
                f"object {name} is visible but incomplete or wrong")
            checked.add(name)
    versions = reg.list_versions("m") if reg.log.head().position else []
    for version in versions:
        if f"v{version.version}" in checked:
            continue
        manifest = {p: {"sha256": e.sha256, "size": e.size} for p, e in version.artifacts.items()}
        assert manifest, f"version {version.version} has no artifacts"
        assert all(e.sha256 in checked for e in version.artifacts.values()), (
            f"version {version.version} points at an object that is not stored")
        assert store.verify(manifest) == [], f"version {version.version} points at missing/bad objects"
        checked.add(f"v{version.version}")
    return {"objects": len(keys), "versions": len(versions)}


def leftovers(store) -> int:
    """
    Debris a killed upload leaves where no reader looks: temporary files (local disk) or
    unfinished multipart uploads (S3). Reported, not failed: they are invisible.
    """
    if store.local:
        tmp = os.path.join(store.root, "tmp")
        return len(os.listdir(tmp)) if os.path.isdir(tmp) else 0
    bucket = store.root.split("/", 1)[0]
    answer = store.fs.call_s3("list_multipart_uploads", Bucket=bucket)
    return len(answer.get("Uploads", []))


@pytest.fixture(params=["file_artifacts", "s3_artifacts"], ids=["file", "s3"])
def store_spec(request):
    return request.getfixturevalue(request.param)


def test_killed_uploads_leave_no_half_object_and_no_dangling_manifest(store_spec, sqlite_url, tmp_path,
                                                                      budget, reliability_report):
    kills = budget.count(5 if store_spec.url.startswith("file") else 4)
    rng = random.Random(3)
    mid_upload = 0
    checked: set[str] = set()
    started = time.monotonic()
    for i in range(kills):
        proc = spawn("artifact_uploader", sqlite_url, store_spec.url, store_spec.options, i,
                     str(tmp_path / "work"), 24)
        ready = proc.stdout.readline()
        assert ready.startswith(b"R "), proc.communicate()[1].decode()[-2000:]
        # kill a moment after the worker says it starts its n-th registration: a random
        # time alone landed outside every upload now and then (local puts are quick)
        seen, starts = [ready], rng.randint(1, 4)
        while starts:
            line = proc.stdout.readline()
            assert line, proc.communicate()[1].decode()[-2000:]
            seen.append(line)
            starts -= line.startswith(b"B ")
        time.sleep(rng.uniform(0, 0.005))
        os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
        report = parse_report((b"".join(seen) + out).decode())
        if report["started"] and (not report["done"] or report["done"][-1] != report["started"][-1]):
            mid_upload += 1
        with eventreg.open(sqlite_url, artifacts=store_spec.url, actor="checker", snapshot_every=0,
                           artifact_options=store_spec.options) as reg:
            store = reg._artifact_store()
            stats = check_store_and_manifests(reg, store, checked)
            present = {v.tags.get("op") for v in reg.list_versions("m")} if stats["versions"] else set()
            assert set(report["done"]) <= present, "a registration that returned is missing"
            folder = tmp_path / f"after-{i}"
            folder.mkdir()
            (folder / "ok.txt").write_text(f"after kill {i}")
            version = reg.register_version("m", artifacts=folder, code=None)
            assert store.verify({p: {"sha256": e.sha256, "size": e.size}
                                 for p, e in version.artifacts.items()}) == []
    reliability_report("artifact-kill-9", store=store_spec.url.split(":", 1)[0], kills=kills,
                       mid_upload=mid_upload, invisible_leftovers=leftovers(store), seconds=round(time.monotonic() - started, 1), **stats)
    assert mid_upload >= 1, f"none of {kills} kills landed inside an upload"
