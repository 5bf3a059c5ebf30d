"""
What a new user hit in the CLI (issue 20): local file errors, read-only commands that
created stores, one spelling for the alias option, hints, version numbers shown as
numbers, and tables sized for a pipe.

Each test failed before the change it guards.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from eventreg.cli import cli
from tests.test_cli import Cli, iris, run_cli  # noqa: F401  (fixtures)


def _bare(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, list(args), prog_name="eventreg", env=env)


# -- local files: exit 2 with one line, never 70 -------------------------------------------------


def test_report_into_a_missing_folder_is_a_user_error(iris: Cli, tmp_path: Path) -> None:
    result = iris("report", "iris", "-o", str(tmp_path / "no" / "such" / "r.html"), code=2)
    assert "No such file or directory" in result.stderr and "internal error" not in result.stderr


def test_download_below_a_file_is_a_user_error(iris: Cli, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    result = iris("download", "iris", "1", str(tmp_path / "afile" / "sub"), code=2)
    assert "Not a directory" in result.stderr and str(tmp_path / "afile") in result.stderr


def test_report_into_a_folder_names_the_file(iris: Cli, tmp_path: Path) -> None:
    new = tmp_path / "newdir"
    written = iris.json("report", "iris", "-o", f"{new}/")["output"]
    assert new.is_dir() and Path(written) == new / "iris-audit-report.html"
    assert "<html" in Path(written).read_text().lower()
    existing = tmp_path / "existing"
    existing.mkdir()
    written = iris.json("report", "iris", "--format", "json", "-o", str(existing))["output"]
    assert Path(written) == existing / "iris-audit-report.json"


# -- read-only commands open without creating a store --------------------------------------------


READ_ONLY = [
    ("models", "list"), ("models", "show", "iris"), ("versions", "list", "iris"), ("runs", "list"),
    ("history",), ("head",), ("verify",), ("search", "model = 'iris'"), ("compare", "iris", "1"),
]


@pytest.mark.parametrize("command", READ_ONLY, ids=lambda c: " ".join(c[:2]))
def test_read_only_commands_do_not_create_a_sqlite_file(tmp_path: Path, command: tuple[str, ...]) -> None:
    missing = tmp_path / "missing.db"
    result = _bare("--url", f"sqlite:///{missing}", *command)
    assert result.exit_code == 3, result.output
    assert not missing.exists()
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1


def test_read_only_commands_do_not_create_a_file_log_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "dir"
    result = _bare("--url", f"file://{missing}", "models", "list")
    assert result.exit_code == 3, result.output
    assert not missing.exists() and not missing.parent.exists()


def test_writing_commands_still_create_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert _bare("--url", url, "models", "create", "iris").exit_code == 0
    assert (tmp_path / "new.db").exists()
    assert _bare("--url", url, "models", "list").exit_code == 0


# -- one spelling: --alias on promote and rollback -------------------------------------------------


def test_promote_and_rollback_both_take_alias_and_print_the_replaced_version(iris: Cli) -> None:
    out = iris("promote", "iris", "1", "--alias", "production").stdout
    assert "(was version 2)" in out
    out = iris("promote", "iris", "1", "--alias", "staging").stdout
    assert "(was nothing)" in out
    out = iris("rollback", "iris", "--alias", "production").stdout
    assert "rolled back to version 2" in out and "(was version 1)" in out
    # the old spelling still works, and is not advertised
    assert iris.json("promote", "iris", "2", "--to", "staging")["version"] == 2
    assert "--to" not in iris("promote", "--help").stdout
    iris("promote", "iris", "1", "--alias", "staging", "--to", "production", code=2)


def test_did_you_mean_for_history_and_aliases(iris: Cli) -> None:
    assert "did you mean 'iris'" in iris("history", "iriss", code=3).stderr
    assert "did you mean 'production'" in iris("rollback", "iris", "--alias", "prodution", code=3).stderr
    assert "did you mean 'production'" in iris("versions", "show", "iris", "prodution", code=3).stderr
    assert "did you mean" not in iris("versions", "show", "iris", "zzzzzz", code=3).stderr


def test_models_archive_asks_for_a_reason(iris: Cli) -> None:
    assert "--reason" in iris("models", "archive", "iris", code=2).stderr
    assert iris.json("models", "archive", "iris", "--reason", "replaced")["status"] == "ARCHIVED"


def test_runs_list_shows_run_names(iris: Cli) -> None:
    with iris.registry() as reg:
        with reg.start_run("exp", name="baseline-forest", code=None) as run:
            run.log_param("depth", 3)
    assert "baseline-forest" in iris("runs", "list").stdout
    assert [r["name"] for r in iris.json("runs", "list")] == ["baseline-forest"]


def test_piped_tables_fit_100_columns(iris: Cli) -> None:
    result = iris("versions", "list", "iris", env={"COLUMNS": None})
    widths = [len(line) for line in result.stdout.splitlines()]
    assert max(widths) <= 100, max(widths)
    wide = iris("versions", "list", "iris", env={"COLUMNS": "150"})
    assert max(len(line) for line in wide.stdout.splitlines()) <= 150


def test_version_numbers_are_shown_as_numbers(iris: Cli) -> None:
    table = iris("compare", "iris", "1", "2").stdout
    assert "version 1" in table and "version 2" in table
    assert not re.search(r"\bv2\b", table)  # version 2 has no label; "v2" would read as one
