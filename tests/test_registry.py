"""
The registry as users call it, on the embedded default (SQLite) and in memory.
"""

from __future__ import annotations

import math
import subprocess

import pytest

import eventreg
from eventreg import (
    AlreadyExists,
    FilterSyntaxError,
    InvalidReference,
    InvalidTransition,
    NotFound,
    ValidationError,
)
from eventreg.domain.codec import decode_recorded
from eventreg.domain.state import fold


def head(registry):
    return registry.log.head().position


# -- models -------------------------------------------------------------------------------


def test_model_lifecycle(reg):
    created = reg.create_model("iris", description="flowers", tags={"team": "vision"})
    assert (created.name, created.description, created.tags, created.actor) == ("iris", "flowers", {"team": "vision"}, "alice")
    assert created.status == "READY" and created.latest_version is None
    reg.update_model("iris", description="iris flowers")
    reg.set_model_tag("iris", "owner", "bob")
    reg.delete_model_tag("iris", "team")
    model = reg.get_model("iris")
    assert model.description == "iris flowers" and model.tags == {"owner": "bob"}
    assert [m.name for m in reg.list_models()] == ["iris"]
    archived = reg.archive_model("iris", reason="replaced")
    assert archived.status == "ARCHIVED" and archived.status_reason == "replaced"
    with pytest.raises(InvalidTransition, match="archived"):
        reg.register_version("iris", code=None)
    assert reg.list_models(include_archived=False) == []


def test_model_errors(reg):
    reg.create_model("iris")
    with pytest.raises(AlreadyExists):
        reg.create_model("iris")
    with pytest.raises(NotFound, match="'nope'"):
        reg.get_model("nope")
    with pytest.raises(NotFound):
        reg.delete_model_tag("iris", "missing")
    with pytest.raises(KeyError):  # NotFound is also a KeyError
        reg.get_version("iris", 1)


# -- versions -----------------------------------------------------------------------------


def test_versions_are_numbered_and_found_every_way(reg):
    v1 = reg.register_version("iris", params={"n_estimators": 10}, metrics={"accuracy": 0.9}, label="v1.0", code=None)
    v2 = reg.register_version("iris", params={"n_estimators": 100}, metrics={"accuracy": 0.95}, code=None, parents=[1])
    assert (v1.version, v2.version) == (1, 2)
    assert v2.parents == (1,) and v1.label == "v1.0"
    reg.promote("iris", 1, alias="production")
    assert reg.get_version("iris", 2).params == {"n_estimators": 100}
    assert reg.get_version("iris", "2").version == 2
    assert reg.get_version("iris", "v1.0").version == 1
    assert reg.get_version("iris", "production").version == 1
    assert reg.get_version("iris", "latest").version == 2
    assert reg.resolve("models:/iris/2").version == 2
    assert reg.resolve("models:/iris@production").version == 1
    assert reg.resolve("models:/iris/v1.0").version == 1
    assert reg.resolve("models:/iris/latest").version == 2
    assert reg.resolve("models:/iris/2").uri == "models:/iris/2"
    assert [v.version for v in reg.list_versions("iris")] == [1, 2]
    assert reg.get_version("iris", 1).aliases == ("production",)
    with pytest.raises(InvalidReference):
        reg.resolve("model:/iris/1")
    with pytest.raises(InvalidReference):
        reg.resolve("models:/iris/1/2")
    with pytest.raises(NotFound):
        reg.resolve("models:/iris@staging")
    with pytest.raises(NotFound):
        reg.get_version("iris", 3)


def test_register_creates_the_model_and_labels_are_unique(reg):
    reg.register_version("iris", label="v1", code=None)
    assert reg.get_model("iris").latest_version == 1
    before = head(reg)
    with pytest.raises(AlreadyExists, match="v1"):
        reg.register_version("iris", label="v1", code=None)
    with pytest.raises(ValidationError):
        reg.register_version("iris", label="7", code=None)  # would read as a version number
    with pytest.raises(NotFound):
        reg.register_version("iris", parents=[9], code=None)
    assert head(reg) == before


