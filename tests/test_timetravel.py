"""
Time travel: ``reg.as_of(when)`` answers every query as the registry did at that moment.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

import eventreg
from eventreg import NotFound, ReadOnlyError, ValidationError, snapshots, timetravel
from eventreg.domain.codec import to_new_event
from eventreg.domain.events import SNAPSHOT_STREAM, SnapshotSaved
from eventreg.domain.state import fold, snapshot_digest


QUERIES = [
    lambda r: r.list_models(),
    lambda r: r.get_model("iris"),
    lambda r: r.list_versions("iris"),
    lambda r: r.get_version("iris", "production"),
    lambda r: r.resolve("models:/iris@production"),
    lambda r: r.resolve("models:/iris/latest"),
    lambda r: r.search_versions("metrics.acc >= 0.85", order_by=["metrics.acc DESC"]),
    lambda r: r.get_alias("iris", "production"),
    lambda r: r.compare("iris", [1, 2]),
    lambda r: r.get_metric_history("iris", 1, "acc"),
    lambda r: r.list_experiments(),
    lambda r: r.search_runs(),
]


def _answers(reader):
    out = []
    for query in QUERIES:
        try:
            out.append(query(reader))
        except NotFound as e:
            out.append(("NotFound", str(e)))
    return out


def _steps(reg):
    """
    Build a history step by step; yield after each step so the test can record answers.
    """
    reg.create_model("iris", tags={"team": "a"})
    yield
    with reg.start_run("exp", code=None) as run:
        run.log_metric("loss", 0.5)
    reg.register_version("iris", run=run.id, metrics={"acc": 0.8}, code=None)
    yield
    reg.register_version("iris", metrics={"acc": 0.9}, label="v1.1", code=None)
    reg.promote("iris", 1, alias="production", reason="first")
    yield
    reg.promote("iris", 2, alias="production", reason="better")
    reg.log_metric("iris", 1, "acc", 0.85)
    yield
    reg.rollback("iris", alias="production", reason="regression")
    reg.set_model_tag("iris", "team", "b")
    reg.deprecate_version("iris", 2, reason="bad")
    yield


def test_as_of_answers_every_query_as_the_registry_did_then(reg):
    recorded = []
    for _ in _steps(reg):
        recorded.append((reg.head().position, _answers(reg)))
    for position, answers in recorded:
        view = reg.as_of(position)
        assert view.position == position
        assert _answers(view) == answers, f"as_of({position}) differs"


def test_as_of_a_time_is_every_event_recorded_by_then(reg):
    moments = []
    for _ in _steps(reg):
        time.sleep(0.002)
        moments.append((datetime.now(timezone.utc), reg.head().position, _answers(reg)))
        time.sleep(0.002)
    for moment, position, answers in moments:
        for when in (moment, moment.isoformat(), moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                     moment.replace(tzinfo=None)):
            view = reg.as_of(when)
            assert view.position == position and view.moment == moment
            assert _answers(view) == answers


def test_what_was_in_production_and_who_put_it_there_is_one_call(reg):
    reg.register_version("iris", code=None)
    reg.register_version("iris", code=None)
    reg.promote("iris", 1, alias="production", reason="launch")
    time.sleep(0.002)
    then = datetime.now(timezone.utc)
    time.sleep(0.002)
    bob = eventreg.Registry(reg.log, artifacts=reg.artifacts_url, actor="bob")
    bob.promote("iris", 2, alias="production", reason="v2 is better")
    alias = reg.as_of(then).get_alias("iris", "production")
    assert (alias.version, alias.actor, alias.reason) == (1, "alice", "launch")
    now = reg.get_alias("iris", "production")
    assert (now.version, now.actor, now.reason) == (2, "bob", "v2 is better")


def test_the_view_equals_a_fresh_fold_and_does_not_change_later(reg):
    list(_steps(reg))
    middle = reg.head().position // 2
    view = reg.as_of(middle)
    expected = fold(reg.log.read_all(limit=middle))
    assert view._state == expected and view.head() == (middle, expected.last_hash)
    before = view.list_versions("iris")
    reg.register_version("iris", code=None)
    assert view.list_versions("iris") == before
    assert [e.position for e in view.history()] == list(range(1, middle + 1))
    assert [e.position for e in view.events()] == list(range(1, middle + 1))


def test_as_of_uses_a_snapshot_only_inside_its_prefix(url, tmp_path):
    arts = f"file://{tmp_path / 'a'}"
    with eventreg.open(url, artifacts=arts, actor="alice") as reg:
        list(_steps(reg))
        reg.save_snapshot()
        head = reg.head().position
        reg.register_version("iris", code=None)
        for position in (0, 3, head, head + 1):
            assert reg.as_of(position)._state == fold(reg.log.read_all(limit=position))


def test_as_of_answers_the_same_with_snapshots_along_the_log_as_without(any_log_url, tmp_path):
    arts = f"file://{tmp_path / 'a'}"
    times = []
    with eventreg.open(any_log_url, artifacts=arts, actor="alice", snapshot_every=0) as reg:
        for _ in _steps(reg):
            times.append(reg.history()[-1].recorded_at)
        head = reg.head().position
        positions = range(head + 1)
        plain = [reg.as_of(p)._state for p in positions]
        by_time = [reg.as_of(t)._state for t in times]
        answers = [_answers(reg.as_of(p)) for p in positions]
    with eventreg.open(any_log_url, artifacts=arts, actor="alice", snapshot_every=0) as reg:
        saved = []
        for position in (3, 5, head - 1):  # snapshots of earlier prefixes, as a long-running registry keeps
            state = fold(reg.log.read_all(limit=position))
            saved.append(position)
            reg.log.save_snapshot(position, snapshots.dump(state, eventreg.__version__))
            reg.log.append(SNAPSHOT_STREAM, [to_new_event(SnapshotSaved(
                position=position, digest=snapshot_digest(snapshots.dump(state, eventreg.__version__)),
                format=snapshots.EVENT_FORMAT, code_version=eventreg.__version__), actor="alice")])
        for p in positions:
            start = timetravel._snapshot_start(reg.log, p, reg.head().position, eventreg.__version__)
            assert (start.position if start else 0) == max([s for s in saved if s <= p], default=0), p
            assert reg.as_of(p)._state == plain[p] and _answers(reg.as_of(p)) == answers[p], p
        assert [reg.as_of(t)._state for t in times] == by_time


def test_as_of_never_starts_from_a_snapshot_the_log_does_not_vouch_for(reg):
    from eventreg.domain.state import dump_state

    list(_steps(reg))
    forged = fold(reg.log.read_all())
    forged.models["iris"].aliases["production"] = 2  # history rewritten in the snapshot only
    reg.log.save_snapshot(forged.position, dump_state(forged, eventreg.__version__))
    for position in (forged.position, reg.head().position):
        assert reg.as_of(position).get_model("iris").aliases == {"production": 1}


def test_commands_on_a_view_raise_read_only_error(reg):
    list(_steps(reg))
    view = reg.as_of(3)
    for command in (lambda: view.promote("iris", 1, alias="x"), lambda: view.create_model("new"),
                    lambda: view.register_version("iris"), lambda: view.start_run(),
                    lambda: view.rollback("iris", alias="production"), lambda: view.log_metric("iris", 1, "a", 1)):
        with pytest.raises(ReadOnlyError, match="read-only view as of position 3"):
            command()
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        view.nonsense
    assert reg.head().position > 3  # nothing was written by the attempts
    assert isinstance(ReadOnlyError("x"), PermissionError)


COMMANDS = {"archive_model", "archive_version", "close", "create_model", "delete_model_tag", "delete_version_tag",
            "deprecate_version", "log_metric", "log_metrics", "promote", "register_version", "reproduce", "rollback",
            "save_snapshot", "set_model_tag", "set_version_tag", "start_run", "subscribe", "update_model",
            "update_version", "approve", "emergency_rollback", "enable_governance", "grant_role", "protect",
            "register_key", "reject", "request_promotion", "request_rollback", "revoke_key", "revoke_role",
            "rotate_key", "sign_with", "unprotect", "withdraw", "create_webhook", "update_webhook",
            "delete_webhook", "create_experiment", "delete_experiment", "delete_experiment_tag", "delete_run",
            "restore_experiment", "restore_run", "set_experiment_tag", "delete_model", "delete_version", "remove_alias",
            "set_version_stage", "rename_experiment", "rename_run", "set_run_status"}
WHOLE_LOG = {"diff", "verify"}  # reads of the whole log: on the registry only


def test_the_view_has_every_read_method_of_the_registry_and_no_command(reg):
    from eventreg.registry import Registry

    view = reg.as_of(0)
    public = {n for n in dir(Registry) if not n.startswith("_") and callable(getattr(Registry, n))}
    reads = public - COMMANDS - WHOLE_LOG
    assert {"get_version", "search_versions", "history", "alias_history", "events", "head", "as_of", "check",
            "audit_report", "download", "load_model"} <= reads
    for name in sorted(reads):  # a new read method on Registry must work on views too
        assert callable(getattr(view, name)), name
    for name in sorted(COMMANDS):
        assert name in public, name
        with pytest.raises(ReadOnlyError):
            getattr(view, name)
    for name in sorted(WHOLE_LOG):
        with pytest.raises(AttributeError, match="call it on the registry itself"):
            getattr(view, name)


def test_reads_on_the_registry_and_on_a_view_are_one_implementation(reg):
    from eventreg.registry import Registry
    from eventreg.view import RegistryView

    from eventreg.artifact_reads import ArtifactReads

    list(_steps(reg))
    for name in ("get_version", "search_versions", "history", "audit_report", "as_of"):
        assert getattr(Registry, name).__wrapped__ is getattr(RegistryView, name)
    assert Registry.download.__wrapped__ is ArtifactReads.download  # composed into both, like webhooks
    assert reg.as_of(1).download.__func__ is ArtifactReads.download
    view = reg.as_of(reg.head().position)
    assert view.get_version("iris", "production") == reg.get_version("iris", "production")
    assert view.history() == reg.history()
    assert view.check("iris", 2, require=["version >= 2"]) == reg.check("iris", 2, require=["version >= 2"])


def test_reading_artifacts_of_a_past_version_works_on_a_view(reg, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"old weights")
    reg.register_version("iris", artifacts=folder, code=None)
    reg.promote("iris", 1, alias="production")
    at = reg.head().position
    (folder / "weights.bin").write_bytes(b"new weights")
    reg.register_version("iris", artifacts=folder, code=None)
    reg.promote("iris", 2, alias="production")
    out = reg.as_of(at).download("iris", "production", tmp_path / "out")
    assert (out / "weights.bin").read_bytes() == b"old weights"


def test_moments_that_are_not_valid(reg):
    reg.register_version("iris", code=None)
    for bad in ("yesterday", -1, True, 1.5, None):
        with pytest.raises(ValidationError):
            reg.as_of(bad)
    with pytest.raises(ValidationError, match="after the log's head"):
        reg.as_of(reg.head().position + 1)
    assert reg.as_of(0).list_models() == []
    assert reg.as_of("2000-01-01").list_models() == []
    assert reg.as_of(datetime.now(timezone.utc) + timedelta(days=1)).position == reg.head().position
    assert reg.as_of(str(reg.head().position)).position == reg.head().position
    with pytest.raises(NotFound):
        reg.as_of(0).get_model("iris")
