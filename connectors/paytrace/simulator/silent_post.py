"""The hosted checkout Silent Post: a form POST to the merchant's URL, sent in the background."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx

logger = logging.getLogger(__name__)

RETRY_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0)
"""Seconds to wait before each retry; one first attempt plus one retry per entry."""


@dataclass
class Delivery:
    """What happened to one Silent Post. Holds ids and outcomes only, never form values."""

    transaction_id: int
    status: str = "pending"
    attempts: int = 0
    last_http_status: int | None = None
    last_error: str = ""

    def as_dict(self) -> dict[str, object]:
        """Return the delivery as a JSON-ready dict."""
        return {
            "transaction_id": self.transaction_id,
            "status": self.status,
            "attempts": self.attempts,
            "last_http_status": self.last_http_status,
            "last_error": self.last_error,
        }


class SilentPoster:
    """Sends Silent Posts without blocking the checkout response, retrying with backoff.

    Args:
        url: where to post; ``""`` disables sending.
        transport: an httpx transport to send through (tests inject a MockTransport).
        retry_delays: seconds before each retry after a connection error or non-2xx answer.
        timeout: per-attempt timeout in seconds.
    """

    def __init__(
        self,
        url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self._transport = transport
        self._retry_delays = tuple(retry_delays)
        self._timeout = timeout
        self._tasks: set[asyncio.Task[None]] = set()
        self._deliveries: list[Delivery] = []

    @property
    def enabled(self) -> bool:
        """Whether a Silent Post URL is configured."""
        return bool(self.url)

    def submit(self, transaction_id: int, fields: Mapping[str, str]) -> None:
        """Schedule a Silent Post for a transaction and return at once.

        Args:
            transaction_id: the transaction, for logging and the delivery record.
            fields: the form fields to post.
        """
        if not self.enabled:
            return
        delivery = Delivery(transaction_id=transaction_id)
        self._deliveries.append(delivery)
        del self._deliveries[:-500]
        task = asyncio.get_running_loop().create_task(self._deliver(delivery, dict(fields)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def deliveries(self) -> list[dict[str, object]]:
        """Return the recent deliveries, oldest first."""
        return [delivery.as_dict() for delivery in self._deliveries]

    async def aclose(self) -> None:
        """Cancel pending deliveries and wait for them to stop."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _deliver(self, delivery: Delivery, fields: dict[str, str]) -> None:
        async with httpx.AsyncClient(transport=self._transport, timeout=self._timeout) as client:
            for delay in (0.0, *self._retry_delays):
                if delay:
                    await asyncio.sleep(delay)
                delivery.attempts += 1
                try:
                    response = await client.post(self.url, data=fields)
                except httpx.HTTPError as exc:
                    delivery.last_error = type(exc).__name__
                    logger.warning(
                        "silent post for transaction %s failed (attempt %s): %s",
                        delivery.transaction_id,
                        delivery.attempts,
                        delivery.last_error,
                    )
                    continue
                delivery.last_http_status = response.status_code
                if response.is_success:
                    delivery.status = "delivered"
                    delivery.last_error = ""
                    logger.info(
                        "silent post for transaction %s delivered (attempt %s)",
                        delivery.transaction_id,
                        delivery.attempts,
                    )
                    return
                delivery.last_error = f"HTTP {response.status_code}"
                logger.warning(
                    "silent post for transaction %s got HTTP %s (attempt %s)",
                    delivery.transaction_id,
                    response.status_code,
                    delivery.attempts,
                )
        delivery.status = "failed"
        logger.error(
            "silent post for transaction %s gave up after %s attempts",
            delivery.transaction_id,
            delivery.attempts,
        )