def test_a_version_records_who_when_environment_and_lineage(reg, tmp_path):
    data = {"uri": "s3://bucket/iris.csv", "digest": "sha256:" + "0" * 64}
    v = reg.register_version(
        "iris", params={"max_depth": 3}, metrics={"accuracy": 0.97}, data=data, code={"commit": "abc"},
        architecture={"flavor": "sklearn", "class": "RandomForestClassifier"}, description="first",
        tags={"team": "vision"},
    )
    assert v.actor == "alice" and v.created_at.tzinfo is not None
    assert v.data == data and v.code == {"commit": "abc"}
    assert v.architecture["class"] == "RandomForestClassifier"
    packages = v.environment["packages"]
    assert v.environment["python"].count(".") == 2
    assert {"numpy", "eventreg", "sklearn"} <= set(packages)
    assert v.description == "first" and v.tags == {"team": "vision"} and v.status == "READY"
    v.environment["packages"]["numpy"] = "0.0"  # a view is a copy: changing it changes nothing
    v.data["uri"] = "elsewhere"
    v.params["max_depth"] = 99
    again = reg.get_version("iris", 1)
    assert again.environment["packages"]["numpy"] != "0.0" and again.data == data
    assert again.params == {"max_depth": 3}


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_code_auto_records_git_commit_and_dirty_flag(reg, tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "train.py").write_text("print(1)\n")
    _git(repo, "add", "train.py")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init")
    _git(repo, "remote", "add", "origin", "https://user:secret-token@example.com/team/iris.git")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    monkeypatch.chdir(repo)
    monkeypatch.setattr("eventreg.capture.CODE_CACHE_SECONDS", 0)
    clean = reg.register_version("iris")
    assert {k: clean.code[k] for k in ("repo", "commit", "dirty", "kind")} == {
        "repo": "https://example.com/team/iris.git", "commit": commit, "dirty": False, "kind": "git"}
    (repo / "train.py").write_text("print(2)\n")
    assert reg.register_version("iris").code["dirty"] is True
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)
    # outside git, under pytest the entry point is installed code: recorded as skipped, not stored
    assert reg.register_version("iris").code["kind"] != "git"


def test_metric_history_keeps_every_point_and_nan(reg):
    reg.register_version("iris", metrics={"f1": 0.5}, code=None)
    reg.log_metric("iris", 1, "f1", 0.8, step=1)
    reg.log_metric("iris", 1, "f1", float("nan"), step=2)
    reg.log_metric("iris", 1, "f1", 0.91, step=3)
    reg.log_metric("iris", 1, "loss", float("nan"))
    v = reg.get_version("iris", 1)
    assert v.metrics["f1"] == 0.91 and math.isnan(v.metrics["loss"])
    history = reg.get_metric_history("iris", 1, "f1")
    assert [p.step for p in history] == [None, 1, 2, 3]
    assert math.isnan(history[2].value) and history[3].value == 0.91
    assert all(p.timestamp.tzinfo is not None for p in history)
    fresh = fold(reg.log.read_all())
    assert fresh == reg._state  # NaN compares equal after a rebuild


def test_tags_and_deprecation(reg):
    reg.register_version("iris", code=None)
    reg.set_version_tag("iris", 1, "stage", "qa")
    assert reg.get_version("iris", 1).tags == {"stage": "qa"}
    reg.delete_version_tag("iris", 1, "stage")
    deprecated = reg.deprecate_version("iris", 1, reason="data leak")
    assert deprecated.status == "DEPRECATED" and deprecated.status_reason == "data leak"
    assert reg.search_versions("tags.stage = 'qa'") == []


# -- promotion and rollback ---------------------------------------------------------------


def _versions(reg, n):
    for _ in range(n):
        reg.register_version("iris", code=None)


def test_promote_records_the_previous_holder_and_the_reason(reg):
    _versions(reg, 3)
    first = reg.promote("iris", 1, alias="production", reason="initial")
    assert (first.version, first.previous, first.reason, first.actor) == (1, None, "initial", "alice")
    second = reg.promote("iris", 3, alias="production", reason="beats v1 on holdout")
    assert (second.version, second.previous, second.action) == (3, 1, "promote")
    assert reg.get_model("iris").aliases == {"production": 3}
    before = head(reg)
    again = reg.promote("iris", 3, alias="production")  # already there: nothing written
    assert again == second and head(reg) == before


def test_rollback_walks_back_through_the_alias_history(reg):
    _versions(reg, 4)
    for number in (1, 3, 2):
        reg.promote("iris", number, alias="production")
    back = reg.rollback("iris", alias="production", reason="latency regression")
    assert (back.version, back.previous, back.action, back.reason) == (3, 2, "rollback", "latency regression")
    assert reg.rollback("iris", alias="production").version == 1  # one further back, not version - 1
    with pytest.raises(InvalidTransition, match="no earlier holder"):
        reg.rollback("iris", alias="production")
    with pytest.raises(NotFound):
        reg.rollback("iris", alias="staging")
    history = reg.alias_holders("iris", "production")
    assert [(a.previous, a.version) for a in history] == [(None, 1), (1, 3), (3, 2), (2, 3), (3, 1)]


