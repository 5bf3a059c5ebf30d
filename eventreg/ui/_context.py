"""
What every page needs: the registry (or its view ``as_of`` a past moment), links that keep
``as_of`` and work under a mount prefix, query parameters read with clear errors, and the
template environment (autoescape on).
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from datetime import datetime, timezone
from importlib.resources import files
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from eventreg.config import redact_url
from eventreg.errors import ValidationError
from eventreg.ui._charts import series

#: rows per page of every table
PAGE_SIZE = 50
#: past views kept (each holds a folded state)
_VIEWS_KEPT = 4
#: results kept by Site.memo (chart series of at most 5,000 points, histories of a model)
_MEMO_KEPT = 64
_MISSING = object()


class Site:
    """
    The registry behind the app and the past views built from it (a few kept, by moment
    and head, so paging through a past moment does not fold the log again).
    """

    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self._views: OrderedDict[tuple[str, int], Any] = OrderedDict()
        self._lock = threading.Lock()
        self._memo: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._paths: dict[tuple[str, str, tuple[str, ...]], str] = {}
        self.log_url = redact_url(str(getattr(getattr(registry, "log", None), "url", "") or ""))

    def view(self, as_of: str) -> Any:
        """
        The registry as it stood at ``as_of`` (a position or an ISO-8601 time).

        Raises:
            ValidationError: ``as_of`` is not a moment, or lies after the head.
        """
        key = (as_of, self.registry.head().position)
        with self._lock:
            found = self._views.get(key)
            if found is not None:
                self._views.move_to_end(key)
                return found
        view = self.registry.as_of(as_of)
        with self._lock:
            self._views[key] = view
            while len(self._views) > _VIEWS_KEPT:
                self._views.popitem(last=False)
        return view

    def series(self, page: Page, owner: tuple[Any, ...], label: str, read: Any, *, source: str | None = None,
               min_step: int | None = None, max_step: int | None = None) -> dict[str, Any]:
        """
        The chart series of a metric from its bucket reads ``read(buckets=, min_step=,
        max_step=)``, in a step range when given; see :func:`~eventreg.ui._charts.series`
        and :meth:`memo`.
        """
        return self.memo(page, ("series", *owner, label, min_step, max_step, source),
                         lambda: series(label, read, min_step=min_step, max_step=max_step, source=source))

    def memo(self, page: Page, key: tuple[Any, ...], make: Any) -> Any:
        """
        ``make()``, kept while the log does not move past the position the page shows: a
        long metric history or a model's whole history is read once, not per request.
        """
        key = (*key, page.position)
        with self._lock:
            found = self._memo.get(key, _MISSING)
            if found is not _MISSING:
                self._memo.move_to_end(key)
                return found
        made = make()
        with self._lock:
            self._memo[key] = made
            while len(self._memo) > _MEMO_KEPT:
                self._memo.popitem(last=False)
        return made

    def path(self, request: Request, route: str, params: dict[str, Any]) -> str:
        """
        The URL path of ``route`` with ``params`` %-quoted, under the app's mount prefix.

        The router is asked once per route and set of parameter names; later links fill
        in the pattern it gave (a page has hundreds of links).
        """
        names = tuple(sorted(params))
        prefix = request.scope.get("app_root_path", request.scope.get("root_path", "")).rstrip("/")
        key = (prefix, route, names)
        pattern = self._paths.get(key)
        if pattern is None:
            marks = {name: f"\x00{name}\x00" for name in names}
            pattern = prefix + str(request.scope["router"].url_path_for(route, **marks))
            self._paths[key] = pattern
        for name in names:
            pattern = pattern.replace(f"\x00{name}\x00", quote(str(params[name]), safe="/" if name == "path" else ""))
        return pattern

class Page:
    """
    One request: its reader (the registry, or the view ``as_of``) and its links.
    """

    def __init__(self, request: Request, site: Site, *, plain: bool = False) -> None:
        self.request = request
        self.site = site
        raw = "" if plain else request.query_params.get("as_of", "").strip()
        self.as_of = raw or None
        self._reader: Any = None
        self._position: int | None = None

    @property
    def reader(self) -> Any:
        """
        What queries answer from: the live registry (caught up with the log) or a past view.
        """
        if self._reader is None:
            self._reader = self.site.registry if self.as_of is None else self.site.view(self.as_of)
        return self._reader

    @property
    def position(self) -> int:
        """
        The last log position the page shows (read once per request).
        """
        if self._position is None:
            self._position = self.reader.head().position
        return self._position

    def link(self, route: str, _q: dict[str, Any] | None = None, _now: bool = False, **path: Any) -> str:
        """
        The path (with the mount prefix) of ``route``, with query ``_q`` and this page's ``as_of``.
        """
        url = self.site.path(self.request, route, path)
        query = [(k, v) for k, v in (_q or {}).items() if v not in (None, "", [], ())]
        if self.as_of and not _now:
            query.append(("as_of", self.as_of))
        return f"{url}?{urlencode(query, doseq=True)}" if query else url

    def here(self, _now: bool = False, **changes: Any) -> str:
        """
        This page's path with some query parameters changed (None removes one).
        """
        multi = {k: self.request.query_params.getlist(k) for k in self.request.query_params}
        for key, value in changes.items():
            multi.pop(key, None)
            if value is not None:
                multi[key] = [str(value)]
        if _now:
            multi.pop("as_of", None)
        pairs = [(k, v) for k, values in multi.items() for v in values if v != ""]
        path = self.request.url.path
        return f"{path}?{urlencode(pairs)}" if pairs else path

    def static(self, path: str) -> str:
        return self.site.path(self.request, "static", {"path": path})

    def text(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default).strip()

    def step(self, name: str) -> int | None:
        """
        A step query parameter (an integer, negative allowed), or None when absent.

        Raises:
            ValidationError: it is not an integer.
        """
        raw = self.text(name)
        if not raw:
            return None
        digits = raw[1:] if raw[:1] == "-" else raw
        if not (digits.isascii() and digits.isdigit()):
            raise ValidationError(f"{name} must be a step (a whole number), not {raw!r}")
        return int(raw)

    def number(self, name: str, default: int, *, minimum: int = 1) -> int:
        """
        An integer query parameter.

        Raises:
            ValidationError: it is not an integer >= ``minimum``.
        """
        raw = self.text(name)
        if not raw:
            return default
        if not (raw.isascii() and raw.isdigit()) or int(raw) < minimum:
            raise ValidationError(f"{name} must be a whole number >= {minimum}, not {raw!r}")
        return int(raw)


def paged(items: list[Any], page: int) -> tuple[list[Any], bool]:
    """
    Page ``page`` (from 1) of ``items``, and whether a next page exists.
    """
    start = (page - 1) * PAGE_SIZE
    return items[start:start + PAGE_SIZE], len(items) > start + PAGE_SIZE


# -- templates ---------------------------------------------------------------------------


def _when(value: Any) -> str:
    if not isinstance(value, datetime):
        return "" if value is None else str(value)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(value: Any) -> str:
    if not isinstance(value, datetime):
        return ""
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _size(value: Any) -> str:
    if not isinstance(value, int):
        return ""
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{value:,} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{value:,} B"  # pragma: no cover


def _metric(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.6g}"


#: the password of a URL written inside any text (``https://user:token@host``)
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@")


def secretless(text: Any) -> str:
    """
    ``text`` with the password of every URL in it replaced by ``***``.
    """
    return _URL_PASSWORD.sub(r"\1***@", str(text))


def _value(value: Any) -> str:
    if isinstance(value, float):
        return _metric(value)
    if value is None:
        return "—"
    return secretless(value)


def _typename(value: Any) -> str:
    return {bool: "bool", int: "int", float: "float", str: "str", type(None): "null",
            list: "list", dict: "object"}.get(type(value), type(value).__name__)


def _what(event: Any) -> str:
    """
    The event's one-line summary with version numbers written as numbers ("version 2"):
    the library's summary writes them "v2", which the UI keeps for labels.
    """
    text = event.summary
    numbers = {event.version, event.payload.get("previous") if isinstance(event.payload, dict) else None}
    for number in sorted(n for n in numbers if isinstance(n, int) and not isinstance(n, bool)):
        text = re.sub(rf"(?<![\w.'\"])v{number}(?![\w.'\"])", f"version {number}", text)
    return text


def templates() -> Jinja2Templates:
    """
    The page templates: every value escaped (autoescape on; no ``|safe`` on user text).
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(files("eventreg.ui") / "templates")),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(secretless=secretless, what=_what, when=_when, iso=_iso, size=_size, metric=_metric, value=_value,
                       typename=_typename)
    return Jinja2Templates(env=env)


def render(tpl: Jinja2Templates, page: Page, name: str, status: int = 200, /, **context: Any) -> HTMLResponse:
    """
    The template ``name`` with ``context``, the page and the registry's (redacted) URL.
    """
    return tpl.TemplateResponse(page.request, name, {"page": page, "log_url": page.site.log_url, **context},
                                status_code=status)
