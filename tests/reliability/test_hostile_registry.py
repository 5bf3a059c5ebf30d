"""
Hostile input through the registry (issue 7, point 4): the rows of docs/security.md that
go through commands, queries, snapshots and artifacts.

"Nothing written" is checked as the log's head being unchanged.
"""

from __future__ import annotations

import math
import os
import pickle

import pytest

import eventreg
from eventreg import (
    FilterSyntaxError,
    LogCorrupted,
    NotFound,
    UnknownEventType,
    UnsafePath,
    ValidationError,
    open_log,
)
from eventreg.domain.state import dump_state, fold
from eventreg.log import NewEvent
from tests.reliability.workers import projection_text


@pytest.fixture
def reg(sqlite_url, tmp_path):
    with eventreg.open(sqlite_url, artifacts=f"file://{tmp_path / 'artifacts'}", actor="tester",
                       snapshot_every=0) as registry:
        yield registry


def _fresh_fold_text(log) -> str:
    return projection_text(fold(log.read_all()))


# -- SQL-ish text ------------------------------------------------------------------------------

SQLISH = ["x'; DROP TABLE eventreg_events; --", "Robert'); DELETE FROM eventreg_head; --",
          '" OR "1"="1', "%' OR '%'='", "1; SELECT pg_sleep(5)"]


@pytest.fixture(params=["sqlite_url", "postgres_url", "mysql_url", "file_url"],
                ids=lambda name: name.removesuffix("_url"))
def any_reg(request, tmp_path):
    url = request.getfixturevalue(request.param)
    with eventreg.open(url, artifacts=f"file://{tmp_path / 'artifacts'}", actor="tester",
                       snapshot_every=0) as registry:
        yield registry


def test_sql_text_in_names_tags_and_filters_is_only_data(any_reg):
    """
    Row "SQL-ish text in names, tags and filters".
    """
    for i, text in enumerate(SQLISH):
        any_reg.register_version(text, code=None, tags={"note": text}, params={"p": text},
                                 description=text)
        any_reg.set_model_tag(text, "owner", text)
    assert sorted(m.name for m in any_reg.list_models()) == sorted(SQLISH)
    for text in SQLISH:
        version = any_reg.get_version(text, 1)
        assert version.tags == {"note": text} and version.params == {"p": text}
        assert any_reg.get_model(text).tags == {"owner": text}
    # SQL in a filter is a string literal or a syntax error, never a statement
    hits = any_reg.search_versions(f"tags.note = '{SQLISH[2]}'")
    assert [v.name for v in hits] == [SQLISH[2]]
    assert any_reg.search_versions("tags.note = 'x'' OR ''1''=''1'") == []
    for bad in ["name = 'a'; DROP TABLE eventreg_events; --", "1=1 OR", "name = 'x' UNION SELECT *",
                "tags.note = x'; --"]:
        with pytest.raises(FilterSyntaxError):
            any_reg.search_versions(bad)
    assert any_reg.log.verify().ok
    assert any_reg.log.head().position == len(list(any_reg.log.read_all()))


# -- size limits -------------------------------------------------------------------------------


def test_a_10_mb_tag_value_is_refused_and_nothing_is_written(reg):
    """
    Row "10 MB tag values".
    """
    reg.register_version("m", code=None)
    head = reg.log.head()
    huge = "x" * (10 * 2**20)
    for call in (lambda: reg.set_version_tag("m", 1, "k", huge),
                 lambda: reg.set_model_tag("m", "k", huge),
                 lambda: reg.register_version("m", code=None, tags={"k": huge}),
                 lambda: reg.create_model("other", tags={"k": huge})):
        with pytest.raises(ValidationError) as info:
            call()
        assert "limit" in str(info.value) and len(str(info.value)) < 300
    assert reg.log.head() == head


def test_100000_params_are_refused_and_nothing_is_written(reg):
    """
    Row "100,000 params".
    """
    reg.register_version("m", code=None)
    head = reg.log.head()
    params = {f"p{i}": i for i in range(100_000)}
    with pytest.raises(ValidationError, match="limit"):
        reg.register_version("m", code=None, params=params)
    run = reg.start_run("exp")
    head = reg.log.head()
    with pytest.raises(ValidationError, match="limit"):
        run.log_params(params)
    assert reg.log.head() == head


