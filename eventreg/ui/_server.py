"""
Serving the app with uvicorn: a listening socket with a clear error, and a server in a
background thread (for tests, benchmarks and notebooks).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from eventreg.errors import ConfigurationError


def listen(host: str, port: int) -> socket.socket:
    """
    A socket listening on ``host``:``port`` (0: any free port).

    Raises:
        ConfigurationError: the address cannot be used (taken, not this machine's).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as e:
        raise ConfigurationError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def url_of(sock: socket.socket) -> str:
    """
    ``http://host:port/`` of a listening socket.
    """
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


class BackgroundServer:
    """
    uvicorn serving ``app`` in a daemon thread on 127.0.0.1 (a free port unless given);
    a context manager. ``url`` has no trailing slash.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self.socket = listen(host, port)
        self.url = url_of(self.socket).rstrip("/")
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the web UI's server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