def test_rollback_to_a_named_earlier_holder(reg):
    _versions(reg, 4)
    for number in (1, 2, 3, 4):
        reg.promote("iris", number, alias="production")
    assert reg.rollback("iris", alias="production", to=2, reason="known good").version == 2
    assert reg.rollback("iris", alias="production").version == 1
    with pytest.raises(InvalidTransition, match="not an earlier holder"):
        reg.rollback("iris", alias="production", to=4)  # 4 was rolled back past
    with pytest.raises(InvalidTransition):
        reg.rollback("iris", alias="production", to=1)  # already there


def test_deprecated_or_archived_versions_need_force(reg):
    _versions(reg, 3)
    reg.deprecate_version("iris", 2, reason="data leak")
    reg.archive_version("iris", 3)
    before = head(reg)
    with pytest.raises(InvalidTransition, match="deprecated.*force=True"):
        reg.promote("iris", 2, alias="production")
    with pytest.raises(InvalidTransition, match="archived"):
        reg.promote("iris", 3, alias="production")
    assert head(reg) == before
    forced = reg.promote("iris", 2, alias="production", force=True, reason="hotfix")
    assert forced.forced is True
    assert reg.promote("iris", 1, alias="production").forced is False
    with pytest.raises(InvalidTransition):
        reg.rollback("iris", alias="production")  # back to deprecated 2
    assert reg.rollback("iris", alias="production", force=True).forced is True


def test_alias_and_label_names_do_not_collide(reg):
    reg.register_version("iris", label="best", code=None)
    with pytest.raises(ValidationError, match="label"):
        reg.promote("iris", 1, alias="best")
    reg.promote("iris", 1, alias="production")
    with pytest.raises(ValidationError, match="alias"):
        reg.register_version("iris", label="production", code=None)
    with pytest.raises(ValidationError):
        reg.promote("iris", 1, alias="latest")


# -- search and compare -------------------------------------------------------------------


def test_search_versions_filters_orders_and_limits(reg):
    for accuracy, team in ((0.85, "vision"), (0.97, "vision"), (0.93, "nlp"), (0.95, "vision")):
        reg.register_version("iris", metrics={"accuracy": accuracy}, tags={"team": team}, code=None)
    reg.register_version("other", metrics={"accuracy": 0.99}, tags={"team": "vision"}, code=None)
    reg.promote("iris", 4, alias="production")
    found = reg.search_versions("model = 'iris' and metrics.accuracy >= 0.9 and tags.team = 'vision'",
                                order_by=["metrics.accuracy DESC"], limit=10)
    assert [v.version for v in found] == [2, 4]
    assert [v.version for v in reg.search_versions("name = 'iris'", order_by=["metrics.accuracy"], limit=2)] == [1, 3]
    assert [(v.name, v.version) for v in reg.search_versions("alias = 'production'")] == [("iris", 4)]
    assert len(reg.search_versions()) == 5
    with pytest.raises(FilterSyntaxError) as caught:
        reg.search_versions("metrics.accuracy >= ")
    assert caught.value.column > 0
    with pytest.raises(FilterSyntaxError):
        reg.search_versions("nonsense.field = 1")


def test_filter_text_is_data_not_sql(reg):
    reg.register_version("iris", tags={"note": "x'; DROP TABLE events; --"}, code=None)
    assert len(reg.search_versions("tags.note = 'x''; DROP TABLE events; --'")) == 1
    assert reg.get_version("iris", 1).version == 1


def test_compare_marks_differences(reg):
    reg.register_version("iris", params={"n": 10, "depth": 3}, metrics={"accuracy": 0.9}, code=None)
    reg.register_version("iris", params={"n": 100, "depth": 3}, metrics={"accuracy": 0.9}, code=None)
    comparison = reg.compare("iris", [1, 2])
    rows = {(r.section, r.key): r for r in comparison.rows}
    assert rows[("params", "n")].values == (10, 100) and rows[("params", "n")].differs
    assert not rows[("params", "depth")].differs and not rows[("metrics", "accuracy")].differs
    assert [r.key for r in comparison.differences] == ["n"]
    assert "* params.n" in str(comparison)