def test_params_over_the_total_limit_in_several_calls_are_refused(reg):
    """
    Row "100,000 params": the limit also holds when they come in several calls.
    """
    run = reg.start_run("exp")
    run.log_params({f"a{i}": i for i in range(6_000)})
    head = reg.log.head()
    with pytest.raises(ValidationError, match="10,000"):
        run.log_params({f"b{i}": i for i in range(6_000)})  # message: "more than 10,000 params"
    assert reg.log.head() == head


# -- NaN and infinities ------------------------------------------------------------------------


def test_nan_and_infinite_metrics_are_kept_exactly(sqlite_url, tmp_path):
    """
    Row "NaN/Inf metrics": stored, read back as such, searchable without errors.
    """
    artifacts = f"file://{tmp_path / 'artifacts'}"
    with eventreg.open(sqlite_url, artifacts=artifacts, actor="t", snapshot_every=0) as reg:
        reg.register_version("m", code=None, metrics={"nan": math.nan, "inf": math.inf, "ninf": -math.inf})
        reg.log_metric("m", 1, "loss", math.nan, step=1)
        reg.log_metric("m", 1, "loss", math.inf, step=2)
        assert reg.log.verify().ok
        assert reg.search_versions("metrics.inf > 1e308")[0].version == 1
        assert reg.search_versions("metrics.nan > 0") == []
    with eventreg.open(sqlite_url, artifacts=artifacts, actor="t", snapshot_every=0) as again:
        metrics = again.get_version("m", 1).metrics
        assert math.isnan(metrics["nan"]) and metrics["inf"] == math.inf and metrics["ninf"] == -math.inf
        history = again.get_metric_history("m", 1, "loss")
        assert math.isnan(history[0].value) and history[1].value == math.inf


# -- non-UTF-8 ---------------------------------------------------------------------------------

SURROGATE = b"mod\xe8le".decode("utf-8", "surrogateescape")


@pytest.mark.parametrize("call", ["model-name", "bytes-name", "tag-value", "tag-key", "param-value",
                                  "description", "metric-key"])
def test_non_utf8_input_is_refused_and_nothing_is_written(reg, call):
    """
    Row "non-UTF-8 bytes".
    """
    reg.register_version("m", code=None)
    head = reg.log.head()
    calls = {
        "model-name": lambda: reg.register_version(SURROGATE, code=None),
        "bytes-name": lambda: reg.register_version(b"mod\xe8le", code=None),
        "tag-value": lambda: reg.set_version_tag("m", 1, "k", SURROGATE),
        "tag-key": lambda: reg.set_version_tag("m", 1, SURROGATE, "v"),
        "param-value": lambda: reg.register_version("m", code=None, params={"p": SURROGATE}),
        "description": lambda: reg.register_version("m", code=None, description=SURROGATE),
        "metric-key": lambda: reg.log_metric("m", 1, SURROGATE, 1.0),
    }
    with pytest.raises(ValidationError):
        calls[call]()
    assert reg.log.head() == head


# -- events from a newer eventreg --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["unknown-type", "newer-schema"])
def test_events_from_a_newer_eventreg_are_refused_by_name_never_skipped(sqlite_url, tmp_path, kind):
    """
    Row "unknown event types from a newer version".
    """
    artifacts = f"file://{tmp_path / 'artifacts'}"
    with eventreg.open(sqlite_url, artifacts=artifacts, actor="t", snapshot_every=0) as reg:
        reg.register_version("m", code=None)
        reg.promote("m", 1, alias="production")
    with open_log(sqlite_url) as log:
        if kind == "unknown-type":
            event = NewEvent("model.teleported", {"model": "m", "to": "mars"})
            name = "model.teleported"
        else:
            event = NewEvent("alias.promoted", {"model": "m", "alias": "staging", "version": 1,
                                                "previous": None, "hologram": True}, schema_version=99)
            name = "alias.promoted"
        (written,) = log.append("model:m", [event])
        log.append("model:m", [NewEvent("model.tag_set", {"model": "m", "key": "k", "value": "v"})])
    with pytest.raises(UnknownEventType) as info:
        eventreg.open(sqlite_url, artifacts=artifacts, actor="t", snapshot_every=0)
    assert name in str(info.value) and str(written.position) in str(info.value)


