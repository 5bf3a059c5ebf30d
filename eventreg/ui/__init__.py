"""
A read-only web UI over a registry: ``eventreg.ui.app(registry)`` returns an ASGI app.

Needs the ``ui`` extra (``pip install 'eventreg[ui]'``: Starlette, Jinja2, uvicorn). The
app has no write route; every page takes ``?as_of=`` and shows the registry as it stood
then. ``eventreg ui`` serves it on 127.0.0.1 (see docs/ui.md).
"""

from eventreg.ui._app import app

__all__ = ["app"]
