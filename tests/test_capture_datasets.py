"""
Dataset fingerprints of object-store prefixes (moto S3 on 127.0.0.1): content digests
for small prefixes, an ETag manifest for large ones.
"""

from __future__ import annotations

import pytest

from eventreg.capture import datasets


@pytest.fixture
def prefix(s3_artifacts):
    import s3fs

    fs = s3fs.S3FileSystem(**s3_artifacts.options, skip_instance_cache=True)
    root = s3_artifacts.url[len("s3://"):] + "/data"
    for i in range(3):
        fs.pipe(f"{root}/part-{i}.csv", f"x\n{i}\n".encode())
    return fs, f"s3://{root}", s3_artifacts.options


def test_a_small_prefix_is_hashed_by_content(prefix):
    fs, url, options = prefix
    record = datasets.fingerprint(url, storage_options=options)
    assert record["kind"] == "folder" and record["files"] == 3 and record["method"] == "content"
    assert record["size"] == 12 and record["uri"] == url
    fs.pipe(url[5:] + "/part-1.csv", b"x\n9\n")
    assert datasets.fingerprint(url, storage_options=options)["digest"] != record["digest"]


def test_a_large_prefix_gets_a_manifest_of_etags(prefix, monkeypatch):
    fs, url, options = prefix
    monkeypatch.setattr(datasets, "ETAG_MANIFEST_FILES", 2)
    record = datasets.fingerprint(url, storage_options=options)
    assert record["method"] == "etag-manifest" and record["files"] == 3
    assert datasets.fingerprint(url, storage_options=options)["digest"] == record["digest"]
    fs.pipe(url[5:] + "/part-2.csv", b"x\n7\n")
    assert datasets.fingerprint(url, storage_options=options)["digest"] != record["digest"]