def test_a_registry_that_meets_a_newer_event_keeps_refusing(sqlite_url, tmp_path):
    """
    Row "unknown event types": an open registry does not skip the event and carry on.
    """
    artifacts = f"file://{tmp_path / 'artifacts'}"
    with eventreg.open(sqlite_url, artifacts=artifacts, actor="t", snapshot_every=0) as reg:
        reg.register_version("m", code=None)
        reg.log.append("model:m", [NewEvent("model.teleported", {"model": "m"})])
        reg.log.append("model:m", [NewEvent("model.tag_set", {"model": "m", "key": "k", "value": "v"})])
        for _ in range(2):
            with pytest.raises(UnknownEventType):
                reg.get_model("m")
        with pytest.raises(UnknownEventType):
            reg.register_version("m", code=None)
        assert reg.log.head().position == 4


# -- snapshots that lie ------------------------------------------------------------------------


def _registry_with_history(url, artifacts):
    with eventreg.open(url, artifacts=artifacts, actor="t", snapshot_every=0) as reg:
        for _ in range(3):
            reg.register_version("m", code=None)
        reg.promote("m", 1, alias="production")
        reg.promote("m", 2, alias="production")
        return reg.position


def _lying_snapshots(log, tmp_path):
    from eventreg.registry import _code_version

    true_state = fold(log.read_all())
    position = true_state.position
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    other = fold(log.read_all(limit=position - 1))
    beyond = fold(log.read_all())
    beyond.position = position + 1000
    return marker, {
        "garbage": b"\x00\xffnot a snapshot",
        "pickle": pickle.dumps(Exploit()),
        "zlib-pickle": __import__("zlib").compress(pickle.dumps(Exploit())),
        "stale-claims-newer": dump_state(other, _code_version()).replace(
            f'"position":{position - 1}'.encode(), f'"position":{position}'.encode()),
        "position-beyond-log": dump_state(beyond, _code_version()),
    }, position


@pytest.mark.parametrize("kind", ["garbage", "pickle", "zlib-pickle", "stale-claims-newer",
                                  "position-beyond-log", "other-log"])
def test_a_snapshot_that_lies_is_not_believed(sqlite_url, tmp_path, kind):
    """
    Row "a snapshot that lies": unreadable, foreign, stale or mispositioned snapshots are
    ignored (the registry folds the log instead) and never unpickled.
    """
    artifacts = f"file://{tmp_path / 'artifacts'}"
    position = _registry_with_history(sqlite_url, artifacts)
    with open_log(sqlite_url) as log:
        marker, lies, _ = _lying_snapshots(log, tmp_path)
        if kind == "other-log":
            with eventreg.open("memory://", artifacts=artifacts, actor="x", snapshot_every=0) as stranger:
                for _ in range(5):
                    stranger.register_version("m", code=None)
                stranger.promote("m", 4, alias="production")
                stranger.save_snapshot()
                data = stranger.log.latest_snapshot().data
            log.save_snapshot(position, data)
        else:
            log.save_snapshot(position, lies[kind])
        truth = _fresh_fold_text(log)
    with eventreg.open(sqlite_url, artifacts=artifacts, actor="t", snapshot_every=0) as reg:
        assert projection_text(reg._read_state()) == truth
        assert reg.get_alias("m", "production").version == 2
        assert len(reg.list_versions("m")) == 3
    assert not marker.exists(), "a pickle in a snapshot was executed"


def test_a_snapshot_with_a_forged_projection_is_not_believed(sqlite_url, tmp_path):
    """
    Row "a snapshot that lies": right position and hash, forged content (the registry
    trusts a snapshot only when an event in the hash chain vouches for its digest).
    """
    from eventreg.registry import _code_version

    artifacts = f"file://{tmp_path / 'artifacts'}"
    position = _registry_with_history(sqlite_url, artifacts)
    with open_log(sqlite_url) as log:
        forged = fold(log.read_all())
        forged.models["m"].aliases["production"] = 3
        log.save_snapshot(position, dump_state(forged, _code_version()))
    with eventreg.open(sqlite_url, artifacts=artifacts, actor="t", snapshot_every=0) as reg:
        assert reg.get_alias("m", "production").version == 2
        assert reg.get_version("m", "production").version == 2


# -- artifact names ----------------------------------------------------------------------------

TRAVERSALS = ["../escape", "a/../../escape", "/etc/passwd", "C:\\Windows\\evil", "..\\..\\evil",
              "nul\x00byte", "", "./..", "a/b/../../.."]


