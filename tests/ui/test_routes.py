"""
The web UI's routes through Starlette's TestClient: every page answers, user text is
escaped, errors are pages with a 4xx status, nothing writes, ``as_of`` shows the past and
new events show up on the next request.
"""

from __future__ import annotations

import hashlib
from html.parser import HTMLParser
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

import eventreg
import eventreg.ui
from eventreg.ui._charts import MAX_POINTS, series
from tests.ui.conftest import ACC_POINTS, HOSTILE, LOSS_POINTS, build

from starlette.applications import Starlette  # noqa: E402
from starlette.routing import Mount  # noqa: E402

with warnings.catch_warnings():  # newer Starlette prefers httpx2 for its TestClient; httpx works
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient  # noqa: E402


@pytest.fixture(scope="module")
def client(registry: Any) -> TestClient:
    return TestClient(eventreg.ui.app(registry))


def _pages(built: dict[str, Any], registry: Any) -> list[str]:
    run_id = built["demo"]["runs"][0]
    return ["/", "/?q=ir", "/models/iris", "/models/iris/history", "/models/iris/versions/1",
            "/models/iris/versions/production", "/models/iris/compare?v=1&v=2", "/models/charts/versions/lr-0.1",
            "/models/charts/compare?v=1&v=2", "/runs", "/runs?experiment=charts", f"/runs/{run_id}",
            "/search?filter=" + quote("model = 'iris'"), "/audit", "/audit?model=iris&type=alias",
            "/audit/diff?a=1&b=10", "/audit/verify", "/audit/verify?check=1", f"/models/{quote(HOSTILE)}"]


def test_every_page_answers_with_a_strict_csp_and_no_inline_script(client, built, registry) -> None:
    for url in _pages(built, registry):
        response = client.get(url)
        assert response.status_code == 200, (url, response.text[:500])
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
        tags = _Tags()
        tags.feed(response.text)
        assert not tags.inline_scripts, f"inline script on {url}"
        assert not tags.handlers, f"inline style or event handler on {url}: {tags.handlers}"
        assert not tags.remote, f"{url} loads something from elsewhere: {tags.remote}"


class _Tags(HTMLParser):
    """
    What the CSP would block or what would leave the machine: inline scripts, style and
    on* attributes, and resources from another origin.
    """

    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts = 0
        self.handlers: list[str] = []
        self.remote: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and not found.get("src"):
            self.inline_scripts += 1
        self.handlers += [f"{tag} {name}" for name, _ in attrs if name == "style" or name.startswith("on")]
        for name in ("src", "href"):
            if (found.get(name) or "").startswith(("http:", "https:", "//")):
                self.remote.append(found[name] or "")


def test_static_files_are_vendored_with_their_licences(client) -> None:
    for path in ("vendor/htmx.min.js", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css",
                 "vendor/htmx.LICENSE", "vendor/uPlot.LICENSE", "ui.js", "ui.css"):
        assert client.get(f"/static/{path}").status_code == 200, path


def test_the_models_page_lists_aliases_latest_version_and_last_change(client) -> None:
    html = client.get("/").text
    row = html[html.index('class="model-link">iris<'):]
    row = row[:row.index("</tr>")]
    assert "production" in row and ">1</a>" in row, "production -> version 1 after the demo's rollback"
    assert ">2</a>" in row, "latest version 2"
    assert "by ana" in row, "the demo's actor made the last change (the rollback)"
    filtered = client.get("/?q=chart").text
    assert 'class="model-link">charts<' in filtered and 'class="model-link">iris<' not in filtered


def test_version_numbers_and_labels_stay_in_their_own_columns(client) -> None:
    html = client.get("/models/charts").text
    table = html[html.index('id="versions"'):html.index("</table>", html.index('id="versions"'))]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", table, re.S)
    assert any('class="version-link">1</a>' in c for c in cells)
    assert "lr-0.1" in cells and "lr-0.01" in cells, "labels in their own cells"
    assert not re.search(r"\bv\d+\b", table), "a version number written vN"
    history = client.get("/models/iris/history").text
    assert "registered iris version 2" in history and not re.search(r"\bv\d+\b", history)


