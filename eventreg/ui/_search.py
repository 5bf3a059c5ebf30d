"""
Experiments and runs (filtered with the search language), one run with its metric
charts, and the search across every model's versions.

A filter that does not parse is shown inline with a caret under the column it names.
"""

from __future__ import annotations

import re
from typing import Any

from eventreg.errors import FilterSyntaxError
from eventreg.ui._context import PAGE_SIZE, Page


def filter_error(error: FilterSyntaxError, text: str) -> dict[str, Any]:
    """
    The error's first line, the filter text and a caret line under its column.
    """
    message = (str(error).splitlines() or [""])[0] or type(error).__name__
    column = getattr(error, "column", 0) or 0
    source = getattr(error, "text", "") or text
    caret = " " * max(column - 1, 0) + "^" if column else ""
    return {"message": message, "column": column, "text": source, "caret": caret}


def _order(page: Page) -> list[str] | None:
    text = page.text("order_by")
    return [t.strip() for t in text.split(",") if t.strip()] or None


def runs_page(page: Page) -> tuple[dict[str, Any], int]:
    reader = page.reader
    experiment = page.text("experiment") or None
    text = page.text("filter")
    number = page.number("page", 1)
    context: dict[str, Any] = {"experiments": reader.list_experiments(), "experiment": experiment or "",
                               "filter": text, "order_by": page.text("order_by"), "page_number": number,
                               "runs": [], "more": False, "error": None}
    try:
        found = reader.search_runs(experiment, text or None, order_by=_order(page),
                                   limit=number * PAGE_SIZE + 1)
    except FilterSyntaxError as error:
        context["error"] = filter_error(error, text)
        return context, 400
    start = (number - 1) * PAGE_SIZE
    context.update(runs=found[start:start + PAGE_SIZE], more=len(found) > start + PAGE_SIZE)
    context["metric_columns"] = sorted({k for run in context["runs"] for k in run.metrics})[:4]
    return context, 200


def run_page(page: Page, run_id: str) -> dict[str, Any]:
    reader = page.reader
    run = reader.get_run(run_id)
    charts = [_run_series(page, run.id, key) for key in sorted(run.metrics)]
    return {"run": run, "charts": charts}


def _run_series(page: Page, run_id: str, key: str, *, min_step: int | None = None,
                max_step: int | None = None) -> dict[str, Any]:
    reader = page.reader

    def read(**bounds: Any) -> Any:
        return reader.get_run_metric_buckets(run_id, key, **bounds)

    return page.site.series(page, ("run", run_id, key), key, read, source=page.link("run_metric", run_id=run_id, key=key),
                            min_step=min_step, max_step=max_step)


def run_metric(page: Page, run_id: str, key: str) -> dict[str, Any]:
    """
    One metric of a run as a chart series in a step range; see ``_models.version_metric``.
    """
    return _run_series(page, page.reader.get_run(run_id).id, key, min_step=page.step("min_step"),
                       max_step=page.step("max_step"))


_OR = re.compile(r"\bor\b", re.IGNORECASE)


def first_versions(reader: Any, text: str, order_by: list[str] | None, limit: int) -> list[Any]:
    """
    The first ``limit`` versions ``search_versions`` gives for ``text``: model by model
    when the result is in model order anyway, so a page of a search over many versions
    stops once it is full (the API scans every version before applying ``limit``).
    """
    if order_by or not text or _OR.search(text) or re.search(r"\b(model|name)\b", text):
        return reader.search_versions(text or None, order_by=order_by, limit=limit)
    names = [m.name for m in reader.list_models()]
    if any("'" in name or "\\" in name for name in names):
        return reader.search_versions(text, limit=limit)
    found: list[Any] = []
    for name in names:
        try:
            found += reader.search_versions(f"model = '{name}' and ({text})", limit=limit - len(found))
        except FilterSyntaxError:  # raised again for the user's text, so the column is theirs
            return reader.search_versions(text, limit=limit)
        if len(found) >= limit:
            break
    return found


def search_page(page: Page) -> tuple[dict[str, Any], int]:
    reader = page.reader
    text = page.text("filter")
    number = page.number("page", 1)
    context: dict[str, Any] = {"filter": text, "order_by": page.text("order_by"), "page_number": number,
                               "versions": [], "more": False, "error": None, "searched": bool(text)}
    if not text and not page.text("order_by"):
        return context, 200
    try:
        found = first_versions(reader, text, _order(page), number * PAGE_SIZE + 1)
    except FilterSyntaxError as error:
        context["error"] = filter_error(error, text)
        return context, 400
    start = (number - 1) * PAGE_SIZE
    context.update(versions=found[start:start + PAGE_SIZE], more=len(found) > start + PAGE_SIZE)
    context["metric_columns"] = sorted({k for v in context["versions"] for k in v.metrics})[:4]
    return context, 200
