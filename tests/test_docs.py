"""
The documentation works as written.

- Every python and shell block of README.md and docs/*.md runs, in page order, in a
  fresh temporary directory (python blocks share one namespace per page; shell blocks run
  with bash in that same directory, the ``eventreg`` command on PATH).
- docs/cli.md shows exactly what ``eventreg ... --help`` prints, for every command.
- ``mkdocs build --strict`` builds the site without a warning.

A block that cannot run here (it installs from the network, or needs a server that is
not this machine's) says so on the line just before its fence:
``<!-- not run: installs from the network -->``. Those blocks are counted and listed by
:func:`test_blocks_that_do_not_run_are_few_and_say_why`; keep the list short and honest.
(``<!-- runnable -->`` before a fence, the older opt-in, is still accepted and changes
nothing.)

Set ``EVENTREG_UPDATE_DOCS=1`` to rewrite the ``--help`` blocks of docs/cli.md from the
current CLI instead of checking them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from eventreg.cli import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted([ROOT / "README.md", *DOCS.glob("*.md")], key=str)
MARKER = "<!-- runnable -->"
NOT_RUN = re.compile(r"^<!-- not run: (?P<why>.+?) -->$")
SHELLS = ("bash", "sh", "shell", "console")
#: Blocks that do not run (all pages together): grow it only with a reason a reader accepts.
MAX_NOT_RUN = 11
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")  # also inside a list
HELP_MARKER = re.compile(r"^<!-- help: (?P<command>[a-z -]*?) -->$")
HELP_WIDTH = "100"

RUNNER = r"""
import json, subprocess, sys
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
for block in blocks:
    where = f"{block['path']}:{block['line']}"
    if block["lang"] == "python":
        # pad with newlines so that tracebacks show the line numbers of the page
        exec(compile("\n" * block["line"] + block["code"], block["path"], "exec"), namespace)
    else:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", block["code"]])
        if done.returncode:
            sys.exit(f"bash block at {where} exited {done.returncode}")