def test_user_text_is_escaped_everywhere(client, registry) -> None:
    for url in (f"/models/{quote(HOSTILE)}", f"/models/{quote(HOSTILE)}/versions/1", "/",
                f"/runs/{registry.get_version(HOSTILE, 1).run_id}", f"/models/{quote(HOSTILE)}/history",
                "/audit?type=alias"):
        html = client.get(url).text
        assert "<img src=x" not in html and "<script>alert" not in html and "<b>bold" not in html, url
        assert "</td><script>" not in html, url
    page = client.get(f"/models/{quote(HOSTILE)}").text
    assert "&lt;img src=x onerror=alert(1)&gt; &#34;q&#39; &amp; نموذج" in page
    assert "x" * 10_000 in page, "the 10k-character note is shown whole"


def test_an_unknown_model_or_a_bad_moment_is_a_4xx_page_without_a_traceback(client, built) -> None:
    head = built["head"].position
    for url, status, words in (
            ("/models/nope", 404, "does not exist"),
            ("/models/iris/versions/99", 404, "99"),
            ("/models/iris?as_of=yesterday-ish", 400, "not a moment"),
            (f"/models/iris?as_of={head + 1000}", 400, "after"),
            ("/models/iris?page=0", 400, "page"),
            ("/models/iris/compare?v=1", 400, "2 to 10"),
            ("/audit?since=soon", 400, "since"),
            ("/no/such/page", 404, "Not Found"),
            ("/runs/nope", 404, "nope"),
            ("/models/iris/versions/1/artifacts/no/such/file", 404, "no artifact"),
            ("/audit/report?model=iris&format=pdf", 400, "format"),
            (f"/models/{quote('<b>x</b>')}", 404, "&lt;b&gt;x&lt;/b&gt;")):
        response = client.get(url)
        assert response.status_code == status, (url, response.status_code)
        assert words in response.text, (url, response.text[-800:])
        assert "Traceback" not in response.text and 'id="error-message"' in response.text


