"""
Audit reports: JSON, CSV and one self-contained HTML page, safe with hostile names.
"""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser

import pytest

import eventreg
from eventreg import NotFound, ValidationError

EVIL = "<script>alert(1)<script>"


@pytest.fixture
def reg(sqlite_url, tmp_path):
    with eventreg.open(sqlite_url, artifacts=f"file://{tmp_path / 'artifacts'}", actor="alice") as registry:
        yield registry


def _history(reg, model="iris"):
    reg.create_model(model, description="flowers & <b>things</b>")
    reg.register_version(model, params={"lr": 0.1}, metrics={"acc": 0.9},
                         data={"uri": "s3://data/iris.csv", "digest": "sha256:" + "ab" * 32},
                         code={"repo": "git@example.com:ml.git", "commit": "c0ffee" * 6 + "abcd", "dirty": False},
                         label="v1.0")
    reg.register_version(model, params={"lr": 0.2}, metrics={"acc": 0.95}, tags={"owner": "=cmd|' /C calc'!A0"},
                         data={"uri": "s3://data/iris-2.csv", "digest": "sha256:" + "cd" * 32},
                         code={"repo": "git@example.com:ml.git", "commit": "beef" * 10, "dirty": True})
    reg.promote(model, 1, alias="production", reason="launch </li><script>x()</script>")
    middle = reg.head().position
    bob = eventreg.Registry(reg.log, artifacts=reg.artifacts_url, actor="bob")
    bob.promote(model, 2, alias="production", reason="better")
    bob.rollback(model, alias="production", reason="latency")
    return middle


def test_json_report_has_the_timeline_and_each_versions_lineage(reg, tmp_path):
    _history(reg)
    data = json.loads(reg.audit_report("iris", format="json"))
    assert data["model"]["name"] == "iris"
    assert [(m["action"], m["version"], m["actor"], m["reason"]) for m in data["timeline"]] == [
        ("promote", 1, "alice", "launch </li><script>x()</script>"),
        ("promote", 2, "bob", "better"),
        ("rollback", 1, "bob", "latency"),
    ]
    first, second = data["versions"]
    assert first["data_digest"] == "sha256:" + "ab" * 32 and first["code_commit"] == "c0ffee" * 6 + "abcd"
    assert first["params"] == {"lr": 0.1} and first["metrics"] == {"acc": 0.9}
    assert first["registered_by"] == "alice" and first["registered_at"].endswith("Z") and first["label"] == "v1.0"
    assert second["code_dirty"] is True and second["aliases"] == []
    assert data["log"]["head"] == str(reg.head())
    assert reg.verify(expected_head=eventreg.Head.parse(data["log"]["head"])).ok
    written = reg.audit_report("iris", format="json", path=tmp_path / "r.json")
    assert json.loads(written.read_text())["timeline"] == data["timeline"]


def test_report_of_a_period_shows_the_registry_as_it_stood_at_its_end(reg):
    middle = _history(reg)
    data = json.loads(reg.audit_report("iris", until=middle))
    assert [m["version"] for m in data["timeline"]] == [1]
    assert data["log"]["head_position"] == middle
    assert data["versions"][0]["aliases"] == ["production"]
    later = json.loads(reg.audit_report("iris", since=middle + 1))
    assert [m["action"] for m in later["timeline"]] == ["promote", "rollback"]
    assert later["period"] == {"since": f"position {middle + 1}", "until": None}


def test_csv_report_is_one_table_and_defuses_formulas(reg):
    _history(reg)
    rows = list(csv.DictReader(io.StringIO(reg.audit_report("iris", format="csv"))))
    assert [r["section"] for r in rows] == ["timeline"] * 3 + ["version"] * 2
    assert [r["actor"] for r in rows[:3]] == ["alice", "bob", "bob"]
    assert rows[3]["code_commit"] == "c0ffee" * 6 + "abcd" and rows[3]["data_digest"] == "sha256:" + "ab" * 32
    assert json.loads(rows[3]["params"]) == {"lr": 0.1}
    assert not any(value.startswith(("=", "+", "@")) for row in rows for value in row.values())
    assert rows[4]["tags"].startswith("{")  # a JSON cell; its content cannot start a formula


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []
        self.text = []
        self.links = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.links += [value for name, value in attrs if name in ("src", "href") and value]

    def handle_data(self, data):
        self.text.append(data)


