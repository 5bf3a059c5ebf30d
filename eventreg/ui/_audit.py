"""
The audit pages: the event stream (newest first, filtered by model, actor, type and time
range, paged by log position), the diff between two moments, the hash-chain check and
the audit report downloads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timezone
from itertools import islice
from typing import Any

from starlette.responses import Response

from eventreg.audit import HistoryEvent, event_types, with_database_users
from eventreg.domain.events import model_stream
from eventreg.errors import EventregError, ValidationError
from eventreg.ui._context import PAGE_SIZE, Page

#: positions read per step while scanning the log backwards
_WINDOW = 2000
#: most events examined for one page of a filtered stream (then a link continues)
_SCAN_LIMIT = 100_000
_REPORT_TYPES = {"html": "text/html", "json": "application/json", "csv": "text/csv"}
#: what the type filter suggests: each family ("alias" matches "alias.promoted" ...) then each type
_EVENT_TYPE_CHOICES = sorted({name.split(".")[0] for name in event_types()}) + event_types()


def moment(text: str, what: str) -> int | datetime | None:
    """
    A position (digits) or an ISO-8601 time (UTC when it names no zone); None when empty.

    Raises:
        ValidationError: neither.
    """
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{what} must be a log position or an ISO-8601 time such as "
                              f"2026-03-03T14:00:00Z, not {text!r}") from None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def _wanted(event: HistoryEvent, *, model: str, actor: str, types: list[str],
            since: Any, until: Any) -> bool:
    if model and event.model != model:
        return False
    if actor and event.actor != actor:
        return False
    if types and not any(event.type == t or event.type.startswith(t + ".") for t in types):
        return False
    for bound, later in ((since, False), (until, True)):
        if bound is None:
            continue
        value = event.position if isinstance(bound, int) else event.recorded_at
        if (value > bound) if later else (value < bound):
            return False
    return True


def audit_page(page: Page) -> dict[str, Any]:
    reader = page.reader
    filters = {"model": page.text("model"), "actor": page.text("actor"),
               "types": [t.strip() for t in page.text("type").split(",") if t.strip()],
               "since": moment(page.text("since"), "since"), "until": moment(page.text("until"), "until")}
    head = reader.head().position
    high = min(page.number("before", head + 1, minimum=1) - 1, head)
    if isinstance(filters["until"], int):
        high = min(high, filters["until"])
    low = filters["since"] if isinstance(filters["since"], int) else 1
    if filters["model"]:  # the model's own stream: read by index, not by scanning the log
        found, more, high = _model_events(page, filters, low, high)
        scanned = len(found)
    else:
        found, high, scanned = _scan(reader, filters, low, high)
        more = high >= max(low, 1)
    return {"events": found, "more": more, "before": high + 1, "head": head, "scanned": scanned,
            "f": {k: page.text(k) for k in ("model", "actor", "type", "since", "until")},
            "models": [m.name for m in reader.list_models()][:500], "event_types": _EVENT_TYPE_CHOICES}


def _model_events(page: Page, filters: dict[str, Any], low: int, high: int) -> tuple[list[Any], bool, int]:
    """
    A page of one model's events at or below position ``high``, newest first: its
    history read newest first (only those events), until a page matches, the history
    reaches ``low`` or :data:`_SCAN_LIMIT` events were examined. Also whether more may
    follow and the position to continue below.
    """
    found: list[Any] = []
    scanned, last = 0, high + 1
    for event in _newest_first(page, filters["model"], filters["types"]):
        if len(found) > PAGE_SIZE or scanned >= _SCAN_LIMIT:
            break
        if event.position > high:
            continue
        if event.position < low:
            return found, False, 0
        scanned, last = scanned + 1, event.position
        if _wanted(event, **filters):
            found.append(event)
    if len(found) > PAGE_SIZE:
        return found[:PAGE_SIZE], True, found[PAGE_SIZE - 1].position - 1
    more = scanned >= _SCAN_LIMIT  # stopped looking, not at the end
    return found, more, last - 1 if more else 0


def _newest_first(page: Page, model: str, types: list[str]) -> Iterator[Any]:
    """
    The events of ``model``, newest first. With a type filter, on a log that hands over its
    stored rows (the SQL ones), only the events of those types are decoded: a version
    registered from a run carries the run's metric histories, and decoding 100,000 points
    to skip them cost a model's audit page about 100 ms.
    """
    log = getattr(page.reader, "log", None)
    rows = getattr(log, "read_stream_payloads", None)
    if types and rows is not None:
        stream = model_stream(page.reader.get_model(model).name)
        with closing(rows(stream, 1, log.stream_version(stream))) as found:
            numbers = [row[0] for row in found if any(row[1] == t or row[1].startswith(t + ".") for t in types)]
        for number in reversed(numbers):
            yield from with_database_users(
                [HistoryEvent.of(r) for r in log.read_stream(stream, from_version=number, to_version=number)], log)
        return
    offset, chunk = 0, 2 * PAGE_SIZE
    while True:
        events = page.reader.history(model, limit=chunk, offset=offset, newest_first=True)
        offset += len(events)
        yield from events
        if len(events) < chunk:
            return
        chunk = min(chunk * 4, _WINDOW)


def _scan(reader: Any, filters: dict[str, Any], low: int, high: int) -> tuple[list[Any], int, int]:
    """
    Read the log backwards from ``high`` in windows until a page of matching events is
    found (or :data:`_SCAN_LIMIT` were examined); also the position to continue below.
    """
    found: list[HistoryEvent] = []
    scanned = 0
    window = PAGE_SIZE  # grows while the filter matches little
    while high >= max(low, 1) and len(found) < PAGE_SIZE and scanned < _SCAN_LIMIT:
        start = max(high - window + 1, low, 1)
        window = min(window * 4, _WINDOW)
        chunk = list(islice(reader.events(start), high - start + 1))
        for recorded in reversed(chunk):
            scanned += 1
            high = recorded.position - 1
            event = HistoryEvent.of(recorded)
            if _wanted(event, **filters):
                found.append(event)
                if len(found) == PAGE_SIZE:
                    break
        else:
            high = start - 1
    return found, high, scanned


def diff_page(page: Page) -> dict[str, Any]:
    a, b = page.text("a"), page.text("b")
    result = None
    if a or b:
        if not (a and b):
            raise ValidationError("give both moments, a and b, to compare")
        result = page.site.registry.diff(a, b)
    return {"a": a, "b": b, "diff": result}


def verify_page(page: Page) -> dict[str, Any]:
    expected = page.text("expected_head")
    check = page.text("artifacts") in ("1", "on", "true")
    error = None
    report = None
    if page.text("check") != "1":
        return {"report": None, "expected_head": expected, "artifacts": check, "error": None}
    try:
        report = page.site.registry.verify(expected_head=expected or None, artifacts=check)
    except EventregError as e:  # a malformed expected head: shown beside the field
        error = str(e)
    return {"report": report, "expected_head": expected, "artifacts": check, "error": error}


def report(page: Page) -> Response:
    """
    The audit report of a model as a download (HTML, JSON or CSV); ``as_of`` ends its period.
    """
    fmt = page.text("format", "html").lower()
    if fmt not in _REPORT_TYPES:
        raise ValidationError(f"format must be html, json or csv, not {fmt!r}")
    model = page.text("model")
    if not model:
        raise ValidationError("choose a model for the audit report")
    until = page.text("until") or page.as_of or None
    text = page.site.registry.audit_report(model, since=page.text("since") or None, until=until, format=fmt)
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in model)[:80] or "model"
    return Response(text, media_type=_REPORT_TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="audit-{name}.{fmt}"',
        "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'"})