# -- runs ---------------------------------------------------------------------------------


def test_run_records_params_metrics_tags_and_finishes(reg):
    with reg.start_run(experiment="iris_classifier_project", name="baseline") as run:
        run.log_param("n_estimators", 100)
        run.log_params({"max_depth": 3, "criterion": "gini"})
        run.log_metric("accuracy", 0.95)
        run.log_metric("accuracy", 0.97, step=2)
        run.log_metrics({"f1": 0.9, "loss": float("nan")})
        run.set_tag("k", "v")
        assert run.info.status == "RUNNING"
    got = reg.get_run(run.id)
    assert got.status == "FINISHED" and got.ended_at is not None
    assert got.params == {"n_estimators": 100, "max_depth": 3, "criterion": "gini"}
    assert got.metrics["accuracy"] == 0.97 and math.isnan(got.metrics["loss"])
    assert got.tags == {"k": "v"} and got.experiment == "iris_classifier_project"
    assert [p.value for p in reg.get_run_metric_history(run.id, "accuracy")] == [0.95, 0.97]
    assert [r.id for r in reg.search_runs(experiment="iris_classifier_project",
                                          filter="metrics.accuracy > 0.9")] == [run.id]
    assert reg.search_runs(experiment="iris_classifier_project", filter="metrics.accuracy > 0.99") == []
    with pytest.raises(InvalidTransition, match="ended"):
        run.log_metric("late", 1.0)
    assert [e.name for e in reg.list_experiments()] == ["iris_classifier_project"]


def test_run_that_raises_is_failed_with_the_exception_type(reg):
    with pytest.raises(ZeroDivisionError):
        with reg.start_run() as run:
            run.log_param("a", 1)
            1 / 0
    got = reg.get_run(run.id)
    assert got.status == "FAILED" and got.error.startswith("ZeroDivisionError")
    assert got.experiment == "Default"


def test_params_of_a_run_do_not_change(reg):
    with reg.start_run() as run:
        run.log_param("lr", 0.1)
        run.log_param("lr", 0.1)  # same value again is fine
        with pytest.raises(ValidationError, match="already logged"):
            run.log_param("lr", 0.2)


def test_register_from_a_run_takes_params_metrics_and_artifacts(reg, tmp_path):
    report = tmp_path / "report.txt"
    report.write_text("confusion matrix\n")
    with reg.start_run(experiment="exp") as run:
        run.log_param("n_estimators", 100)
        run.log_metric("accuracy", 0.9, step=1)
        run.log_metric("accuracy", 0.96, step=2)
        run.log_artifact(report, artifact_path="reports")
    v = reg.register_version("iris", run=run.id, params={"extra": True}, code=None)
    assert v.run_id == run.id
    assert v.params == {"n_estimators": 100, "extra": True}
    assert v.metrics == {"accuracy": 0.96}
    assert [p.step for p in reg.get_metric_history("iris", 1, "accuracy")] == [1, 2]
    assert set(v.artifacts) == {"reports/report.txt"}
    out = reg.download("iris", 1, tmp_path / "out")
    assert (out / "reports" / "report.txt").read_text() == "confusion matrix\n"
    with pytest.raises(NotFound):
        reg.register_version("iris", run="no-such-run", code=None)


def test_register_a_folder_of_artifacts(reg, tmp_path):
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"\x00\x01" * 100)
    (folder / "sub" / "config.json").write_text("{}")
    v = reg.register_version("iris", artifacts=folder, code=None)
    assert set(v.artifacts) == {"weights.bin", "sub/config.json"}
    assert v.artifacts["weights.bin"].size == 200
    out = reg.download("iris", 1, tmp_path / "out")
    assert (out / "weights.bin").read_bytes() == b"\x00\x01" * 100


def test_load_model_checks_digests_before_unpickling(reg):
    from eventreg import ArtifactIntegrityError

    with reg.start_run() as run:
        run.log_model({"weights": [1, 2, 3]}, "model")
    v = reg.register_version("toy", run=run.id, code=None)
    assert v.model_info["path"] == "model" and v.model_info["flavor"]["flavor"] == "pickle"
    assert reg.load_model(v) == {"weights": [1, 2, 3]}
    assert reg.load_model("models:/toy/1") == {"weights": [1, 2, 3]}
    store = reg._artifact_store()
    [entry] = v.artifacts.values()
    key = store.object_key(entry.sha256)
    store.fs.pipe_file(key, b"\x80not the pickle that was registered")
    with pytest.raises(ArtifactIntegrityError):
        reg.load_model("models:/toy/latest")
    with pytest.raises(NotFound, match="no logged model"):
        reg.load_model(reg.register_version("toy", code=None))


