"""Serving an ASGI app for real over HTTP in a test: uvicorn on 127.0.0.1 and a free port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from workers.http import embedded_server


@asynccontextmanager
async def served(app: Any, what: str) -> AsyncIterator[str]:
    """Serve ``app`` until the block ends; yield its base URL (the OS picks the port).

    Args:
        app: the ASGI application.
        what: what it is, for the failure message when it does not start within 10 s.
    """
    server = embedded_server(app, "127.0.0.1", 0)
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                assert not serving.done(), f"the {what} did not start"
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
