"""
The web UI in a real browser: Debian's Chromium driven by Playwright for Python.

No browser is downloaded: the tests launch the system's Chromium (``apt-get install
chromium``). Locally a missing browser skips them; under ``CI=true`` it fails them.
With ``EVENTREG_UI_SCREENSHOTS=<folder>`` they also save the screenshots used in
docs/ui.md (see there for the command).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

import eventreg
import eventreg.ui
from eventreg.ui._server import BackgroundServer
from tests.fixtures.browser import browser  # noqa: F401 (a fixture)
from tests.ui.conftest import ACC_POINTS, HOSTILE, LOSS_POINTS

SHOTS = os.environ.get("EVENTREG_UI_SCREENSHOTS")


class Watched:
    """
    A page whose console errors, uncaught exceptions and dialogs are collected.
    """

    def __init__(self, browser: Any, base: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        self.page = self.context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"exception: {e}"))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def open(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")
        return response

    def shot(self, name: str, full: bool = False) -> None:
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(SHOTS) / f"ui-{name}.png"), full_page=full)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser: Any, server: BackgroundServer) -> Iterator[Watched]:
    watched = Watched(browser, server.url)
    yield watched
    watched.close()
    assert not watched.dialogs, f"a script ran: {watched.dialogs}"


def test_every_page_type_renders_without_console_errors(tab: Watched, built: dict[str, Any]) -> None:
    run_id = built["demo"]["runs"][0]
    pages = ["/", "/models/iris", "/models/iris/versions/1", "/models/iris/compare?v=1&v=2",
             "/models/charts/versions/1", "/models/charts/compare?v=1&v=2", "/runs", f"/runs/{run_id}",
             "/search?filter=" + quote("metrics.accuracy >= 0.9"), "/audit", "/audit/diff?a=1&b=20",
             "/audit/verify?check=1", f"/models/{quote(HOSTILE)}", f"/models/iris?as_of={built['before_rollback']}"]
    for path in pages:
        response = tab.open(path)
        assert response.status == 200, path
        assert tab.page.locator("main h1").count() == 1, path
    assert not tab.errors, tab.errors


def test_click_model_then_version_then_compare_then_audit(tab: Watched) -> None:
    tab.open("/")
    tab.shot("models")
    tab.page.get_by_role("link", name="iris", exact=True).click()
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.locator("h1").inner_text() == "Model iris"
    assert tab.page.locator("#history table tbody tr").count() >= 5, "the history arrived through htmx"
    tab.shot("model", full=True)
    tab.page.locator("#versions a.version-link", has_text="2").click()
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.locator("h1").inner_text() == "iris version 2"
    assert tab.page.locator("#params").inner_text().count("int") == 2, "params with their types"
    tab.page.go_back()
    tab.page.wait_for_load_state("networkidle")
    tab.page.get_by_label("compare version 1").check()
    tab.page.get_by_label("compare version 2").check()
    tab.page.locator("#compare-button").click()
    tab.page.wait_for_load_state("networkidle")
    assert "Compare versions of iris" in tab.page.locator("h1").inner_text()
    differing = tab.page.locator("#comparison tr.differs")
    assert differing.count() >= 2 and "n_estimators" in differing.all_inner_texts()[0] + differing.all_inner_texts()[1]
    tab.page.get_by_role("link", name="Audit", exact=True).click()
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.locator("table.events tbody tr").count() >= 10
    tab.page.get_by_label("Model").fill("iris")
    tab.page.get_by_label("Type").fill("alias.rolled_back")
    tab.page.get_by_role("button", name="Filter").click()
    tab.page.wait_for_load_state("networkidle")
    row = tab.page.locator("table.events tbody tr")
    assert row.count() == 1 and "latency regression seen in the canary" in row.inner_text()
    tab.shot("audit")
    assert not tab.errors, tab.errors


def test_the_rollback_is_on_the_alias_timeline(tab: Watched) -> None:
    tab.open("/models/iris")
    rollback = tab.page.locator("ol.timeline li.move-rollback")
    assert rollback.count() == 1
    text = rollback.inner_text()
    assert "Rollback of production" in text and "version 2 → version 1" in text
    assert "by ana" in text and "latency regression seen in the canary" in text
    assert rollback.evaluate("e => getComputedStyle(e, '::before').backgroundColor") != \
        tab.page.locator("ol.timeline li.move-promote").first.evaluate(
            "e => getComputedStyle(e, '::before').backgroundColor"), "a rollback is drawn differently"


def test_a_chart_draws_the_points_it_was_sent(tab: Watched) -> None:
    tab.open("/models/charts/versions/1")
    charts = tab.page.locator(".chart[data-drawn]")
    assert charts.count() == 2
    acc, loss = charts.nth(0), charts.nth(1)
    assert acc.locator("canvas").count() == 1 and loss.locator("canvas").count() == 1
    assert acc.get_attribute("data-points") == str(ACC_POINTS)
    drawn = int(loss.get_attribute("data-points"))
    assert 2 <= drawn <= 5000
    caption = tab.page.locator("figure.chart-box").nth(1).locator("figcaption").inner_text()
    assert f"{LOSS_POINTS:,} point(s)" in caption and f"{drawn:,} drawn" in caption
    tab.page.locator("h2", has_text="Metrics").scroll_into_view_if_needed()
    tab.shot("charts")
    over = loss.locator(".u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    y = box["y"] + box["height"] / 2
    tab.page.mouse.move(box["x"] + box["width"] * 0.60, y)
    tab.page.mouse.down()
    tab.page.mouse.move(box["x"] + box["width"] * 0.62, y, steps=4)
    tab.page.mouse.up()
    tab.page.wait_for_function("e => e.hasAttribute('data-zoomed')", arg=loss.element_handle())
    low, high = map(int, loss.get_attribute("data-zoomed").split(".."))
    assert 0 < high - low < 5000, "a small step range"
    assert loss.get_attribute("data-points") == str(high - low + 1), "every point of the range, none sampled"
    over.dblclick()
    tab.page.wait_for_function("e => !e.hasAttribute('data-zoomed')", arg=loss.element_handle())
    assert loss.get_attribute("data-points") == str(drawn)
    tab.open("/models/charts/compare?v=1&v=2")
    overlaid = tab.page.locator(".chart[data-drawn]").first
    assert overlaid.locator(".u-legend .u-series").count() == 3, "the step axis and one line per version"
    tab.shot("compare")
    assert not tab.errors, tab.errors


def test_as_of_shows_the_earlier_state_and_links_back_to_now(tab: Watched, built: dict[str, Any]) -> None:
    tab.open(f"/models/iris?as_of={built['before_rollback']}")
    banner = tab.page.locator("#as-of-banner")
    assert banner.is_visible() and str(built["before_rollback"]) in banner.inner_text()
    facts = tab.page.locator("dl.facts").inner_text()
    assert "production → version 2" in facts
    assert tab.page.locator("ol.timeline li.move-rollback").count() == 0
    tab.shot("as-of")
    tab.page.locator("#versions a.version-link", has_text="1").click()
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.locator("#as-of-banner").is_visible(), "the moment is kept while browsing"
    tab.page.get_by_role("link", name="Back to now").click()
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.locator("#as-of-banner").count() == 0
    tab.page.get_by_role("link", name="iris", exact=True).click()
    assert "production → version 1" in tab.page.locator("dl.facts").inner_text()


def test_verify_shows_ok_then_fails_after_a_row_is_changed(browser: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v.db'}"
    with eventreg.open(url, artifacts=f"file://{tmp_path / 'a'}", actor="alice") as reg:
        reg.create_model("m", description="first")
        reg.create_model("n")
        head = reg.head()
        with BackgroundServer(eventreg.ui.app(reg)) as server:
            tab = Watched(browser, server.url)
            try:
                tab.open("/audit")
                tab.page.get_by_role("link", name="Verify the chain").click()
                tab.page.get_by_label("Expected head").fill(str(head))
                tab.page.locator("#verify-button").click()
                tab.page.wait_for_load_state("networkidle")
                result = tab.page.locator("#verify-result")
                assert f"Chain intact up to position {head.position}, hash {head.hash}" in result.inner_text()
                tab.shot("verify")
                with sqlite3.connect(tmp_path / "v.db") as conn:
                    conn.execute("UPDATE eventreg_events SET actor = 'mallory' WHERE position = 1")
                tab.page.locator("#verify-button").click()
                tab.page.wait_for_load_state("networkidle")
                assert "Verification FAILED at position 1" in tab.page.locator("#verify-result").inner_text()
                assert not tab.errors, tab.errors
            finally:
                tab.close()


def test_hostile_names_notes_and_params_render_as_text(tab: Watched, registry: Any) -> None:
    tab.open(f"/models/{quote(HOSTILE)}")
    assert tab.page.locator("main h1 .name").inner_text() == HOSTILE
    assert tab.page.locator("main img").count() == 0 and tab.page.locator("main script").count() == 0
    note = tab.page.locator("main p.description").inner_text()
    assert note.startswith("<script>alert('note')</script>") and len(note) > 10_000
    assert "<script>alert('why')</script>" in tab.page.locator("ol.timeline").inner_text()
    tab.open(f"/models/{quote(HOSTILE)}/versions/1")
    params = tab.page.locator("#params").inner_text()
    assert "<script>alert('p')<script>" in params and "\"'><b>bold</b></td>" in params and "مرحبا بالعالم" in params
    assert tab.page.locator("main b").count() == 0
    tab.open(f"/runs/{registry.get_version(HOSTILE, 1).run_id}")
    assert tab.page.locator("main b").count() == 0
    assert not tab.errors, tab.errors


def test_an_error_page_is_a_page(tab: Watched) -> None:
    response = tab.open("/models/no-such-model")
    assert response.status == 404
    assert "does not exist" in tab.page.locator("#error-message").inner_text()
    response = tab.open("/models/iris?as_of=not-a-time")
    assert response.status == 400 and "not a moment" in tab.page.locator("#error-message").inner_text()
    unexpected = [e for e in tab.errors if "status of 404" not in e and "status of 400" not in e]
    assert not unexpected, unexpected


def test_filtering_models_as_you_type(tab: Watched) -> None:
    tab.open("/")
    tab.page.get_by_label("Filter").fill("chart")
    from playwright.sync_api import expect  # waits (a page function would need eval, which the CSP forbids)

    expect(tab.page.locator("#models-table a.model-link")).to_have_count(1)
    assert tab.page.locator("#models-table a.model-link").inner_text() == "charts"
    assert "q=chart" in tab.page.url
    assert not tab.errors, tab.errors


def test_a_filter_error_points_at_the_column(tab: Watched) -> None:
    tab.open("/runs")
    tab.page.get_by_label("Filter").fill("metrics.accuracy >")
    tab.page.get_by_role("button", name="Search").click()
    tab.page.wait_for_load_state("networkidle")
    error = tab.page.locator("#filter-error").inner_text()
    assert "column" in error and "^" in error
