"""A lazily connected Temporal client for the api process."""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from workers.settings import Settings
from workers.temporal_client import connect
from workers.temporal_connection import TemporalConnectionError


class TemporalUnavailableError(Exception):
    """Temporal could not be reached; the sender should retry later."""


class TemporalGateway:
    """A lazily connected Temporal client that reconnects after failures.

    Args:
        settings: tracepost settings.
        client: an already connected client (tests), else one is connected on first use.
    """

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        """The connected client; raises TemporalUnavailableError when Temporal is down."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(connect(self._settings), timeout=5)
                except (RuntimeError, OSError, TimeoutError, TemporalConnectionError) as exc:
                    # a bad TLS setting too: the api answers 503 and /readyz says why
                    raise TemporalUnavailableError(str(exc)) from exc
            return self._client