# -- validation and limits ----------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "a/b", "a@b", "..", "../x", "a\nb", "a\x00b", " padded", "a\\b", "x" * 129, 7])
def test_bad_names_are_refused_with_nothing_written(reg, bad):
    reg.create_model("iris")
    reg.register_version("iris", code=None)
    before = head(reg)
    calls = [
        lambda: reg.create_model(bad),
        lambda: reg.register_version(bad, code=None),
        lambda: reg.promote("iris", 1, alias=bad),
        lambda: reg.set_model_tag("iris", bad, "v"),
        lambda: reg.register_version("iris", params={bad: 1}, code=None),
        lambda: reg.register_version("iris", label=bad, code=None),
    ]
    if bad != "a/b":  # a metric key may contain "/" (train/loss): see test_registry_mlflow_events.py
        calls.append(lambda: reg.log_metric("iris", 1, bad, 1.0))
    for call in calls:
        with pytest.raises(ValidationError):
            call()
    assert head(reg) == before


def test_limits_are_clear_errors_with_nothing_written(reg):
    from eventreg.domain import validation

    reg.register_version("iris", code=None)
    before = head(reg)
    with pytest.raises(ValidationError, match="100,000"):
        reg.set_model_tag("iris", "k", "x" * (validation.MAX_TAG_VALUE_LENGTH + 1))
    with pytest.raises(ValidationError, match="limit"):
        reg.register_version("iris", params={f"p{i}": i for i in range(validation.MAX_PARAMS + 1)}, code=None)
    with pytest.raises(ValidationError, match="limit"):
        reg.update_model("iris", description="d" * (validation.MAX_DESCRIPTION_LENGTH + 1))
    with pytest.raises(ValidationError):
        reg.register_version("iris", params={"obj": object()}, code=None)
    with pytest.raises(ValidationError):
        reg.log_metric("iris", 1, "acc", "high")
    assert head(reg) == before


# -- rebuilding, reopening, snapshots -----------------------------------------------------


def _populate(registry):
    registry.create_model("iris", description="flowers", tags={"team": "vision"})
    for accuracy in (0.9, float("nan"), 0.97):
        registry.register_version("iris", params={"n": 1}, metrics={"accuracy": accuracy}, code=None)
    registry.promote("iris", 1, alias="production", reason="first")
    registry.promote("iris", 3, alias="production", reason="better")
    registry.rollback("iris", alias="production", reason="regression")
    registry.deprecate_version("iris", 2, reason="nan")
    registry.log_metric("iris", 3, "f1", 0.8, step=1)
    registry.set_version_tag("iris", 3, "k", "v")
    with registry.start_run(experiment="exp") as run:
        run.log_params({"lr": 0.1})
        run.log_metrics({"loss": 0.5}, step=1)
    registry.register_version("iris", run=run.id, label="from-run", code=None)


def test_state_rebuilds_from_the_log_alone_on_every_backend(any_log_url, tmp_path):
    with eventreg.open(any_log_url, artifacts=f"file://{tmp_path / 'a'}", actor="alice") as registry:
        _populate(registry)
        live = registry._state
        assert fold(registry.log.read_all()) == live
    with eventreg.open(any_log_url, artifacts=f"file://{tmp_path / 'a'}", actor="bob", snapshot_every=0) as again:
        assert again._state == live
        assert again.get_version("iris", "production").version == 1


def test_snapshot_is_used_when_valid_and_ignored_when_not(url, tmp_path):
    arts = f"file://{tmp_path / 'a'}"
    with eventreg.open(url, artifacts=arts, actor="alice") as registry:
        _populate(registry)
        at = registry.save_snapshot()
        expected = registry._state
    with eventreg.open(url, artifacts=arts, actor="alice") as registry:
        assert registry._snapshot_position == at and registry._state == expected
        assert registry.log.read_stream("projection:snapshots")[-1].payload["position"] == at
        registry.promote("iris", 3, alias="production")
        registry.log.save_snapshot(registry.position, b"not a snapshot")
        expected = registry._state
    with eventreg.open(url, artifacts=arts, actor="alice") as registry:
        assert registry._snapshot_position == 0  # the damaged one was not trusted
        assert registry._state == expected