def test_there_is_no_route_that_writes(client) -> None:
    for url in ("/", "/models/iris", "/models/iris/versions/1", "/audit/verify", "/audit/report"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            assert client.request(method, url).status_code == 405, (method, url)


def test_as_of_shows_the_registry_as_it_stood_with_a_banner(client, built) -> None:
    before = built["before_rollback"]
    past = client.get(f"/models/iris?as_of={before}").text
    assert 'id="as-of-banner"' in past and f"as of {before}" in past
    facts = past[past.index("<dt>Aliases</dt>"):past.index("</dd>", past.index("<dt>Aliases</dt>"))]
    assert "version 2" in facts, "production held version 2 just before the rollback"
    assert "Rollback" not in past[past.index('id="timeline"'):]
    assert 'href="/models/iris"' in past, "a link back to now"
    assert f"as_of={before}" in past[past.index('id="versions"'):], "links keep the moment"
    now = client.get("/models/iris").text
    assert 'id="as-of-banner"' not in now
    facts = now[now.index("<dt>Aliases</dt>"):now.index("</dd>", now.index("<dt>Aliases</dt>"))]
    assert "version 1" in facts
    earliest = client.get("/?as_of=1").text
    assert 'class="model-link">iris<' in earliest and 'class="model-link">charts<' not in earliest
    when = built["demo"]["rollback"].at.isoformat()
    assert "version 1" in client.get("/models/iris", params={"as_of": when}).text


def test_the_alias_timeline_shows_the_rollback_with_who_and_why(client) -> None:
    html = client.get("/models/iris").text
    timeline = html[html.index('<ol class="timeline">'):html.index("</ol>", html.index('<ol class="timeline">'))]
    moves = re.findall(r'<li class="move move-(\w+)', timeline)
    assert moves == ["rollback", "promote", "promote"], "newest first"
    rollback = timeline[:timeline.index("</li>")]
    assert "version 2" in rollback and "version 1" in rollback and "by ana" in rollback
    assert "latency regression seen in the canary" in rollback


def test_filter_errors_are_shown_inline_with_the_column(client) -> None:
    response = client.get("/runs", params={"filter": "metrics.accuracy >"})
    assert response.status_code == 400
    assert 'id="filter-error"' in response.text and "column" in response.text
    assert 'name="filter" value="metrics.accuracy &gt;"' in response.text, "the filter stays in the box"
    found = client.get("/runs", params={"filter": "params.n_estimators = 5"})
    assert found.status_code == 200 and found.text.count('class="mono">') >= 1
    assert client.get("/search", params={"filter": "metrics.accuracy >> 1"}).status_code == 400
    hits = client.get("/search", params={"filter": "model = 'charts' and params.lr < 0.05"}).text
    table = hits[hits.index('id="results"'):]
    assert "lr-0.01" in table and "lr-0.1<" not in table


def _chart(html: str, title: str) -> dict[str, Any]:
    for raw in re.findall(r"data-chart='([^']*)'", html):
        spec = json.loads(raw.replace("&#34;", '"').replace("&amp;", "&").replace("&lt;", "<")
                          .replace("&gt;", ">").replace("&#39;", "'"))
        if spec["title"] == title:
            return spec
    raise AssertionError(f"no chart {title!r}")


def test_long_metric_histories_are_sent_downsampled_with_the_exact_count(client) -> None:
    html = client.get("/models/charts/versions/1").text
    loss = _chart(html, "loss")["series"][0]
    assert loss["count"] == LOSS_POINTS and loss["sampled"]
    assert len(loss["x"]) <= MAX_POINTS and len(loss["x"]) == len(loss["y"])
    assert 5.0 < max(loss["y"]) and 7777 in loss["x"], "the spike at step 7777 survives"
    assert "12,000" in html
    acc = _chart(html, "acc")["series"][0]
    assert acc["count"] == len(acc["x"]) == ACC_POINTS and not acc["sampled"]
    overlaid = _chart(client.get("/models/charts/compare?v=1&v=2").text, "loss")
    assert [s["label"] for s in overlaid["series"]] == ["version 1 (lr-0.1)", "version 2 (lr-0.01)"]


def test_a_zoomed_chart_reads_its_step_range_at_full_resolution(client) -> None:
    loss = _chart(client.get("/models/charts/versions/1").text, "loss")["series"][0]
    assert loss["source"].endswith("/models/charts/versions/1/metrics/loss")
    zoomed = client.get(loss["source"], params={"min_step": 7700, "max_step": 7800}).json()
    assert zoomed["count"] == 101 and not zoomed["sampled"]
    assert zoomed["x"] == list(range(7700, 7801))
    assert zoomed["y"][77] == pytest.approx(0.1 / 7778 + 5.0), "the spike, exactly at step 7777"
    wide = client.get(loss["source"], params={"min_step": 0, "max_step": 9999}).json()
    assert wide["count"] == 10_000 and wide["sampled"] and len(wide["x"]) <= MAX_POINTS
    moment = "2100-01-01T00:00:00Z"
    past = _chart(client.get(f"/models/charts/versions/1?as_of={moment}").text, "acc")["series"][0]
    assert "as_of=" in past["source"], "a zoom reads the same moment"
    assert client.get(past["source"], params={"max_step": 9}).json()["x"] == list(range(10))
    assert client.get(loss["source"], params={"min_step": "x"}).status_code == 400
    assert client.get("/models/charts/versions/1/metrics/nope").status_code == 404


def test_downsampling_keeps_each_buckets_min_and_max() -> None:
    values = [((i * 7919) % 1000) / 10 for i in range(20_000)]
    values[14_321] = -50.0
    values[777] = float("inf")
    with eventreg.open("memory://", artifacts="memory://charts") as reg:
        with reg.start_run("x") as active:
            with active.metric_buffer() as buffer:
                for step, value in enumerate(values):
                    buffer.log_metric("x", value, step=step)
        run_id = active.info.id

        def read(**bounds: Any) -> Any:
            return reg.get_run_metric_buckets(run_id, "x", **bounds)

        out = series("x", read)
        buckets = read(buckets=MAX_POINTS // 2)
    assert out["count"] == 20_000 and out["sampled"] and len(out["x"]) <= MAX_POINTS
    assert out["x"] == sorted(out["x"])
    drawn = dict(zip(out["x"], out["y"]))
    assert drawn[14_321] == -50.0, "the lowest point, at its own step"
    assert drawn.get(777, "gap") is None or 777 not in drawn, "an infinite value is a gap, not a number"
    for b in buckets[1:20] + buckets[-20:]:
        kept = [y for x, y in drawn.items() if b.min_step <= x <= b.max_step and y is not None]
        assert min(kept) == b.min and max(kept) == b.max
    whole = series("x", read, max_step=99)
    assert whole["x"] == list(range(100)) and whole["y"][:3] == values[:3] and not whole["sampled"]


def test_an_artifact_downloads_verified_and_a_changed_one_is_refused(tmp_path) -> None:
    info = build(tmp_path)
    with eventreg.open(info["url"], artifacts=info["artifacts"]) as reg:
        client = TestClient(eventreg.ui.app(reg))
        version = reg.get_version("iris", 1)
        (path, entry), = version.artifacts.items()
        response = client.get(f"/models/iris/versions/1/artifacts/{path}")
        assert response.status_code == 200
        assert hashlib.sha256(response.content).hexdigest() == entry.sha256
        assert "attachment" in response.headers["content-disposition"]
        stored = next(p for p in Path(info["artifacts"].removeprefix("file://")).rglob("*")
                      if p.is_file() and entry.sha256 in str(p))
        stored.chmod(0o644)
        stored.write_bytes(b"not the model")
        refused = client.get(f"/models/iris/versions/1/artifacts/{path}")
        assert refused.status_code == 409 and "not the model" not in refused.text


def test_verify_says_intact_then_names_the_changed_row(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'v.db'}"
    with eventreg.open(url, artifacts=f"file://{tmp_path / 'a'}", actor="alice") as reg:
        reg.create_model("m")
        reg.create_model("n")
        head = reg.head()
        client = TestClient(eventreg.ui.app(reg))
        ok = client.get("/audit/verify", params={"check": "1", "expected_head": str(head)}).text
        assert f"Chain intact up to position {head.position}, hash" in ok and head.hash in ok
        bad_head = client.get("/audit/verify", params={"check": "1", "expected_head": "nonsense"})
        assert bad_head.status_code == 200 and 'id="verify-error"' in bad_head.text
        with sqlite3.connect(tmp_path / "v.db") as conn:
            conn.execute("UPDATE eventreg_events SET actor = 'mallory' WHERE position = 2")
        failed = client.get("/audit/verify", params={"check": "1"}).text
        assert "Verification FAILED at position 2" in failed and "Chain intact" not in failed


def test_audit_stream_filters_and_pages(client, tmp_path) -> None:
    html = client.get("/audit", params={"model": "iris", "type": "alias"}).text
    rows = re.findall(r'<tr class="event-(alias-[a-z_-]+)"', html)
    assert rows == ["alias-rolled_back", "alias-promoted", "alias-promoted"]
    assert client.get("/audit", params={"actor": "bo", "model": "iris"}).text.count('<tr class="event-') == 0
    with eventreg.open(f"sqlite:///{tmp_path / 'many.db'}", artifacts=f"file://{tmp_path / 'a'}") as registry:
        for i in range(120):
            registry.create_model(f"m{i}")
        client = TestClient(eventreg.ui.app(registry))
        first = client.get("/audit").text
        positions = [int(p) for p in re.findall(r'<td class="num">(\d+)</td>\s*<td><time', first)]
        assert positions == sorted(positions, reverse=True) and len(positions) == 50
        assert positions[0] == registry.head().position
        older = re.search(r'href="([^"]*before=\d+[^"]*)"[^>]*id="older"', first).group(1).replace("&amp;", "&")
        second = [int(p) for p in re.findall(r'<td class="num">(\d+)</td>\s*<td><time', client.get(older).text)]
        assert second and second[0] == positions[-1] - 1
        ranged = client.get("/audit", params={"since": "3", "until": "5"}).text
        assert [int(p) for p in re.findall(r'<td class="num">(\d+)</td>\s*<td><time', ranged)] == [5, 4, 3]


def test_diff_and_audit_reports(client, built) -> None:
    before = built["before_rollback"]
    diff = client.get("/audit/diff", params={"a": str(before), "b": str(before + 1)}).text
    table = diff[diff.index('id="changes"'):]
    assert "production" in table and re.search(r">2</td>\s*<td class=\"text\">1<", table)
    for fmt, kind in (("html", "text/html"), ("json", "application/json"), ("csv", "text/csv")):
        response = client.get("/audit/report", params={"model": "iris", "format": fmt})
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind)
        assert f'filename="audit-iris.{fmt}"' in response.headers["content-disposition"]
        assert "latency regression" in response.text
    json.loads(client.get("/audit/report", params={"model": "iris", "format": "json"}).text)


def test_a_page_shows_events_appended_by_another_writer(built, registry, client) -> None:
    with eventreg.open(built["url"], artifacts=built["artifacts"], actor="zed") as other:
        other.create_model("appended-later")
    html = client.get("/").text
    assert 'class="model-link">appended-later<' in html
    assert "by zed" in html


def test_links_work_under_a_mount_prefix(registry) -> None:
    outer = Starlette(routes=[Mount("/registry", eventreg.ui.app(registry))])
    client = TestClient(outer)
    html = client.get("/registry/").text
    assert 'href="/registry/models/iris"' in html and 'href="/registry/static/ui.css"' in html
    assert client.get("/registry/models/iris").status_code == 200


def test_no_password_is_shown(tmp_path) -> None:
    assert eventreg.redact_url("postgresql+psycopg://ana:s3cret@db:5432/reg") == "postgresql+psycopg://ana:***@db:5432/reg"
    assert eventreg.redact_url("sqlite:///./eventreg.db") == "sqlite:///./eventreg.db"
    with eventreg.open(f"sqlite:///{tmp_path / 'c.db'}", artifacts=f"file://{tmp_path / 'a'}") as reg:
        reg.register_version("m", code={"repo": "https://bot:ghp_t0ken@github.com/org/repo.git", "commit": "ab" * 20},
                             params={"source": "s3://key:s3cret@bucket/data"})
        html = TestClient(eventreg.ui.app(reg)).get("/models/m/versions/1").text
    assert "ghp_t0ken" not in html and "s3cret" not in html
    assert "https://bot:***@github.com/org/repo.git" in html


def test_a_url_password_never_reaches_a_page(built, registry) -> None:
    app = eventreg.ui.app(registry)
    html = TestClient(app).get("/").text
    assert eventreg.redact_url(built["url"]) in html
    registry.log.url, kept = "postgresql://ana:s3cret@db/reg", registry.log.url
    try:
        html = TestClient(eventreg.ui.app(registry)).get("/").text
    finally:
        registry.log.url = kept
    assert "s3cret" not in html and "ana:***@db" in html


def test_eventreg_ui_prints_its_url_and_serves(built, tmp_path) -> None:
    script = shutil.which("eventreg", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.fail("the eventreg console script is not installed (pip install -e '.[ui]')")
    process = subprocess.Popen([script, "ui", "--url", built["url"], "--artifacts", built["artifacts"], "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line + process.stderr.read()
        import httpx

        page = httpx.get(match.group(0) + "models/iris", timeout=20)
        assert page.status_code == 200 and "Alias timeline" in page.text
    finally:
        process.terminate()
        process.wait(timeout=20)
    busy = subprocess.run([script, "ui", "--url", built["url"], "--host", "203.0.113.9", "--port", "1"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert busy.returncode == 2 and busy.stderr.startswith("error: ") and "Traceback" not in busy.stderr
    missing = subprocess.run([script, "ui", "--url", f"sqlite:///{tmp_path / 'none.db'}", "--port", "0"],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert missing.returncode == 3 and "no registry" in missing.stderr and not (tmp_path / "none.db").exists()


def test_a_search_page_stops_model_by_model_with_the_same_results(registry) -> None:
    from eventreg.ui._search import first_versions

    for text in ("params.lr < 0.05", "metrics.acc > 0.5", "actor = 'bo'", "label = 'lr-0.1'",
                 "params.n_estimators = 5 or params.lr = 0.1"):
        for limit in (1, 2, 3, 50):
            expected = [(v.name, v.version) for v in registry.search_versions(text, limit=limit)]
            assert [(v.name, v.version) for v in first_versions(registry, text, None, limit)] == expected, text


def test_the_model_history_is_paged_newest_first_and_the_last_change_is_any_event(tmp_path) -> None:
    with eventreg.open(f"sqlite:///{tmp_path / 'h.db'}", artifacts=f"file://{tmp_path / 'a'}", actor="ana") as reg:
        reg.register_version("m", code=None)
        for i in range(29):
            reg.set_version_tag("m", 1, "round", str(i))
        with eventreg.open(f"sqlite:///{tmp_path / 'h.db'}", artifacts=f"file://{tmp_path / 'a'}",
                           actor="zoe-tagger") as other:
            other.set_model_tag("m", "owner", "zoe")
        client = TestClient(eventreg.ui.app(reg))
        models = client.get("/").text
        row = models[models.index('class="model-link">m<'):]
        assert "by zoe-tagger" in row[:row.index("</tr>")], "a tag is a change too"
        positions = []
        for number in (1, 2):
            page = client.get(f"/models/m/history?page={number}").text
            positions += [int(p) for p in re.findall(r'<td class="num">(\d+)</td>', page)]
        whole = [e.position for e in reg.history("m")]
        assert positions == whole[::-1], "two pages, newest first, every event once"
        assert client.get("/models/m/history?page=3").status_code == 404
        audit = client.get("/audit").text
        assert all(f'<option value="{name}">' in audit for name in eventreg.event_types())


def test_a_versions_events_and_a_models_audit_are_paged_every_event_once(tmp_path) -> None:
    with eventreg.open(f"sqlite:///{tmp_path / 'e.db'}", artifacts=f"file://{tmp_path / 'a'}", actor="ana") as reg:
        reg.register_version("m", code=None)
        reg.register_version("m", code=None)
        for i in range(130):
            reg.set_version_tag("m", 1 + i % 2, "round", str(i))
            if i % 3 == 0:
                reg.promote("m", 1 + i % 2, alias="production", reason=f"round {i}")
        reg.register_version("other", code=None)
        client = TestClient(eventreg.ui.app(reg))
        shown = []
        for number in (1, 2):
            page = client.get(f"/models/m/versions/1/events?page={number}").text
            shown.append([int(p) for p in re.findall(r'<td class="num">(\d+)</td>', page)])
            assert ('rel="next"' in page) is (number == 1)
        mine = [e.position for e in reg.history("m") if e.version == 1]
        assert shown[0] == mine[-50:] and shown[1] == mine[:-50], "newest page first, each oldest first"
        assert client.get("/models/m/versions/1/events?page=3").status_code == 404
        partial = client.get("/models/m/versions/2/events", headers={"HX-Request": "true"}).text
        assert partial.count("<tr class=") == 50 and "/models/m/versions/2/events?page=2" in partial

        def audited(query: str) -> list[int]:
            positions, url = [], f"/audit?{query}"
            while url:
                page = client.get(url).text
                positions += [int(p) for p in re.findall(r'<td class="num">(\d+)</td>', page)]
                found = re.search(r'href="([^"]*)" rel="next" id="older"', page)
                url = found.group(1).replace("&amp;", "&") if found else None
            return positions

        everything = reg.history("m")
        assert audited("model=m") == [e.position for e in everything][::-1]
        assert audited("model=m&type=alias") == [e.position for e in everything if e.type.startswith("alias.")][::-1]
        middle = everything[len(everything) // 2].position
        assert audited(f"model=m&type=version.tag_set&until={middle}") == \
            [e.position for e in everything if e.type == "version.tag_set" and e.position <= middle][::-1]
