"""Serving ASGI apps inside tracepost's own event loop."""

from __future__ import annotations

import contextlib
from collections.abc import Generator

import uvicorn
from starlette.types import ASGIApp


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the process that embeds it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Install no signal handlers: the embedding process stops the server itself."""
        yield


def embedded_server(app: ASGIApp, host: str, port: int) -> EmbeddedServer:
    """Build an embedded uvicorn server for an ASGI app.

    Args:
        app: the ASGI application.
        host: interface to bind.
        port: port to bind.

    Returns:
        The server; run it with ``await server.serve()`` and stop it with ``should_exit = True``.
    """
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    return EmbeddedServer(config)