def test_a_snapshot_the_log_does_not_vouch_for_is_not_used(url, tmp_path):
    from eventreg.domain.state import dump_state
    from eventreg.registry import _code_version

    arts = f"file://{tmp_path / 'a'}"
    with eventreg.open(url, artifacts=arts, actor="alice") as registry:
        _populate(registry)
        registry.save_snapshot()
        forged = fold(registry.log.read_all())
        forged.models["iris"].aliases["production"] = 3  # right position and hash, edited content
        registry.log.save_snapshot(forged.position, dump_state(forged, _code_version()))
    with eventreg.open(url, artifacts=arts, actor="alice") as registry:
        assert registry._snapshot_position == 0
        assert registry.get_version("iris", "production").version == 1


def test_open_uses_environment_then_embedded_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with eventreg.open(actor="carol") as registry:
        registry.register_version("iris", code=None)
    assert (tmp_path / "eventreg.db").exists()
    monkeypatch.setenv("EVENTREG_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("EVENTREG_ACTOR", "dave")
    with eventreg.open() as registry:
        assert registry.actor == "dave" and registry.list_models() == []
    assert (tmp_path / "env.db").exists()


# -- the seed example ---------------------------------------------------------------------

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def test_seed_example_quickstart_runs_against_the_embedded_default(tmp_path):
    pytest.importorskip("sklearn", reason="the seed example trains a scikit-learn model")
    import sys

    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("EVENTREG_")}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "rolled production back from version 2 to version 1" in done.stdout
    assert (tmp_path / "eventreg.db").exists() and (tmp_path / "eventreg-artifacts").is_dir()

    from sklearn.datasets import load_iris

    with eventreg.open(f"sqlite:///{tmp_path / 'eventreg.db'}", artifacts=f"file://{tmp_path / 'eventreg-artifacts'}",
                       actor="auditor") as reg:
        first, second = reg.list_versions("iris")
        assert first.params == {"n_estimators": 10} and second.params == {"n_estimators": 100}
        assert 0.8 < second.metrics["accuracy"] <= 1.0
        assert second.model_info["path"] == "model" and any(p.startswith("model/") for p in second.artifacts)
        assert "sklearn" in second.environment["packages"]
        assert reg.get_version("iris", "production").version == 1
        moves = reg.alias_holders("iris", "production")
        assert [(m.action, m.previous, m.version) for m in moves] == [
            ("promote", None, 1), ("promote", 1, 2), ("rollback", 2, 1)]
        assert moves[-1].reason == "latency regression"
        model = reg.load_model("models:/iris@production")
        features, labels = load_iris(return_X_y=True)
        assert (model.predict(features) == labels).mean() > 0.9
        assert fold(reg.log.read_all()) == reg._state


# -- references ---------------------------------------------------------------------------


@pytest.mark.parametrize("text, model, kind, value", [
    ("models:/iris/3", "iris", "version", 3),
    ("models:/iris@production", "iris", "alias", "production"),
    ("models:/iris/v1.1", "iris", "label", "v1.1"),
    ("models:/iris/latest", "iris", "latest", None),
    ("models:/my-model.v2/10", "my-model.v2", "version", 10),
])
def test_references_parse_and_print_back(text, model, kind, value):
    ref = eventreg.parse_reference(text)
    assert (ref.model, ref.kind, ref.value) == (model, kind, value)
    assert str(ref) == text


@pytest.mark.parametrize("text", [
    "iris/3", "models:/", "models:/iris", "models:/iris/", "models:/iris/0", "models:/iris@",
    "models:/@prod", "models:/a/b/c", "models:/a/b@c", "models:/../3", "runs:/abc/model", 3,
])
def test_bad_references_are_invalid_reference_errors(text):
    with pytest.raises(InvalidReference):
        eventreg.parse_reference(text)


def test_close_saves_a_snapshot_after_enough_events(sqlite_url, tmp_path):
    arts = f"file://{tmp_path / 'a'}"
    with eventreg.open(sqlite_url, artifacts=arts, actor="alice", snapshot_every=5) as registry:
        for _ in range(3):
            registry.register_version("iris", code=None)
    with eventreg.open(sqlite_url, artifacts=arts, actor="alice", snapshot_every=5) as registry:
        assert registry._snapshot_position == 0  # 4 events: not worth a snapshot yet
        for _ in range(3):
            registry.register_version("iris", code=None)
    with eventreg.open(sqlite_url, artifacts=arts, actor="alice", snapshot_every=5) as registry:
        assert registry._snapshot_position == 7
        assert [v.version for v in registry.list_versions("iris")] == [1, 2, 3, 4, 5, 6]
        assert fold(registry.log.read_all()) == registry._state


