"""
The model pages: the list of models, one model (versions, alias timeline, history), one
version (its whole lineage), a comparison of versions, and verified artifact downloads.

Each handler reads through the page's reader (the live registry or a past view) and
renders a template; it holds no registry logic.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any, BinaryIO

from starlette.responses import Response, StreamingResponse

from eventreg.domain.events import model_stream
from eventreg.errors import NotFound, ValidationError
from eventreg.reproduce import reproductions
from eventreg.ui._context import PAGE_SIZE, Page, paged

#: metric columns shown on a model's versions table when none are chosen
_DEFAULT_METRIC_COLUMNS = 4
#: events of a model shown per page of its history
_HISTORY_PAGE = 25
#: most events of a model read at once while looking for one version's
_EVENTS_CHUNK = 2000


def version_ref(text: str) -> int | str:
    """
    A version given in a URL: a number, or a label, an alias or ``latest``.
    """
    return int(text) if text.isascii() and text.isdigit() else text


def last_change(page: Page, name: str) -> Any:
    """
    The latest event of model ``name``: when it last changed and who changed it.
    """
    return page.site.memo(page, ("last_change", name), lambda: page.reader.last_change(name))


def models_page(page: Page) -> dict[str, Any]:
    reader = page.reader
    wanted = page.text("q").casefold()
    models = [m for m in reader.list_models()
              if not wanted or wanted in m.name.casefold() or wanted in (m.description or "").casefold()]
    shown, more = paged(models, page.number("page", 1))
    changes = [last_change(page, m.name) for m in shown]
    rows = [(m, change.recorded_at, change.actor) for m, change in zip(shown, changes)]
    return {"rows": rows, "more": more, "total": len(models), "q": page.text("q"),
            "page_number": page.number("page", 1)}


def model_page(page: Page, name: str) -> dict[str, Any]:
    reader = page.reader
    model = reader.get_model(name)
    number = page.number("page", 1)
    newest = model.latest_version or 0
    top = newest - (number - 1) * PAGE_SIZE
    if number > 1 and top < 1:
        raise NotFound(f"model {name!r} has {newest} version(s): there is no page {number}")
    versions = [reader.get_version(name, n) for n in range(top, max(0, top - PAGE_SIZE), -1)]
    chosen = [k.strip() for k in page.text("metrics").split(",") if k.strip()]
    if not chosen:
        keys: set[str] = set()
        for v in versions:
            keys.update(v.metrics)
        chosen = sorted(keys)[:_DEFAULT_METRIC_COLUMNS]
    timeline = []
    for alias in sorted(model.aliases):
        timeline.extend(reader.alias_history(name, alias))
    timeline.sort(key=lambda t: t.since_position, reverse=True)
    return {"model": model, "versions": versions, "metric_columns": chosen,
            "metrics_text": ", ".join(chosen), "page_number": number, "more": top - PAGE_SIZE >= 1,
            "timeline": timeline}


def model_history(page: Page, name: str) -> dict[str, Any]:
    """
    The events of model ``name``, newest first, a page at a time (only that page is read).
    """
    number = page.number("page", 1)
    events = page.reader.history(name, limit=_HISTORY_PAGE + 1, offset=(number - 1) * _HISTORY_PAGE,
                                 newest_first=True)
    if number > 1 and not events:
        raise NotFound(f"model {name!r} has no page {number} of history")
    return {"name": name, "events": events[:_HISTORY_PAGE], "page_number": number,
            "more": len(events) > _HISTORY_PAGE}


def version_page(page: Page, name: str, ref: str) -> dict[str, Any]:
    reader = page.reader
    version = reader.get_version(name, version_ref(ref))
    charts = [_version_series(page, version, key, key) for key in sorted(version.metrics)]
    run = None
    if version.run_id:
        try:
            run = reader.get_run(version.run_id)
        except NotFound:
            run = None
    params = [(k, v) for k, v in sorted(version.params.items())]
    return {"v": version, "charts": charts, "run": run, "params": params, "model_name": name,
            "reproductions": _reproductions(page, version)}


def _reproductions(page: Page, version: Any) -> list[Any]:
    """
    The recorded reproductions of ``version``, kept (:meth:`Site.memo`). A log that hands
    over its stored rows (the SQL ones) is asked first whether the model's stream holds
    any reproduction at all, from the rows' types: then no event of the stream is decoded
    (a version registered with a long metric history carries its points).
    """
    def make() -> list[Any]:
        log = getattr(page.reader, "log", None)
        rows = getattr(log, "read_stream_payloads", None)
        if rows is not None:
            stream = model_stream(version.name)
            with closing(rows(stream, 1, log.stream_version(stream))) as found:
                if not any(row[1] == "version.reproduced" for row in found):
                    return []
        return reproductions(page.reader, version.name, version.version)

    return page.site.memo(page, ("reproductions", version.name, version.version), make)


def version_events(page: Page, name: str, ref: str) -> dict[str, Any]:
    """
    The events of one version, oldest first, a page of 50 at a time (``?page=``, from the
    newest): its model's history is read newest first, a page at a time, back to the
    version's registration, never the whole stream.
    """
    reader = page.reader
    version = reader.get_version(name, version_ref(ref))
    number = page.number("page", 1)
    wanted = number * PAGE_SIZE + 1  # this page and whether one follows
    found: list[Any] = []
    offset, chunk = 0, 2 * PAGE_SIZE
    while len(found) < wanted:
        events = reader.history(name, limit=chunk, offset=offset, newest_first=True)
        offset += len(events)
        for event in events:
            if event.position < version.position:
                break
            if event.version == version.version:
                found.append(event)
        else:
            if len(events) == chunk:
                chunk = min(chunk * 4, _EVENTS_CHUNK)
                continue
        break
    shown = found[(number - 1) * PAGE_SIZE:number * PAGE_SIZE]
    if number > 1 and not shown:
        raise NotFound(f"version {version.version} of {name!r} has no page {number} of events")
    return {"events": shown[::-1], "page_number": number, "more": len(found) > number * PAGE_SIZE}


def _version_series(page: Page, version: Any, key: str, label: str, *, min_step: int | None = None,
                    max_step: int | None = None) -> dict[str, Any]:
    reader = page.reader

    def read(**bounds: Any) -> Any:
        return reader.get_metric_buckets(version.name, version.version, key, **bounds)

    source = page.link("version_metric", name=version.name, version=version.version, key=key)
    return page.site.series(page, ("version", version.name, version.version, key), label, read, source=source,
                            min_step=min_step, max_step=max_step)


def version_metric(page: Page, name: str, ref: str, key: str) -> dict[str, Any]:
    """
    One metric of a version as a chart series, in the step range ``min_step``..``max_step``
    (at full resolution when it holds at most 5,000 points): what a zoomed chart draws.
    """
    version = page.reader.get_version(name, version_ref(ref))
    return _version_series(page, version, key, key, min_step=page.step("min_step"),
                           max_step=page.step("max_step"))


def compare_page(page: Page, name: str) -> dict[str, Any]:
    reader = page.reader
    refs = [version_ref(r.strip()) for r in page.request.query_params.getlist("v") if r.strip()]
    if not 2 <= len(refs) <= 10:
        raise ValidationError(f"compare 2 to 10 versions (v=1&v=2...), not {len(refs)}")
    versions = [reader.get_version(name, ref) for ref in refs]
    comparison = reader.compare(name, [v.version for v in versions])
    keys = sorted({k for v in versions for k in v.metrics})
    charts = []
    for key in keys:
        lines = [_version_series(page, v, key, _version_label(v)) for v in versions if key in v.metrics]
        charts.append({"key": key, "series": lines})
    return {"model_name": name, "versions": versions, "comparison": comparison, "charts": charts}


def _version_label(version: Any) -> str:
    return f"version {version.version}" + (f" ({version.label})" if version.label else "")


def version_artifact(page: Page, name: str, ref: str, path: str) -> Response:
    """
    Stream one artifact of a version, verified against its recorded sha256 before any
    byte is sent.

    Raises:
        NotFound: the version has no artifact at ``path``.
        ArtifactIntegrityError: the stored bytes do not match the digest.
    """
    version = page.reader.get_version(name, version_ref(ref))
    return _download(version, path, page.reader.open_artifact(name, version.version, path))


def run_artifact(page: Page, run_id: str, path: str) -> Response:
    """
    Stream one artifact of a run, verified as :func:`version_artifact` does.
    """
    run = page.reader.get_run(run_id)
    return _download(run, path, page.reader.open_run_artifact(run.id, path))


def _download(owner: Any, path: str, handle: BinaryIO) -> Response:
    entry = owner.artifacts[path]

    def chunks() -> Iterator[bytes]:
        with handle:
            while block := handle.read(1 << 16):
                yield block

    filename = path.rsplit("/", 1)[-1].replace('"', "_")
    return StreamingResponse(chunks(), media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="{_ascii(filename)}"',
        "Content-Length": str(entry.size), "X-Content-SHA256": entry.sha256})


def _ascii(text: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in text) or "artifact"
