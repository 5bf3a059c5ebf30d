"""
The model pages: the list of models, one model (versions, alias timeline, history), one
version (its whole lineage), a comparison of versions, and verified artifact downloads.

Each handler reads through the page's reader (the live registry or a past view) and
renders a template; it holds no registry logic.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from starlette.responses import Response, StreamingResponse

from eventreg.errors import NotFound, ValidationError
from eventreg.reproduce import reproductions
from eventreg.ui._context import PAGE_SIZE, Page, paged

#: metric columns shown on a model's versions table when none are chosen
_DEFAULT_METRIC_COLUMNS = 4
#: events of a model shown per page of its history
_HISTORY_PAGE = 25


def version_ref(text: str) -> int | str:
    """
    A version given in a URL: a number, or a label, an alias or ``latest``.
    """
    return int(text) if text.isascii() and text.isdigit() else text


def last_change(reader: Any, model: Any) -> tuple[Any, str | None]:
    """
    When ``model`` last changed and who did it, from what the public API records:
    its creation, its newest version and its aliases' latest moves.
    """
    moves = [(model.created_at, model.actor)]
    if model.latest_version:
        newest = reader.get_version(model.name, model.latest_version)
        moves.append((newest.created_at, newest.actor))
    for alias in model.aliases:
        move = reader.get_alias(model.name, alias)
        moves.append((move.at, move.actor))
    when, who = max(moves, key=lambda m: m[0])
    return max(when, model.updated_at), who


def models_page(page: Page) -> dict[str, Any]:
    reader = page.reader
    wanted = page.text("q").casefold()
    models = [m for m in reader.list_models()
              if not wanted or wanted in m.name.casefold() or wanted in (m.description or "").casefold()]
    shown, more = paged(models, page.number("page", 1))
    rows = [(m, *last_change(reader, m)) for m in shown]
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
    The events of model ``name``, newest first, a page at a time.
    """
    events = _newest_first(page, name)
    number = page.number("page", 1)
    start = (number - 1) * _HISTORY_PAGE
    return {"name": name, "events": events[start:start + _HISTORY_PAGE], "page_number": number,
            "more": len(events) > start + _HISTORY_PAGE, "total": len(events)}


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
            "reproductions": reproductions(reader, version.name, version.version)}


def version_events(page: Page, name: str, ref: str) -> dict[str, Any]:
    """
    The events of one version (read from its model's stream, so loaded after the page).
    """
    number = page.reader.get_version(name, version_ref(ref)).version
    return {"events": [e for e in reversed(_newest_first(page, name)) if e.version == number]}


def _newest_first(page: Page, name: str) -> list[Any]:
    """
    Every event of model ``name``, newest first (read once per log position).
    """
    return page.site.memo(page, ("history", name), lambda: page.reader.history(name)[::-1])


def _version_series(page: Page, version: Any, key: str, label: str) -> dict[str, Any]:
    reader = page.reader
    return page.site.series(page, ("version", version.name, version.version, key), label,
                            lambda: reader.get_metric_history(version.name, version.version, key))


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


def artifact(page: Page, owner: Any, path: str, filename_hint: str) -> Response:
    """
    Stream one artifact's bytes, verified against its recorded sha256 before any is sent.

    Raises:
        NotFound: ``owner`` (a version or a run) has no artifact at ``path``.
        ArtifactIntegrityError: the stored bytes do not match the digest.
    """
    from eventreg.artifacts import ManifestEntry

    entry = owner.artifacts.get(path)
    if entry is None:
        raise NotFound(f"{filename_hint} has no artifact {path!r}")
    handle = page.site.artifact_store().open(ManifestEntry(sha256=entry.sha256, size=entry.size), name=path)

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
