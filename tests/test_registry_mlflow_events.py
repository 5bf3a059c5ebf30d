"""
The events MLflow's stores need, in eventreg's own API, on every backend: original times
of runs and metrics (an import, a client's clock), webhooks, experiment and run lifecycle.
Each test reopens the log, so what it checks was folded from the stored events.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import eventreg
from eventreg.errors import ValidationError


def _open(url, tmp_path):
    return eventreg.open(url, artifacts=f"file://{tmp_path / 'artifacts'}", actor="alice")


def test_a_run_keeps_the_times_it_really_started_ended_and_measured(any_log_url, tmp_path):
    started = datetime(2021, 3, 3, 14, 0, tzinfo=timezone.utc)
    with _open(any_log_url, tmp_path) as reg:
        run = reg.start_run("imported", started_at=started, code=None, capture="off")
        run.log_metrics({"loss": 0.5}, step=1, timestamp=started + timedelta(minutes=1))
        run.log_metrics({"loss": 0.25}, step=2)  # measured now
        run.end("FINISHED", ended_at=datetime(2021, 3, 3, 15, 30, tzinfo=timezone(timedelta(hours=1))))
        run_id = run.id
    with _open(any_log_url, tmp_path) as reg:
        found = reg.get_run(run_id)
        assert found.started_at == started
        assert found.ended_at == datetime(2021, 3, 3, 14, 30, tzinfo=timezone.utc)  # kept in UTC
        history = reg.get_run_metric_history(run_id, "loss")
        assert [p.timestamp for p in history][0] == started + timedelta(minutes=1)
        assert history[1].timestamp > datetime(2025, 1, 1, tzinfo=timezone.utc)
        # the append time is kept as well: the log says when eventreg recorded the start
        recorded = [e for e in reg.events() if e.type == "run.started"][0]
        assert recorded.recorded_at > datetime(2025, 1, 1, tzinfo=timezone.utc)


def test_an_original_time_must_be_timezone_aware(tmp_path, memory_url):
    with _open(memory_url, tmp_path) as reg:
        with pytest.raises(ValidationError, match="started_at must be timezone-aware"):
            reg.start_run("e", started_at=datetime(2021, 1, 1), code=None, capture="off")
        run = reg.start_run("e", code=None, capture="off")
        with pytest.raises(ValidationError, match="timestamp must be a datetime"):
            run.log_metrics({"a": 1.0}, timestamp=1234)
        assert reg.get_run(run.id).metrics == {}


def test_webhooks_are_events_folded_from_their_streams(any_log_url, tmp_path):
    with _open(any_log_url, tmp_path) as reg:
        hook = reg.create_webhook("deployer", "https://example.com/hook", ["alias.promoted"],
                                  description="redeploy", secret="ciphertext")
        other = reg.create_webhook("audit", "http://audit.example.com/in", ["version.registered", "alias.promoted"])
        before_update = reg.head().position
        reg.update_webhook(hook.id, status="DISABLED", url="https://example.com/v2")
        reg.delete_webhook(other.id)
    with _open(any_log_url, tmp_path) as reg:
        found = reg.get_webhook(hook.id)
        assert (found.url, found.status, found.events, found.secret) == (
            "https://example.com/v2", "DISABLED", ("alias.promoted",), "ciphertext")
        assert found.actor == "alice" and found.updated_at > found.created_at
        assert [w.id for w in reg.list_webhooks()] == [hook.id]
        assert reg.list_webhooks("version.registered") == []
        then = reg.as_of(before_update)  # time travel: both existed, the first still active
        assert [w.id for w in then.list_webhooks("alias.promoted")] == [other.id, hook.id]
        assert then.get_webhook(hook.id).status == "ACTIVE"
        with pytest.raises(eventreg.NotFound, match="no webhook"):
            reg.get_webhook(other.id)
        with pytest.raises(eventreg.NotFound):
            reg.delete_webhook(other.id)
        assert [e.type for e in reg.events() if e.stream_id == f"webhook:{hook.id}"] == [
            "webhook.created", "webhook.updated"]


def test_a_webhook_needs_an_http_url_and_events(memory_url, tmp_path):
    with _open(memory_url, tmp_path) as reg:
        with pytest.raises(ValidationError, match="not an http:// or https:// URL"):
            reg.create_webhook("w", "ftp://example.com", ["alias.promoted"])
        with pytest.raises(ValidationError, match="at least one event"):
            reg.create_webhook("w", "https://example.com", [])
        with pytest.raises(ValidationError, match="status must be one of ACTIVE, DISABLED"):
            reg.create_webhook("w", "https://example.com", ["a"], status="PAUSED")
        assert reg.list_webhooks() == []


def test_experiments_have_numbers_tags_and_a_lifecycle(any_log_url, tmp_path):
    with _open(any_log_url, tmp_path) as reg:
        first = reg.create_experiment("churn", tags={"team": "growth"})
        second = reg.create_experiment("fraud")
        assert first.id < second.id  # a number nobody else gets: the position that created it
        reg.set_experiment_tag("churn", "stage", "pilot")
        reg.delete_experiment_tag("churn", "team")
        kept = reg.start_run("churn", code=None, capture="off")
        dropped = reg.start_run("churn", code=None, capture="off")
        reg.delete_run(dropped.id, reason="wrong data")
        reg.delete_experiment("fraud")
    with _open(any_log_url, tmp_path) as reg:
        churn = next(e for e in reg.list_experiments() if e.name == "churn")
        assert (churn.id, churn.tags, churn.deleted_run_ids) == (first.id, {"stage": "pilot"}, (dropped.id,))
        assert [e.name for e in reg.list_experiments()] == ["churn"]
        assert [e.name for e in reg.list_experiments(deleted=True)] == ["fraud"]
        assert [r.id for r in reg.search_runs("churn")] == [kept.id]
        assert [r.id for r in reg.search_runs("churn", deleted=True)] == [dropped.id]
        with pytest.raises(eventreg.InvalidTransition, match="is deleted"):
            eventreg.ActiveRun(reg, dropped.id, "churn").log_param("lr", 0.1)  # a deleted run takes no events
        with pytest.raises(eventreg.InvalidTransition, match="experiment 'fraud' is deleted"):
            reg.start_run("fraud", code=None, capture="off")
        with pytest.raises(eventreg.AlreadyExists):
            reg.create_experiment("fraud")  # a deleted experiment keeps its name
        reg.restore_run(dropped.id)
        reg.restore_experiment("fraud")
        assert {r.id for r in reg.search_runs("churn")} == {kept.id, dropped.id}
        assert [e.name for e in reg.list_experiments()] == ["churn", "fraud"]
        again = eventreg.ActiveRun(reg, kept.id, "churn")
        again.set_tag("note", "x")
        again.delete_tag("note")
        assert "note" not in reg.get_run(kept.id).tags
        types = [e.type for e in reg.events()]
        for wanted in ("experiment.tag_set", "experiment.tag_deleted", "experiment.deleted", "experiment.restored",
                       "run.deleted", "run.restored", "run.tag_deleted"):
            assert wanted in types


def test_deleting_a_model_frees_its_name_and_keeps_its_history(any_log_url, tmp_path):
    with _open(any_log_url, tmp_path) as reg:
        for _ in range(3):
            reg.register_version("iris", code=None, capture="off")
        reg.promote("iris", 2, alias="staging")
        reg.promote("iris", 3, alias="production")
        reg.promote("iris", 1, alias="canary")
        reg.delete_version("iris", 3, reason="bad build")
        reg.remove_alias("iris", "canary", reason="experiment over")
        before_delete = reg.head().position
        reg.delete_model("iris", reason="retired")
        reg.register_version("iris", code=None, capture="off")  # the name is free again
    with _open(any_log_url, tmp_path) as reg:
        then = reg.as_of(before_delete)
        assert [v.version for v in then.list_versions("iris")] == [1, 2]  # 3 deleted: hidden
        assert then.get_model("iris").aliases == {"staging": 2}  # production went with version 3
        assert then.get_model("iris").latest_version == 2
        with pytest.raises(eventreg.NotFound):
            then.get_version("iris", 3)
        [tenure] = then.alias_history("iris", "canary")  # removed: its one tenure ended
        assert (tenure.version, tenure.until_position) == (1, before_delete)  # the removal
        now = reg.get_model("iris")
        assert (now.latest_version, now.aliases) == (1, {})
        types = [e.type for e in reg.history("iris")]
        assert ["version.deleted", "alias.removed", "model.deleted", "model.created"] == [
            t for t in types if t in ("version.deleted", "alias.removed", "model.deleted", "model.created")][1:]


def test_a_protected_alias_is_not_removed_or_deleted_with_its_version(memory_url, tmp_path):
    with _open(memory_url, tmp_path) as reg:
        reg.register_version("iris", code=None, capture="off")
        reg.promote("iris", 1, alias="production")
        reg.enable_governance()
        reg.protect("iris", "production", approvals=1, approvers=["bob"])
        for attempt in (lambda: reg.remove_alias("iris", "production"), lambda: reg.delete_version("iris", 1),
                        lambda: reg.delete_model("iris")):
            with pytest.raises(eventreg.PolicyViolation, match="is protected"):
                attempt()
        assert reg.get_model("iris").aliases == {"production": 1}


def test_a_metric_key_may_contain_a_slash(any_log_url, tmp_path):
    with _open(any_log_url, tmp_path) as reg:
        with reg.start_run("e", code=None, capture="off") as run:
            run.log_metric("train/loss", 0.5, step=1)
            run.log_metric("val/loss", 0.7, step=1)
        with pytest.raises(ValidationError, match="must not contain '@'"):
            eventreg.ActiveRun(reg, run.id, "e").log_metric("a@b", 1.0)
    with _open(any_log_url, tmp_path) as reg:
        assert [p.value for p in reg.get_run_metric_history(run.id, "train/loss")] == [0.5]
        assert [r.id for r in reg.search_runs("e", "metrics.`val/loss` > 0.6")] == [run.id]
        with pytest.raises(ValidationError, match="must not contain '/'"):
            reg.create_model("a/b")  # names in references and streams still may not


def test_mlflow_stages_are_a_versions_status(any_log_url, tmp_path):
    with _open(any_log_url, tmp_path) as reg:
        for _ in range(3):
            reg.register_version("iris", code=None, capture="off")
        reg.set_version_stage("iris", 1, "PRODUCTION")
        reg.set_version_stage("iris", 2, "PRODUCTION")  # two may share a stage
        reg.set_version_stage("iris", 3, "PRODUCTION", archive_existing=True, reason="v3 is live")
        with pytest.raises(ValidationError, match="archive_existing needs the stage STAGING or PRODUCTION"):
            reg.set_version_stage("iris", 1, "READY", archive_existing=True)
        with pytest.raises(ValidationError, match="stage must be one of"):
            reg.set_version_stage("iris", 1, "Production")
    with _open(any_log_url, tmp_path) as reg:
        assert [(v.version, v.status) for v in reg.list_versions("iris")] == [
            (1, "ARCHIVED"), (2, "ARCHIVED"), (3, "PRODUCTION")]
        assert reg.get_version("iris", 3).status_reason == "v3 is live"
        reg.promote("iris", 3, alias="production")  # a stage does not block promotion