@pytest.mark.parametrize("name", TRAVERSALS, ids=range(len(TRAVERSALS)))
def test_traversal_and_absolute_artifact_paths_never_escape(reg, tmp_path, name):
    """
    Row "path traversal and absolute paths in artifact names": refused (nothing written),
    or — for an empty name, which means the run's artifact root, as in MLflow — recorded
    under a relative path that downloads inside the destination.
    """
    source = tmp_path / "file.txt"
    source.write_text("data")
    run = reg.start_run("exp")
    head = reg.log.head()
    try:
        run.log_artifact(source, artifact_path=name)
    except (UnsafePath, ValidationError):
        assert reg.log.head() == head
        return
    assert name == "", f"{name!r} was accepted"
    paths = list(reg.get_run(run.id).artifacts)
    assert paths and all(not p.startswith("/") and ".." not in p.split("/") for p in paths), paths
    from eventreg.artifacts import ArtifactStore

    manifest = {p: {"sha256": e.sha256, "size": e.size} for p, e in reg.get_run(run.id).artifacts.items()}
    dest = tmp_path / "dl"
    ArtifactStore(reg.artifacts_url).download(manifest, dest)
    assert all((dest / p).resolve().is_relative_to(dest.resolve()) for p in paths)


def test_a_forged_manifest_with_traversal_writes_nothing_outside_the_destination(reg, tmp_path):
    """
    Row "path traversal": a manifest put into the log by someone else (not through
    eventreg's checks) cannot make ``download`` write outside its destination.
    """
    from eventreg.artifacts import ArtifactStore

    store = ArtifactStore(reg.artifacts_url)
    entry = store.put_bytes(b"owned")
    reg.register_version("m", code=None)
    victim = tmp_path / "victim.txt"
    forged = {"model": "m", "version": 2, "label": None, "description": None, "params": {},
              "metrics": [], "tags": {}, "artifacts": {
                  "../../victim.txt": {"sha256": entry.sha256, "size": entry.size}},
              "model_info": None, "data": None, "code": None, "environment": {},
              "architecture": None, "run_id": None, "parents": []}
    base = reg.get_version("m", 1)
    try:
        reg.log.append("model:m", [NewEvent("version.registered", forged)])
        version = reg.get_version("m", 2)
    except (LogCorrupted, ValidationError, UnsafePath):
        return  # refused already when the event is read: fine
    dest = tmp_path / "out" / "dest"
    with pytest.raises(UnsafePath):
        reg.download("m", version.version, dest)
    assert not victim.exists() and not (tmp_path / "out" / "victim.txt").exists()
    assert base.version == 1


# -- pickles -----------------------------------------------------------------------------------


def test_a_replaced_object_is_not_returned_let_alone_unpickled(tmp_path):
    """
    Row "malicious pickles": the store hands out bytes only after their digest matches
    the manifest entry, so a pickle swapped in under a known digest is never loaded.
    """
    from eventreg import ArtifactIntegrityError
    from eventreg.artifacts import ArtifactStore

    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    store = ArtifactStore(f"file://{tmp_path / 'store'}")
    entry = store.put_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    path = store.object_key(entry.sha256)
    os.chmod(path, 0o644)
    with open(path, "wb") as f:
        f.write(pickle.dumps(Exploit()))
    with pytest.raises(ArtifactIntegrityError):
        pickle.loads(store.get_bytes(entry))
    with pytest.raises(ArtifactIntegrityError):
        store.download({"model.pkl": {"sha256": entry.sha256, "size": entry.size}}, tmp_path / "dl")
    assert not marker.exists()
    assert not (tmp_path / "dl" / "model.pkl").exists()


# -- URLs with passwords -----------------------------------------------------------------------


def test_a_registry_never_shows_its_password(postgres_url, tmp_path):
    """
    Row "URLs with passwords": repr of the registry and its log, and errors, hide it.
    """
    from sqlalchemy.engine import make_url

    secret = "hunter2-S3cr3t"
    url = make_url(postgres_url).set(password=secret).render_as_string(hide_password=False)
    with eventreg.open(url, artifacts=f"file://{tmp_path / 'a'}", actor="t", snapshot_every=0) as reg:
        reg.register_version("m", code=None)
        assert secret not in repr(reg) and secret not in repr(reg.log) and secret not in reg.log.url
        with pytest.raises(NotFound) as info:
            reg.get_version("m", 7)
        assert secret not in str(info.value)


def test_an_artifact_store_url_with_credentials_is_not_echoed(tmp_path):
    """
    Row "URLs with passwords": an object-store URL with a secret in it.
    """
    from eventreg.artifacts import ArtifactStore

    secret = "hunter2-S3cr3t"
    store = ArtifactStore(f"memory://user:{secret}@bucket/prefix")
    assert secret not in repr(store)
