"""
The ASGI app: routes (GET only), security headers, and errors as pages with a 4xx status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.resources import files
from typing import Any

from eventreg.errors import MissingDriver

try:
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles
except ImportError as e:  # pragma: no cover - the extra is installed in tests
    raise MissingDriver("the web UI needs Starlette, Jinja2 and uvicorn: pip install 'eventreg[ui]'") from e

from eventreg.errors import ArtifactIntegrityError, BackendUnavailable, EventregError, NotFound
from eventreg.ui import _audit, _models, _search
from eventreg.ui._context import Page, Site, render, templates

_log = logging.getLogger("eventreg.ui")

#: no inline script or style, nothing from another origin, no framing
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class _SecurityHeaders:
    """
    ASGI middleware: the CSP and friends on every response that has not set its own CSP.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                static = scope.get("path", "").startswith(scope.get("root_path", "") + "/static/")
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in _HEADERS if k not in present and not (static and k == b"cache-control")]
            await send(message)

        await self.app(scope, receive, sending)


def app(registry: Any) -> Starlette:
    """
    The read-only web UI of ``registry`` as an ASGI app (mountable under a prefix).

    Args:
        registry: an open :class:`eventreg.Registry`; pages read it through its public
            API, so they show events other processes append as soon as they are committed.

    Returns:
        A Starlette application. It has no route that writes.
    """
    site = Site(registry)
    tpl = templates()

    def page(template: str, build: Callable[..., Any], *keys: str) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            current = Page(request, site)
            result = build(current, *(request.path_params[k] for k in keys))
            context, status = result if isinstance(result, tuple) else (result, 200)
            return render(tpl, current, template, status, **context)
        return endpoint

    def partial(request: Request) -> Response:
        current = Page(request, site)
        template = "_history.html" if request.headers.get("HX-Request") else "history.html"
        return render(tpl, current, template, **_models.model_history(current, request.path_params["name"]))

    def events(request: Request) -> Response:
        current = Page(request, site)
        found = _models.version_events(current, request.path_params["name"], request.path_params["version"])
        template = "_version_events.html" if request.headers.get("HX-Request") else "version_events.html"
        return render(tpl, current, template, name=request.path_params["name"],
                      version=request.path_params["version"], **found)

    def version_artifact(request: Request) -> Response:
        params = request.path_params
        return _models.version_artifact(Page(request, site), params["name"], params["version"], params["path"])

    def run_artifact(request: Request) -> Response:
        return _models.run_artifact(Page(request, site), request.path_params["run_id"], request.path_params["path"])

    def metric(build: Callable[..., Any], *keys: str) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            return JSONResponse(build(Page(request, site), *(request.path_params[k] for k in keys)))
        return endpoint

    def report(request: Request) -> Response:
        return _audit.report(Page(request, site))

    def error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            status, message = exc.status_code, exc.detail
        elif isinstance(exc, EventregError):
            status = 404 if isinstance(exc, NotFound) else 503 if isinstance(exc, BackendUnavailable) else (
                409 if isinstance(exc, ArtifactIntegrityError) else 400)
            message = str(exc)
        else:  # a bug: say so, log the traceback on the server, never show it
            _log.error("error serving %s", request.url.path, exc_info=exc)
            status, message = 500, f"internal error ({type(exc).__name__}); the server log has the details"
        return render(tpl, Page(request, site, plain=True), "error.html", status, message=message,
                      status=status)

    static = StaticFiles(directory=str(files("eventreg.ui") / "static"))
    routes = [
        Route("/", page("models.html", _models.models_page), name="models"),
        Route("/models/{name}", page("model.html", _models.model_page, "name"), name="model"),
        Route("/models/{name}/history", partial, name="model_history"),
        Route("/models/{name}/compare", page("compare.html", _models.compare_page, "name"), name="compare"),
        Route("/models/{name}/versions/{version}",
              page("version.html", _models.version_page, "name", "version"), name="version"),
        Route("/models/{name}/versions/{version}/events", events, name="version_events"),
        Route("/models/{name}/versions/{version}/metrics/{key:path}",
              metric(_models.version_metric, "name", "version", "key"), name="version_metric"),
        Route("/models/{name}/versions/{version}/artifacts/{path:path}", version_artifact,
              name="version_artifact"),
        Route("/runs", page("runs.html", _search.runs_page), name="runs"),
        Route("/runs/{run_id}", page("run.html", _search.run_page, "run_id"), name="run"),
        Route("/runs/{run_id}/artifacts/{path:path}", run_artifact, name="run_artifact"),
        Route("/runs/{run_id}/metrics/{key:path}", metric(_search.run_metric, "run_id", "key"), name="run_metric"),
        Route("/search", page("search.html", _search.search_page), name="search"),
        Route("/audit", page("audit.html", _audit.audit_page), name="audit"),
        Route("/audit/diff", page("diff.html", _audit.diff_page), name="diff"),
        Route("/audit/verify", page("verify.html", _audit.verify_page), name="verify"),
        Route("/audit/report", report, name="report"),
        Mount("/static", static, name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={Exception: error, HTTPException: error,
                                                        EventregError: error},
                     middleware=[Middleware(_SecurityHeaders)])
