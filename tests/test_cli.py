"""
The ``eventreg`` command through its real entry point: every command, ``--json``, exit
codes and bad input.

Most tests use click's CliRunner on :data:`eventreg.cli.cli` (the object the console
script calls); a few run the installed ``eventreg`` script in a subprocess. Each test gets
its own SQLite log and artifact folder under ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import eventreg
from eventreg.cli import cli

UNREACHABLE = "postgresql+psycopg://u:secret@127.0.0.1:1/x"


def _script() -> str:
    found = shutil.which("eventreg", path=str(Path(sys.executable).parent)) or shutil.which("eventreg")
    if found is None:
        pytest.fail("the eventreg console script is not installed (pip install -e .)")
    return found


class Cli:
    """
    Runs ``eventreg`` with ``--url``/``--artifacts``/``--actor`` pointing into tmp_path.
    """

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.url = f"sqlite:///{tmp_path / 'eventreg.db'}"
        self.artifacts = f"file://{tmp_path / 'artifacts'}"
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0, env: dict[str, str] | None = None):
        result = self.runner.invoke(
            cli, ["--url", self.url, "--artifacts", self.artifacts, "--actor", "tester", *args],
            prog_name="eventreg", env=env)
        assert result.exit_code == code, (
            f"eventreg {' '.join(args)} exited {result.exit_code}, expected {code}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}\n{result.exception!r}")
        if code:
            self.assert_one_line_error(result)
        return result

    def json(self, *args: str, code: int = 0):
        return json.loads(self("--json", *args, code=code).stdout)

    @staticmethod
    def assert_one_line_error(result) -> None:
        lines = result.stderr.strip().splitlines()
        if result.exit_code == 1 and not lines:  # a failed check reports on stdout
            return
        assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
        assert lines[0].startswith("error: ") and "Traceback" not in result.stderr

    def registry(self):
        return eventreg.open(url=self.url, artifacts=self.artifacts, actor="tester")


@pytest.fixture
def run_cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture
def iris(run_cli: Cli, tmp_path: Path) -> Cli:
    """
    A registry with model iris: version 1 (v1, accuracy 0.9, an artifact folder) and
    version 2 (accuracy 0.95), version 2 in production after version 1.
    """
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "weights.bin").write_bytes(b"\x00\x01weights" * 100)
    (model_dir / "sub").mkdir()
    (model_dir / "sub" / "config.json").write_text('{"depth": 3}')
    run_cli("models", "create", "iris", "--description", "iris classifier", "--tag", "team=vision")
    run_cli("versions", "register", "iris", "--param", "n_estimators=100", "--metric", "accuracy=0.9",
            "--artifacts", str(model_dir), "--label", "v1", "--git", "none")
    run_cli("versions", "register", "iris", "--param", "n_estimators=200", "--metric", "accuracy=0.95",
            "--git", "none")
    run_cli("promote", "iris", "1", "--alias", "production", "--reason", "first")
    run_cli("promote", "iris", "2", "--alias", "production", "--reason", "better")
    return run_cli


# -- the command itself --------------------------------------------------------------------


def test_help_lists_every_command_of_issue_6() -> None:
    result = CliRunner().invoke(cli, ["--help"], prog_name="eventreg")
    assert result.exit_code == 0
    for command in ("models", "versions", "runs", "log-metric", "promote", "rollback", "search",
                    "compare", "download", "history", "diff", "verify", "head", "report", "copy",
                    "demo", "gate"):
        assert f"  {command} " in result.output
    groups = {"models": ["list", "create", "show", "tag", "archive"],
              "versions": ["list", "show", "register", "tag", "deprecate"], "runs": ["list", "show"]}
    for group, commands in groups.items():
        sub = CliRunner().invoke(cli, [group, "--help"], prog_name="eventreg")
        assert sub.exit_code == 0 and all(f"  {c} " in sub.output for c in commands)


def test_version_option() -> None:
    result = CliRunner().invoke(cli, ["--version"], prog_name="eventreg")
    assert result.exit_code == 0 and eventreg.__version__ in result.output


def test_console_script_runs_and_prints_json(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTREG_")}
    created = subprocess.run([_script(), "models", "create", "iris"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "eventreg.db").exists(), "the embedded default is ./eventreg.db"
    done = subprocess.run([_script(), "--json", "models", "list"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [m["name"] for m in json.loads(done.stdout)] == ["iris"]


# -- models ----------------------------------------------------------------------------------


def test_models_create_list_show_tag_archive(run_cli: Cli) -> None:
    created = run_cli.json("models", "create", "iris", "--description", "flowers", "--tag", "team=vision")
    assert created["name"] == "iris" and created["tags"] == {"team": "vision"}
    assert created["created_at"].endswith("Z") and created["actor"] == "tester"
    assert [m["name"] for m in run_cli.json("models", "list")] == ["iris"]
    table = run_cli("models", "list").stdout
    assert "iris" in table and "flowers" in table and "\x1b[" not in table, "no colour off a terminal"
    run_cli("models", "tag", "iris", "stage=dev", "owner=ana")
    assert run_cli.json("models", "show", "iris")["tags"] == {"team": "vision", "stage": "dev", "owner": "ana"}
    run_cli("models", "tag", "iris", "--delete", "stage")
    assert "stage" not in run_cli.json("models", "show", "iris")["tags"]
    archived = run_cli.json("models", "archive", "iris", "--reason", "replaced")
    assert archived["status"] == "ARCHIVED"
    assert "ARCHIVED" in run_cli("models", "show", "iris").stdout


def test_models_create_twice_is_a_conflict(run_cli: Cli) -> None:
    run_cli("models", "create", "iris")
    result = run_cli("models", "create", "iris", code=4)
    assert "iris" in result.stderr


def test_models_tag_needs_something_to_do(run_cli: Cli) -> None:
    run_cli("models", "create", "iris")
    run_cli("models", "tag", "iris", code=2)
    assert "KEY=VALUE" in run_cli("models", "tag", "iris", "novalue", code=2).stderr


# -- versions -------------------------------------------------------------------------------


def test_versions_register_records_everything_given(run_cli: Cli, tmp_path: Path) -> None:
    artifact = tmp_path / "model.pkl"
    artifact.write_bytes(b"pickled")
    version = run_cli.json(
        "versions", "register", "iris", "--param", "n_estimators=100", "--param", "criterion=gini",
        "--metric", "accuracy=0.97", "--metric", "loss=nan", "--artifacts", str(artifact),
        "--label", "v1.1", "--description", "first", "--tag", "k=v",
        "--data-uri", "s3://bucket/iris.csv", "--data-digest", "sha256:abc", "--git", "none")
    assert version["version"] == 1 and version["label"] == "v1.1"
    assert version["params"] == {"n_estimators": "100", "criterion": "gini"}
    assert version["metrics"] == {"accuracy": 0.97, "loss": "NaN"}, "NaN is printed as the string NaN"
    assert version["data"] == {"uri": "s3://bucket/iris.csv", "digest": "sha256:abc"}
    assert set(version["artifacts"]) == {"model.pkl"}
    assert version["artifacts"]["model.pkl"]["size"] == len(b"pickled")
    assert version["tags"] == {"k": "v"} and version["code"] is None
    second = run_cli.json("versions", "register", "iris", "--parent", "1", "--git", "none")
    assert second["version"] == 2 and second["parents"] == [1]


def test_versions_register_from_a_run(run_cli: Cli) -> None:
    with run_cli.registry() as reg:
        with reg.start_run(experiment="iris_classifier_project", code=None) as run:
            run.log_param("n_estimators", 100)
            run.log_metric("accuracy", 0.93)
    version = run_cli.json("versions", "register", "iris", "--run", run.id, "--git", "none")
    assert version["run_id"] == run.id
    assert version["params"]["n_estimators"] == 100 and version["metrics"]["accuracy"] == 0.93


def test_versions_register_bad_input(run_cli: Cli, tmp_path: Path) -> None:
    assert "--metric" in run_cli("versions", "register", "iris", "--metric", "acc=high", code=2).stderr
    run_cli("versions", "register", "iris", "--param", "novalue", code=2)
    run_cli("versions", "register", "iris", "--artifacts", str(tmp_path / "missing"), code=2)
    run_cli("versions", "register", "bad/name", "--git", "none", code=2)
    run_cli("versions", "register", "iris", "--run", "no-such-run", "--git", "none", code=3)


def test_versions_list_and_show_by_number_label_alias_latest(iris: Cli) -> None:
    listed = iris.json("versions", "list", "iris")
    assert [v["version"] for v in listed] == [1, 2]
    assert listed[1]["aliases"] == ["production"]
    assert iris.json("versions", "show", "iris", "1")["label"] == "v1"
    assert iris.json("versions", "show", "iris", "v1")["version"] == 1
    assert iris.json("versions", "show", "iris", "production")["version"] == 2
    assert iris.json("versions", "show", "iris", "latest")["version"] == 2
    shown = iris("versions", "show", "iris", "v1").stdout
    assert "n_estimators=100" in shown and "accuracy=0.9" in shown
    assert iris.json("versions", "list", "iris", "--status", "deprecated") == []


def test_versions_tag_and_deprecate(iris: Cli) -> None:
    iris("versions", "tag", "iris", "1", "reviewed=yes", "by=ana")
    assert iris.json("versions", "show", "iris", "1")["tags"] == {"reviewed": "yes", "by": "ana"}
    iris("versions", "tag", "iris", "v1", "--delete", "by")
    assert iris.json("versions", "show", "iris", "1")["tags"] == {"reviewed": "yes"}
    deprecated = iris.json("versions", "deprecate", "iris", "1", "--reason", "data leak")
    assert deprecated["status"] == "DEPRECATED" and deprecated["status_reason"] == "data leak"
    iris("versions", "deprecate", "iris", "1", code=2)  # --reason is required


# -- runs ------------------------------------------------------------------------------------


def test_runs_list_and_show(run_cli: Cli) -> None:
    with run_cli.registry() as reg:
        with reg.start_run(experiment="exp", code=None) as first:
            first.log_metric("accuracy", 0.8)
        with reg.start_run(experiment="exp", code=None) as second:
            second.log_metric("accuracy", 0.95)
    runs = run_cli.json("runs", "list", "--experiment", "exp")
    assert [r["id"] for r in runs] == [first.id, second.id]
    assert all(r["status"] == "FINISHED" for r in runs)
    best = run_cli.json("runs", "list", "--filter", "metrics.accuracy > 0.9")
    assert [r["id"] for r in best] == [second.id]
    ordered = run_cli.json("runs", "list", "--order-by", "metrics.accuracy DESC", "--limit", "1")
    assert [r["id"] for r in ordered] == [second.id]
    assert run_cli.json("runs", "show", first.id)["metrics"] == {"accuracy": 0.8}
    assert first.id in run_cli("runs", "list").stdout
    run_cli("runs", "show", "nope", code=3)
    run_cli("runs", "list", "--experiment", "nope", code=3)


# -- metrics, promotion, rollback -----------------------------------------------------------


def test_log_metric(iris: Cli) -> None:
    iris("log-metric", "iris", "2", "f1", "0.91", "--step", "2")
    iris("log-metric", "iris", "production", "f1", "nan")
    assert iris.json("versions", "show", "iris", "2")["metrics"] == {"accuracy": 0.95, "f1": "NaN"}
    iris("log-metric", "iris", "2", "f1", "high", code=2)


def test_promote_and_rollback(iris: Cli) -> None:
    moved = iris.json("rollback", "iris", "--alias", "production", "--reason", "latency")
    assert moved["version"] == 1 and moved["previous"] == 2 and moved["reason"] == "latency"
    assert iris.json("versions", "show", "iris", "production")["version"] == 1
    # version 1 was the first holder: nothing earlier to roll back to
    assert "earlier" in iris("rollback", "iris", "--alias", "production", code=4).stderr
    promoted = iris.json("promote", "iris", "2", "--alias", "production", "--reason", "fixed")
    assert promoted["version"] == 2 and promoted["previous"] == 1 and promoted["actor"] == "tester"
    assert iris.json("rollback", "iris", "--alias", "production", "--to", "v1")["version"] == 1
    assert "production" in iris("promote", "iris", "2", "--alias", "production").stdout


def test_promote_deprecated_needs_force(iris: Cli) -> None:
    iris("versions", "deprecate", "iris", "1", "--reason", "leak")
    assert "deprecated" in iris("promote", "iris", "1", "--alias", "staging", code=4).stderr
    assert iris.json("promote", "iris", "1", "--alias", "staging", "--force")["forced"] is True


def test_promote_and_rollback_usage_errors(iris: Cli) -> None:
    iris("promote", "iris", "2", code=2)  # no --alias
    iris("rollback", "iris", code=2)  # no --alias
    iris("rollback", "iris", "--alias", "staging", code=3)


# -- search, compare, download ------------------------------------------------------------


def test_search(iris: Cli) -> None:
    found = iris.json("search", "model = 'iris' and metrics.accuracy >= 0.92")
    assert [(v["name"], v["version"]) for v in found] == [("iris", 2)]
    ordered = iris.json("search", "model = 'iris'", "--order-by", "metrics.accuracy DESC", "--limit", "1")
    assert [v["version"] for v in ordered] == [2]
    assert "iris" in iris("search", "alias = 'production'").stdout


def test_search_bad_filter_names_the_column(iris: Cli) -> None:
    result = iris("search", "metrics.accuracy >= 0.9 and", code=2)
    assert "column 28" in result.stderr
    result = iris("search", "metrics.accuracy >== 0.9", code=2)
    assert "column" in result.stderr


def test_compare(iris: Cli) -> None:
    comparison = iris.json("compare", "iris", "1", "2")
    assert comparison["versions"] == [1, 2]
    rows = {(r["section"], r["key"]): r for r in comparison["rows"]}
    assert rows[("metrics", "accuracy")]["values"] == [0.9, 0.95]
    assert rows[("metrics", "accuracy")]["differs"] is True
    table = iris("compare", "iris", "v1", "production").stdout
    assert "metrics.accuracy" in table and "*" in table
    iris("compare", "iris", code=2)  # at least one REF
    iris("compare", "iris", "1", "7", code=3)


def test_download_verifies_bytes(iris: Cli, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    assert iris.json("download", "iris", "v1", str(dest)) == {"model": "iris", "ref": "v1", "dest": str(dest)}
    assert (dest / "weights.bin").read_bytes() == b"\x00\x01weights" * 100
    assert (dest / "sub" / "config.json").read_text() == '{"depth": 3}'
    # change one byte of the stored object: the download refuses it (exit 1)
    stored = [p for p in (tmp_path / "artifacts").rglob("*")
              if p.is_file() and p.read_bytes() == b"\x00\x01weights" * 100]
    assert len(stored) == 1
    stored[0].chmod(0o644)
    stored[0].write_bytes(b"\x00\x02weights" * 100)
    result = iris("download", "iris", "v1", str(tmp_path / "again"), code=1)
    assert "weights.bin" in result.stderr


# -- the audit commands -----------------------------------------------------------------------


def test_history(iris: Cli) -> None:
    iris("rollback", "iris", "--alias", "production", "--reason", "latency regression")
    events = iris.json("history", "iris")
    assert events == sorted(events, key=lambda e: e["position"])
    assert all(e["actor"] == "tester" for e in events)
    assert any(e.get("reason") == "latency regression" for e in events)
    only = iris.json("history", "iris", "--type", "alias.rolled_back")
    assert len(only) == 1
    assert "latency regression" in iris("history").stdout
    assert iris.json("history", "iris", "--by", "nobody") == []


def test_head_and_verify(iris: Cli) -> None:
    head = iris("head").stdout.strip()
    position, digest = head.split(":")
    assert int(position) == 5 and len(digest) == 64
    assert iris.json("head") == {"position": 5, "hash": digest}
    result = iris.json("verify")
    assert result["ok"] is True and result["checked"] == 5
    assert "ok" in iris("verify").stdout
    iris("log-metric", "iris", "2", "f1", "0.5")
    assert iris.json("verify", "--expected-head", head)["ok"] is True
    wrong = f"{position}:{'0' * 64}"
    assert iris.json("verify", "--expected-head", wrong, code=1)["ok"] is False
    iris("verify", "--expected-head", "nonsense", code=2)


def test_verify_catches_a_changed_event(iris: Cli, tmp_path: Path) -> None:
    import sqlite3

    with sqlite3.connect(tmp_path / "eventreg.db") as db:  # the table docs/backends.md names
        db.execute("update eventreg_events set actor = 'mallory' where position = 2")
    result = iris("verify", code=1)
    assert "2" in result.stdout and "FAILED" in result.stdout


def test_as_of_on_read_commands(iris: Cli) -> None:
    # position 3: model created, two versions registered, nothing promoted yet
    assert iris.json("versions", "show", "iris", "latest", "--as-of", "3")["aliases"] == []
    assert [v["version"] for v in iris.json("versions", "list", "iris", "--as-of", "2")] == [1]
    assert iris.json("models", "show", "iris", "--as-of", "1")["latest_version"] is None
    assert len(iris.json("models", "list", "--as-of", "1")) == 1
    assert iris.json("versions", "show", "iris", "production", "--as-of", "4")["version"] == 1
    assert iris.json("search", "alias = 'production'", "--as-of", "4")[0]["version"] == 1
    assert iris.json("compare", "iris", "1", "2", "--as-of", "3")["versions"] == [1, 2]
    now = iris.json("versions", "show", "iris", "production", "--as-of", "2999-01-01T00:00:00Z")
    assert now["version"] == 2
    iris("models", "show", "iris", "--as-of", "not a time", code=2)
    assert [e["position"] for e in iris.json("history", "iris", "--as-of", "3")] == [1, 2, 3]


def test_as_of_on_runs_and_download(iris: Cli, tmp_path: Path) -> None:
    with iris.registry() as reg:
        with reg.start_run(experiment="later", code=None) as run:
            run.log_metric("accuracy", 0.5)
    assert iris.json("runs", "list", "--as-of", "5") == []
    iris("runs", "show", run.id, "--as-of", "5", code=3)
    assert iris.json("runs", "show", run.id)["metrics"] == {"accuracy": 0.5}
    iris("download", "iris", "v1", str(tmp_path / "then"), "--as-of", "2")
    assert (tmp_path / "then" / "weights.bin").exists()
    iris("download", "iris", "2", str(tmp_path / "never"), "--as-of", "2", code=3)


def test_diff(iris: Cli) -> None:
    changes = iris.json("diff", "3", "5")
    assert "production" in json.dumps(changes)
    assert iris("diff", "1", "5").stdout.strip()


def test_report_writes_each_format(iris: Cli, tmp_path: Path) -> None:
    for fmt in ("html", "json", "csv"):
        out = tmp_path / f"report.{fmt}"
        iris("report", "iris", "--format", fmt, "-o", str(out))
        text = out.read_text()
        assert "production" in text
    json.loads((tmp_path / "report.json").read_text())
    assert "<html" in (tmp_path / "report.html").read_text().lower()
    iris("report", "iris", "--format", "pdf", "-o", str(tmp_path / "r.pdf"), code=2)
    iris("report", "nope", "-o", str(tmp_path / "r.html"), code=3)


def test_copy_between_backends(iris: Cli, tmp_path: Path) -> None:
    destination = f"sqlite:///{tmp_path / 'copy.db'}"
    copied = iris.json("copy", iris.url, destination)
    assert copied["copied"] == 5 and copied["skipped"] == 0
    with eventreg.open(url=destination, artifacts=iris.artifacts) as reg:
        assert reg.get_version("iris", "production").version == 2
    assert "0 events" in iris("copy", iris.url, destination).stdout  # resumes: nothing left
    other = f"sqlite:///{tmp_path / 'other.db'}"
    with eventreg.open(url=other, artifacts=iris.artifacts) as reg:
        reg.create_model("something-else")
    iris("copy", iris.url, other, code=4)


# -- gate ------------------------------------------------------------------------------------


def test_gate_passes_and_promotes(iris: Cli) -> None:
    iris("versions", "register", "iris", "--metric", "accuracy=0.97", "--git", "none")
    result = iris.json("gate", "iris", "3", "--require", "metrics.accuracy >= 0.9",
                       "--better-than", "production:metrics.accuracy", "--promote-to", "production")
    assert result["ok"] is True and result["promoted_to"] == "production"
    assert [c["ok"] for c in result["checks"]] == [True, True]
    assert iris.json("versions", "show", "iris", "production")["version"] == 3


def test_gate_fails_with_a_table_and_exit_1(iris: Cli) -> None:
    result = iris("gate", "iris", "1", "--require", "metrics.accuracy >= 0.92",
                  "--require", "params.n_estimators = '100'",
                  "--better-than", "production:metrics.accuracy", "--promote-to", "production", code=1)
    assert "metrics.accuracy >= 0.92" in result.stdout and "FAILED" in result.stdout
    data = iris.json("gate", "iris", "1", "--require", "metrics.accuracy >= 0.92", code=1)
    assert data["ok"] is False and data["promoted_to"] is None
    assert iris.json("versions", "show", "iris", "production")["version"] == 2, "a failed gate promotes nothing"


def test_gate_first_deployment_and_missing_metric(iris: Cli) -> None:
    ok = iris.json("gate", "iris", "2", "--better-than", "canary:metrics.accuracy")
    assert ok["ok"] is True and "canary" in ok["checks"][0]["note"]
    assert iris.json("gate", "iris", "2", "--require", "metrics.f1 > 0.5", code=1)["ok"] is False


def test_gate_bad_input(iris: Cli) -> None:
    iris("gate", "iris", "2", code=2)  # no condition
    iris("gate", "iris", "2", "--better-than", "production", code=2)
    assert "column 19" in iris("gate", "iris", "2", "--require", "metrics.accuracy >", code=2).stderr
    iris("gate", "iris", "9", "--require", "metrics.accuracy > 0", code=3)


# -- errors and exit codes -------------------------------------------------------------------


def test_unknown_model_and_bad_ref_exit_3(run_cli: Cli) -> None:
    run_cli("models", "create", "other")
    assert "nope" in run_cli("models", "show", "nope", code=3).stderr
    run_cli("versions", "list", "nope", code=3)
    run_cli("models", "create", "iris")
    run_cli("versions", "show", "iris", "7", code=3)
    run_cli("versions", "show", "iris", "staging", code=3)


def test_bad_url_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--url", "nosuch://x", "models", "list"], prog_name="eventreg")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "nosuch" in result.stderr
    assert "sqlite" in result.stderr, "the message lists the installed backends"
    result = CliRunner().invoke(cli, ["--url", "not a url", "models", "list"], prog_name="eventreg")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1


def test_unreachable_server_exits_5_without_the_password() -> None:
    result = CliRunner().invoke(cli, ["--url", UNREACHABLE, "models", "list"], prog_name="eventreg")
    assert result.exit_code == 5, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert "secret" not in result.output and "Traceback" not in result.output


def test_unreachable_server_through_the_console_script(tmp_path: Path) -> None:
    done = subprocess.run([_script(), "--url", UNREACHABLE, "models", "list"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 5
    assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1
    assert "secret" not in done.stderr and "Traceback" not in done.stderr


def test_debug_shows_the_traceback_and_keeps_the_exit_code(run_cli: Cli) -> None:
    result = run_cli.runner.invoke(cli, ["--url", run_cli.url, "--debug", "models", "show", "nope"],
                                   prog_name="eventreg")
    assert result.exit_code == 3
    assert "Traceback" in result.stderr and result.stderr.strip().splitlines()[-1].startswith("error: ")


def test_usage_errors_exit_2(run_cli: Cli) -> None:
    assert CliRunner().invoke(cli, ["no-such-command"]).exit_code == 2
    assert CliRunner().invoke(cli, ["models", "show"]).exit_code == 2
    assert CliRunner().invoke(cli, ["--bogus"]).exit_code == 2
    run_cli("search", "x = 1", "--limit", "0", code=2)


def test_environment_variables_configure_the_cli(tmp_path: Path) -> None:
    env = {"EVENTREG_URL": f"sqlite:///{tmp_path / 'env.db'}",
           "EVENTREG_ARTIFACTS": f"file://{tmp_path / 'env-artifacts'}", "EVENTREG_ACTOR": "from-env"}
    runner = CliRunner()
    result = runner.invoke(cli, ["--json", "models", "create", "iris"], env=env, prog_name="eventreg")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["actor"] == "from-env"
    assert (tmp_path / "env.db").exists()
    result = runner.invoke(cli, ["--json", "--actor", "flag", "models", "create", "other"], env=env)
    assert json.loads(result.stdout)["actor"] == "flag", "an option beats the environment"


# -- the JSON contract (docs/cli.md) -----------------------------------------------------------

VERSION_KEYS = ["name", "version", "label", "aliases", "status", "status_reason", "description", "params",
                "metrics", "tags", "artifacts", "model_info", "data", "code", "environment", "architecture",
                "run_id", "parents", "created_at", "updated_at", "actor", "position"]


def test_json_shapes_are_the_documented_ones(iris: Cli, tmp_path: Path) -> None:
    """
    A change here changes what scripts parse: update docs/cli.md in the same commit.
    """
    assert list(iris.json("models", "show", "iris")) == [
        "name", "description", "tags", "status", "status_reason", "created_at", "updated_at", "actor",
        "latest_version", "aliases", "labels"]
    assert list(iris.json("versions", "show", "iris", "1")) == VERSION_KEYS
    assert list(iris.json("log-metric", "iris", "1", "f1", "0.5")) == VERSION_KEYS
    assert list(iris.json("promote", "iris", "1", "--to", "staging")) == [
        "model", "name", "version", "previous", "action", "reason", "forced", "actor", "at", "position"]
    assert list(iris.json("compare", "iris", "1", "2")) == ["model", "versions", "rows"]
    assert list(iris.json("history", "iris")[0]) == [
        "position", "recorded_at", "actor", "type", "stream_id", "model", "version", "alias", "run_id",
        "reason", "summary", "payload", "metadata", "hash", "database_user"]
    diff = iris.json("diff", "1", "5")
    assert list(diff) == ["a", "b", "a_position", "b_position", "models_added", "models_removed",
                          "versions_added", "versions_removed", "aliases_moved", "tags_changed",
                          "metrics_changed", "statuses_changed", "descriptions_changed"]
    assert list(diff["versions_added"][0]) == ["what", "model", "version", "key", "before", "after"]
    assert list(iris.json("verify")) == ["ok", "checked", "head", "first_bad_position", "problem",
                                         "expected_head", "artifacts_checked", "artifact_problems",
                                         "signatures_checked"]
    assert list(iris.json("head")) == ["position", "hash"]
    assert list(iris.json("copy", iris.url, f"sqlite:///{tmp_path / 'c.db'}")) == ["copied", "skipped", "head", "artifacts_copied", "artifacts_skipped", "artifacts_bytes"]
    assert list(iris.json("gate", "iris", "2", "--require", "metrics.accuracy > 0")) == [
        "ok", "model", "version", "checks", "promoted_to", "request_id"]
    recorded_at = iris.json("history", "iris")[0]["recorded_at"]
    assert recorded_at.endswith("Z") and "T" in recorded_at


@pytest.mark.parametrize("server", ["postgres_url", "mysql_url"])
def test_cli_against_a_real_server(server: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = request.getfixturevalue(server)
    run_cli = Cli(tmp_path)
    run_cli.url = url
    run_cli("versions", "register", "iris", "--metric", "accuracy=0.9", "--git", "none")
    run_cli("promote", "iris", "1", "--to", "production")
    assert run_cli.json("versions", "show", "iris", "production")["version"] == 1
    assert run_cli.json("verify")["ok"] is True
