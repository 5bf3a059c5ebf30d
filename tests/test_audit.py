"""
The audit side of the registry: history, alias history, diff, head and verify.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import eventreg
from eventreg import NotFound, ValidationError


def _deployments(reg):
    """
    iris versions 1, 2, 3; production: version 1 (alice), 2 (bob), back to 1 (carol).
    """
    reg.create_model("iris", description="flowers")
    for lr in (0.1, 0.2, 0.3):
        reg.register_version("iris", params={"lr": lr}, metrics={"acc": 0.8 + lr / 10}, code=None)
    reg.promote("iris", 1, alias="production", reason="first model")
    bob = eventreg.Registry(reg.log, artifacts=reg.artifacts_url, actor="bob")
    bob.promote("iris", 2, alias="production", reason="better accuracy")
    carol = eventreg.Registry(reg.log, artifacts=reg.artifacts_url, actor="carol")
    carol.rollback("iris", alias="production", reason="latency regression")
    reg.register_version("other", code=None)


def test_history_lists_who_what_when_and_why_oldest_first(reg):
    _deployments(reg)
    events = reg.history("iris")
    assert [e.type for e in events] == ["model.created", *["version.registered"] * 3, "alias.promoted",
                                        "alias.promoted", "alias.rolled_back"]
    assert [e.position for e in events] == sorted(e.position for e in events)
    moves = events[-3:]
    assert [(e.actor, e.version, e.alias, e.reason) for e in moves] == [
        ("alice", 1, "production", "first model"),
        ("bob", 2, "production", "better accuracy"),
        ("carol", 1, "production", "latency regression"),
    ]
    assert moves[1].summary == "promoted iris version 2 to production (was version 1)"
    assert moves[2].summary == "rolled production of iris back to version 1 (from version 2)"
    assert all(e.model == "iris" and e.recorded_at.tzinfo is not None and len(e.hash) == 64 for e in events)
    everything = reg.history()
    assert len(everything) == reg.head().position
    assert {e.model for e in everything} == {"iris", "other"}


def test_history_filters_by_actor_type_and_period(reg):
    _deployments(reg)
    assert [e.actor for e in reg.history(actor="bob")] == ["bob"]
    moves = reg.history("iris", types=["alias.promoted", "alias.rolled_back"])
    assert [e.version for e in moves] == [1, 2, 1]
    assert [e.type for e in reg.history(types="alias.rolled_back")] == ["alias.rolled_back"]
    promoted_at = moves[0].position
    assert [e.position for e in reg.history(since=promoted_at, until=promoted_at + 1)] == [promoted_at, promoted_at + 1]
    assert [e.position for e in reg.history("iris", since=str(promoted_at + 2))] == [promoted_at + 2]
    moment = moves[1].recorded_at
    assert [e.version for e in reg.history("iris", until=moment, types=["alias.promoted"])] == [1, 2]
    assert reg.history(since=moment.isoformat()) == reg.history(since=moves[1].position)
    assert reg.history(until=datetime(2000, 1, 1, tzinfo=timezone.utc)) == []
    with pytest.raises(ValidationError, match="unknown event type"):
        reg.history(types=["alias.promote"])
    with pytest.raises(ValidationError, match="not a moment"):
        reg.history(since="yesterday")
    with pytest.raises(NotFound, match="nope"):
        reg.history("nope")


def test_alias_history_gives_each_holder_with_its_interval(reg):
    _deployments(reg)
    tenures = reg.alias_history("iris", "production")
    assert [(t.version, t.action, t.actor, t.reason, t.previous) for t in tenures] == [
        (1, "promote", "alice", "first model", None),
        (2, "promote", "bob", "better accuracy", 1),
        (1, "rollback", "carol", "latency regression", 2),
    ]
    assert tenures[0].until == tenures[1].since and tenures[0].until_position == tenures[1].since_position
    assert tenures[-1].until is None and tenures[-1].current and not tenures[0].current
    with pytest.raises(NotFound, match="no alias 'staging'"):
        reg.alias_history("iris", "staging")


def test_events_is_a_plain_iterator_over_the_log(reg):
    _deployments(reg)
    everything = list(reg.log.read_all())
    assert list(reg.events()) == everything
    assert list(reg.events(5)) == everything[4:]
    iterator = reg.events(1)
    assert next(iterator).position == 1
    with pytest.raises(ValidationError):
        reg.events(0)


def test_diff_between_two_moments(reg):
    reg.create_model("iris")
    reg.register_version("iris", metrics={"acc": 0.9}, tags={"stage": "dev"}, code=None)
    reg.promote("iris", 1, alias="production")
    before = reg.head().position
    reg.register_version("iris", code=None)
    reg.promote("iris", 2, alias="production")
    reg.set_version_tag("iris", 1, "stage", "retired")
    reg.log_metric("iris", 1, "acc", 0.7)
    reg.deprecate_version("iris", 1, reason="old")
    reg.create_model("cats", tags={"team": "pets"})
    diff = reg.diff(before, reg.head().position)
    assert [(c.model, c.version) for c in diff.versions_added] == [("iris", 2)]
    assert [c.model for c in diff.models_added] == ["cats"]
    assert [(c.key, c.before, c.after) for c in diff.aliases_moved] == [("production", 1, 2)]
    assert [(c.version, c.key, c.before, c.after) for c in diff.tags_changed] == [(1, "stage", "dev", "retired")]
    assert [(c.key, c.before, c.after) for c in diff.metrics_changed] == [("acc", 0.9, 0.7)]
    assert [(c.before, c.after) for c in diff.statuses_changed] == [("READY", "DEPRECATED")]
    assert diff.a_position == before and bool(diff)
    backwards = reg.diff(reg.head().position, before)
    assert [(c.model, c.version) for c in backwards.versions_removed] == [("iris", 2)]
    assert [(c.before, c.after) for c in backwards.aliases_moved] == [(2, 1)]
    assert not reg.diff(before, before)
    by_time = reg.diff("2000-01-01T00:00:00Z", datetime.now(timezone.utc) + timedelta(days=1))
    assert by_time.a_position == 0 and by_time.b_position == reg.head().position
    assert {c.model for c in by_time.models_added} == {"iris", "cats"}
    with pytest.raises(ValidationError, match="after the log's head"):
        reg.diff(0, reg.head().position + 1)


def test_head_and_verify_with_an_expected_head(reg):
    _deployments(reg)
    head = reg.head()
    assert head == reg.log.head() and head.position == 9
    report = reg.verify()
    assert report.ok and report.checked == 9 and report.head == head and bool(report)
    reg.promote("iris", 3, alias="production")  # the log grows after the head was published
    assert reg.verify(expected_head=head).ok
    assert reg.verify(expected_head=str(head)).ok
    assert reg.verify(expected_head=(head.position, head.hash)).ok
    wrong = reg.verify(expected_head=(head.position, "0" * 64))
    assert not wrong.ok and wrong.first_bad_position == head.position and "rewritten" in wrong.problem
    beyond = reg.verify(expected_head=(99, head.hash))
    assert not beyond.ok and "truncated" in beyond.problem


def test_verify_names_the_first_edited_event(sqlite_url, tmp_path):
    with eventreg.open(sqlite_url, artifacts=f"file://{tmp_path / 'a'}", actor="alice") as reg:
        _deployments(reg)
        head = reg.head()
    database = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as conn:  # an insider rewrites who promoted version 2
        conn.execute("UPDATE eventreg_events SET actor = 'mallory' WHERE position = 6")
    with eventreg.open(sqlite_url, artifacts=f"file://{tmp_path / 'a'}", actor="alice", snapshot_every=0) as reg:
        report = reg.verify(expected_head=head)
        assert not report.ok and report.first_bad_position == 6 and "edited" in report.problem
        assert report.checked == 5


def test_verify_with_artifacts_lists_missing_and_changed_objects(reg, tmp_path):
    for name, text in (("a.txt", "alpha"), ("b.txt", "bravo")):
        folder = tmp_path / name.split(".")[0]
        folder.mkdir()
        (folder / name).write_text(text)
        reg.register_version("iris", artifacts=folder, code=None)
    report = reg.verify(artifacts=True)
    assert report.ok and report.artifacts_checked == 2 and report.artifact_problems == ()
    stored = {p.read_bytes(): p for p in Path(tmp_path / "artifacts").rglob("*") if p.is_file()}
    stored[b"alpha"].write_bytes(b"alphX")
    stored[b"bravo"].unlink()
    report = reg.verify(artifacts=True)
    assert not report.ok
    problems = {(p.owner, p.path): p.problem for p in report.artifact_problems}
    assert set(problems) == {("iris version 1", "a.txt"), ("iris version 2", "b.txt")}
    assert "changed" in problems[("iris version 1", "a.txt")]
    assert "missing" in problems[("iris version 2", "b.txt")]
    assert report.first_bad_position == reg.get_version("iris", 1).position
    assert reg.verify().ok  # the chain itself is fine


def test_history_head_and_verify_through_the_cli(sqlite_url, tmp_path):
    from click.testing import CliRunner

    from eventreg.cli import cli

    url = sqlite_url
    with eventreg.open(url, artifacts=f"file://{tmp_path / 'a'}", actor="alice") as reg:
        _deployments(reg)
        head = reg.head()
    runner = CliRunner()
    base = ["--url", url, "--artifacts", f"file://{tmp_path / 'a'}"]
    done = runner.invoke(cli, [*base, "verify", "--expected-head", str(head)])
    assert done.exit_code == 0 and "9 events checked" in done.output, done.output
    done = runner.invoke(cli, [*base, "--json", "history", "iris", "--type", "alias.promoted"])
    assert done.exit_code == 0 and '"better accuracy"' in done.output, done.output
    done = runner.invoke(cli, [*base, "head"])
    assert done.output.strip() == str(head)


def test_numbers_read_as_numbers_and_labels_as_labels(reg):
    # "v2" is a label (of version 3 here): a summary or a comparison never calls version 2 "v2"
    reg.register_version("iris", code=None, params={"depth": 1})
    reg.register_version("iris", code=None, params={"depth": 2})
    reg.register_version("iris", code=None, params={"depth": 3}, label="v2")
    reg.promote("iris", 2, alias="production")
    reg.promote("iris", "v2", alias="production")
    summaries = [e.summary for e in reg.history("iris")]
    assert "registered iris version 3 labelled v2" in summaries
    assert "promoted iris version 3 to production (was version 2)" in summaries
    assert not any(" v2 " in text.replace("labelled v2", "") or "(was v2)" in text for text in summaries)
    assert reg.get_version("iris", "v2").version == 3
    shown = str(reg.compare("iris", [2, "v2"]))
    assert shown.splitlines()[0].split() == ["version", "2", "version", "3"]