def test_a_long_run_history_is_registered_whole_in_bounded_events(reg, monkeypatch):
    monkeypatch.setattr("eventreg.domain.validation.MAX_METRIC_POINTS_PER_EVENT", 4)
    with reg.start_run() as run:
        run.log_metrics({f"m{i}": float(i) for i in range(6)}, step=0)  # 6 points: 2 events
        for step in range(1, 6):
            run.log_metric("loss", 1.0 / step, step=step)
    v = reg.register_version("iris", run=run.id, code=None)
    assert [p.step for p in reg.get_metric_history("iris", 1, "loss")] == [1, 2, 3, 4, 5]
    assert v.metrics["m5"] == 5.0 and v.metrics["loss"] == 0.2
    stream = reg.log.read_stream("model:iris")
    assert [e.type for e in stream] == ["model.created", "version.registered"] + ["version.metrics_logged"] * 2
    decoded = [decode_recorded(e) for e in stream[1:]]
    assert [len(getattr(e, "metrics", None) or e.points) for e in decoded] == [4, 4, 3]


def test_a_log_written_by_a_newer_eventreg_is_a_clear_error(url, tmp_path):
    from eventreg import NewEvent, UnknownEventType, open_log

    with eventreg.open(url, artifacts=f"file://{tmp_path / 'a'}", actor="alice") as registry:
        registry.register_version("iris", code=None)
        registry.log.append("model:iris", [NewEvent("version.teleported", {"model": "iris"})])
        with pytest.raises(UnknownEventType, match="version.teleported"):
            registry.get_version("iris", 1)
    log = open_log(url)
    with pytest.raises(UnknownEventType, match="position 3"):
        eventreg.Registry(log, artifacts="memory://x", actor="bob")
    log.close()


# -- views are snapshots; search narrowing gives the same answers ------------------------------


def test_a_view_keeps_the_tags_and_metrics_it_was_taken_with(reg):
    reg.register_version("iris", metrics={"accuracy": 0.9}, tags={"stage": "new"})
    before = reg.get_version("iris", 1)
    reg.set_version_tag("iris", 1, "stage", "reviewed")
    reg.log_metric("iris", 1, "accuracy", 0.95)
    assert (before.tags, before.metrics) == ({"stage": "new"}, {"accuracy": 0.9})
    after = reg.get_version("iris", 1)
    assert (after.tags, after.metrics) == ({"stage": "reviewed"}, {"accuracy": 0.95})


@pytest.mark.parametrize("text", [
    "model = 'iris'",
    "name = 'iris'",
    "model = 'iris' and metrics.accuracy >= 0.5",
    "model = 'iris' or model = 'wine'",
    "model = 'iris' and metrics.accuracy >= 0.5 or model = 'wine'",
    "metrics.accuracy >= 0.5 and model = 'iris'",
])
def test_search_by_model_answers_as_a_full_scan_would(reg, text):
    from eventreg.domain.filters import VERSION_FIELDS, compile_filter
    from eventreg.domain.queries import _version_record

    for model, accuracies in (("iris", [0.3, 0.6, 0.9]), ("wine", [0.7, 0.4])):
        for value in accuracies:
            reg.register_version(model, metrics={"accuracy": value}, code=None)
    predicate = compile_filter(text, fields=VERSION_FIELDS)
    with reg._reading() as state:
        expected = sorted((m.name, v.version) for m in state.models.values() for v in m.versions.values()
                          if predicate.matches(_version_record(m, v)))
    found = sorted((v.name, v.version) for v in reg.search_versions(text))
    assert found == expected and found


def test_a_typo_in_a_model_name_suggests_the_model(reg):
    reg.register_version("iris", metrics={"accuracy": 0.9}, code=None)
    with pytest.raises(NotFound, match=r"model 'irsi' does not exist \(did you mean 'iris'\?\)"):
        reg.get_version("irsi", 1)
    with pytest.raises(NotFound) as info:
        reg.get_version("wine", 1)
    assert "did you mean" not in str(info.value)