def test_html_report_is_self_contained_and_escapes_everything(reg, tmp_path):
    _history(reg, EVIL)
    path = reg.audit_report(EVIL, format="html", path=tmp_path / "report.html")
    page = path.read_text(encoding="utf-8")
    parser = _Collector()
    parser.feed(page)
    assert "script" not in parser.tags and parser.links == [] and "link" not in parser.tags
    assert "<style>" in page and not re.search(r"https?://", page.split("<body>", 1)[1].replace("s3://", ""))
    text = "".join(parser.text)
    assert EVIL in text and "launch </li><script>x()</script>" in text and "flowers & <b>things</b>" in text
    assert "b" not in parser.tags
    for expected in ("sha256:" + "ab" * 32, "c0ffee" * 6 + "abcd", "rolled back", "bob", "latency", "Version 2"):
        assert expected in text


def test_report_errors(reg):
    _history(reg)
    with pytest.raises(ValidationError, match="unknown report format 'pdf'"):
        reg.audit_report("iris", format="pdf")
    with pytest.raises(NotFound, match="nope"):
        reg.audit_report("nope")
    with pytest.raises(NotFound):
        reg.audit_report("iris", until=0)


def test_cli_writes_each_format(reg, sqlite_url, tmp_path):
    from click.testing import CliRunner

    from eventreg.cli import cli

    _history(reg)
    for fmt in ("html", "json", "csv"):
        out = tmp_path / f"report.{fmt}"
        done = CliRunner().invoke(cli, ["--url", sqlite_url, "--artifacts", reg.artifacts_url, "report", "iris",
                                        "--format", fmt, "-o", str(out)])
        assert done.exit_code == 0, done.output
        assert out.read_text(encoding="utf-8") and "iris" in out.read_text(encoding="utf-8")


def test_html_report_shows_every_recorded_field_and_says_what_was_not_recorded(reg, tmp_path):
    reg.register_version("iris", metrics={"acc": 0.8}, label="v2",
                         data={"uri": "s3://data/iris.csv", "digest": "sha256:" + "ab" * 32, "rows": 150,
                               "schema": {"sepal": "float"}},
                         architecture={"flavor": "sklearn", "class": "RandomForestClassifier"}, code=None)
    for step, value in enumerate((0.85, 0.9, 0.93)):
        reg.log_metric("iris", 1, "acc", value, step=step)
    reg.register_version("iris", code=None)  # records next to nothing
    page = reg.audit_report("iris", format="html")
    parser = _Collector()
    parser.feed(page)
    text = "".join(parser.text)
    # every data key, the architecture and the environment
    for expected in ("rows", "150", "schema.sepal", "RandomForestClassifier", "Environment", "python",
                     "platform", "Training data", "Architecture"):
        assert expected in text, expected
    # the metric's history: an inline SVG line and a table of its four points
    assert "svg" in parser.tags and "polyline" in parser.tags
    assert "acc (4 points)" in text and "0.93" in text
    # nothing blank: what was not recorded says so
    assert not re.search(r"<td[^>]*>\s*</td>", page)
    assert "not recorded" in text
    # "version 2" is a number; the label v2 is shown as the label of version 1
    assert "Version 1 (v2)" in text


def test_html_report_carries_its_own_digest(reg, tmp_path):
    import shutil
    import subprocess

    from eventreg.reporting import check_digest

    _history(reg)
    path = reg.audit_report("iris", format="html", path=tmp_path / "report.html")
    page = path.read_text(encoding="utf-8")
    digest = re.search(r"Report digest <code>sha256:([0-9a-f]{64})</code>", page).group(1)
    assert check_digest(page)
    assert not check_digest(page.replace("latency", "lateness"))
    with pytest.raises(ValidationError):
        check_digest("<html>no digest</html>")
    if shutil.which("sed") and shutil.which("sha256sum"):  # the documented shell check
        done = subprocess.run(f"sed '1,/^<!-- eventreg report body/d' '{path}' | sha256sum", shell=True,
                              capture_output=True, text=True, check=True)
        assert done.stdout.split()[0] == digest
