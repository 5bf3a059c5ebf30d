"""
``eventreg ui``: serve the read-only web UI (needs ``pip install 'eventreg[ui]'``).
"""

from __future__ import annotations

import click

from eventreg.cli._app import CONTEXT, _settings, cli
from eventreg.config import redact_url
from eventreg.errors import ConfigurationError, MissingDriver


@cli.command(context_settings=CONTEXT)
@click.option("--url", metavar="URL", help="Event log URL (overrides the global --url).")
@click.option("--artifacts", metavar="URL", help="Artifact store URL (overrides the global --artifacts).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but 127.0.0.1 exposes the registry to the network.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port).")
@click.pass_context
def ui(ctx: click.Context, url: str | None, artifacts: str | None, host: str, port: int) -> None:
    """
    Serve the read-only web UI and print its URL.

    Browse models, versions and runs, metric charts, compare versions, see every alias
    move, look at the registry as it stood at any moment (?as_of=), read the audit log and
    verify its hash chain. Nothing on the pages writes to the registry. Stop with Ctrl-C.
    """
    try:
        import uvicorn

        from eventreg.ui import app
        from eventreg.ui._server import listen, url_of
    except ImportError as e:
        raise MissingDriver("eventreg ui needs Starlette, Jinja2 and uvicorn: pip install 'eventreg[ui]'") from e
    settings = _settings(ctx)
    settings.url = url or settings.url
    settings.artifacts = artifacts or settings.artifacts
    registry = settings.registry(ctx, create=False)  # only reads: a URL naming no registry is an error
    config = uvicorn.Config(app(registry), host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    try:
        listening = listen(host, port)
    except ConfigurationError as e:
        raise click.BadParameter(str(e), param_hint="--host/--port") from None
    click.echo(f"eventreg ui: {url_of(listening)}  (read-only view of {redact_url(registry.log.url)}; Ctrl-C stops)")
    server.run(sockets=[listening])