"""


def _blocks(page: Path) -> list[dict]:
    """
    The fenced code blocks of a page: language, runnable flag, first code line, code.
    """
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, index, previous = [], 0, ""
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            if lines[index].strip():
                previous = lines[index].strip()
            index += 1
            continue
        fence, info, indent = match.group("fence"), match.group("info"), len(match.group("indent"))
        words = [w.lstrip(".") for w in info.replace("{", " ").replace("}", " ").split()]
        start = index + 1
        end = start
        while end < len(lines) and not (lines[end].lstrip(" ").startswith(fence[0] * len(fence))
                                        and not lines[end].strip().strip(fence[0]).strip()):
            end += 1
        lang = words[0] if words else ""
        skipped = NOT_RUN.match(previous)
        blocks.append({
            "path": str(page.relative_to(ROOT)),
            "line": start,  # 0-based index of the first code line == lines before it
            "lang": lang,
            "info": info,
            "runnable": lang in ("python", *SHELLS) and not skipped,
            "not_run": skipped.group("why") if skipped else None,
            "code": "\n".join(_dedent(line, indent) for line in lines[start:end]) + "\n",
        })
        previous = ""
        index = end + 1
    return blocks


def _dedent(line: str, indent: int) -> str:
    """
    A code line of a fence indented by ``indent`` spaces (inside a list), without them.
    """
    return line[indent:] if line[:indent].strip() == "" else line.lstrip()


def _runnable_pages() -> list[Path]:
    return [page for page in PAGES if page.exists() and any(b["runnable"] for b in _blocks(page))]


def _clean_env() -> dict[str, str]:
    # an example runs as in a new shell: no eventreg setting, and no MLflow store URI (an
    # example that wants one sets it itself)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("EVENTREG_") and k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("COLUMNS", "120")
    return env


@pytest.mark.parametrize("page", _runnable_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_runnable_blocks_run(page: Path, tmp_path: Path) -> None:
    blocks = [b for b in _blocks(page) if b["runnable"]]
    (tmp_path / "blocks.json").write_text(json.dumps(blocks))
    (tmp_path / "runner.py").write_text(RUNNER)
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run([sys.executable, str(tmp_path / "runner.py"), str(tmp_path / "blocks.json")],
                          cwd=work, env=_clean_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (
        f"a runnable block of {page.name} failed:\n--- stdout\n{done.stdout[-3000:]}"
        f"\n--- stderr\n{done.stderr[-5000:]}")


def test_blocks_that_do_not_run_are_few_and_say_why() -> None:
    marked = [b for page in PAGES for b in _blocks(page) if b["not_run"]]
    skipped = [f"{b['path']}:{b['line'] + 1} ({b['lang']}): {b['not_run']}" for b in marked]
    print("blocks that do not run:", *skipped, sep="\n  ")
    not_code = [entry for b, entry in zip(marked, skipped) if b["lang"] not in ("python", *SHELLS)]
    assert not not_code, f"only python and shell blocks run; these need no marker: {not_code}"
    assert len(skipped) <= MAX_NOT_RUN, "more blocks left unrun than MAX_NOT_RUN:\n" + "\n".join(skipped)


def test_docs_pages_mark_runnable_blocks_in_a_form_mkdocs_renders() -> None:
    bad = [f"{b['path']}:{b['line']}: ```{b['info']}"
           for page in DOCS.glob("*.md") for b in _blocks(page)
           if b["info"].split()[1:2] == ["runnable"]]
    assert not bad, ("mkdocs renders ```python runnable as a paragraph; write a plain ```python "
                     "fence (every python block runs):\n" + "\n".join(bad))


# -- docs/cli.md against --help ---------------------------------------------------------


def _commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name in sorted(group.commands):
        command = group.commands[name]
        if isinstance(command, click.Group):
            found += _commands(command, prefix + (name,))
        else:
            found.append(prefix + (name,))
    return found


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="eventreg",
                                env={"COLUMNS": HELP_WIDTH})
    assert result.exit_code == 0, result.output
    return result.output


def _help_blocks(text: str) -> dict[str, tuple[int, int]]:
    """
    ``command -> (first line, end line)`` of the help block after each help marker.
    """
    lines = text.splitlines()
    found = {}
    for index, line in enumerate(lines):
        match = HELP_MARKER.match(line)
        if match:
            assert lines[index + 1].startswith("```"), f"docs/cli.md:{index + 2}: a fence must follow {line}"
            end = index + 2
            while not lines[end].startswith("```"):
                end += 1
            found[match.group("command").strip()] = (index + 2, end)
    return found


def test_cli_reference_matches_help() -> None:
    page = DOCS / "cli.md"
    text = page.read_text(encoding="utf-8")
    blocks = _help_blocks(text)
    commands = [" ".join(("eventreg", *path)) for path in _commands()]
    if os.environ.get("EVENTREG_UPDATE_DOCS") == "1":
        lines = text.splitlines()
        for command, (start, end) in sorted(blocks.items(), key=lambda kv: -kv[1][0]):
            lines[start:end] = _help(tuple(command.split()[1:])).rstrip("\n").splitlines()
        page.write_text("\n".join(lines) + "\n", encoding="utf-8")
        text, blocks = page.read_text(encoding="utf-8"), _help_blocks(page.read_text(encoding="utf-8"))
    missing = [c for c in commands if c not in blocks]
    assert not missing, f"docs/cli.md has no <!-- help: ... --> block for: {missing}"
    extra = [c for c in blocks if c not in commands]
    assert not extra, f"docs/cli.md documents commands that do not exist: {extra}"
    lines = text.splitlines()
    for command, (start, end) in blocks.items():
        documented = "\n".join(lines[start:end]).rstrip()
        assert documented == _help(tuple(command.split()[1:])).rstrip(), (
            f"docs/cli.md is out of date for `{command} --help` "
            "(rerun with EVENTREG_UPDATE_DOCS=1 to rewrite it)")


# -- the site builds -------------------------------------------------------------------


def test_mkdocs_builds_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs is in the test extra: pip install -e '.[test]'")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                           "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "index.html").exists()


def test_nav_lists_every_page() -> None:
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    listed = {next(iter(entry.values())) if isinstance(entry, dict) else entry for entry in config["nav"]}
    pages = {page.name for page in DOCS.glob("*.md")}
    assert pages - listed == set(), f"pages not in mkdocs.yml's nav: {sorted(pages - listed)}"


def test_cli_reference_lists_each_error_under_its_exit_code() -> None:
    import eventreg.errors as errors

    rows = {}
    for line in (DOCS / "cli.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| (\d+) \|", line)
        if match:
            rows[int(match.group(1))] = line
    for name in errors.__all__:
        cls = getattr(errors, name)
        if cls is errors.EventregError or cls.exit_code not in rows:
            continue
        assert f"`{name}`" in rows[cls.exit_code], (
            f"docs/cli.md's exit-code table should list {name} under {cls.exit_code}")


def test_readme_says_exactly_what_the_test_command_skips() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = re.search(r"^python3 -m venv .*pytest -q$", ci, re.M)
    assert test_command and test_command.group(0) in readme, "README's test command differs from .ci/run's"
    azurite = re.search(r"azurite@[0-9.]+", ci)
    assert azurite and f"npm install {azurite.group(0)}` in `.ci/azurite`" in readme, (
        "README must say how the Azure Blob tests get Azurite (as .ci/run installs it)")
    for skipped in ("PostgreSQL", "MariaDB", "Azure Blob", "EVENTREG_AZURITE_BIN"):
        assert skipped in readme
