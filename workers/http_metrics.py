"""Request counts and latency of the api, by route template, on the process's metric meter.

The label is the route's template (``/webhooks/paytrace/silent-post/{secret}``), never the path
a client sent: the Silent Post path carries its secret token, and paths carry ids.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.common import MetricMeter

from workers.metrics import API_REQUESTS, API_SECONDS

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    """ASGI middleware: ``tracepost_api_requests_total`` and ``tracepost_api_request_seconds``.

    Args:
        app: the application.
        meter: the metric meter of the process's runtime.
    """

    def __init__(self, app: ASGIApp, meter: MetricMeter) -> None:
        self.app = app
        self._requests = meter.create_counter(API_REQUESTS, "api requests, by route and status")
        self._seconds = meter.create_histogram_float(
            API_SECONDS, "api request duration, by route", "s"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request and record it (a request that raised is counted as a 500)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None)
            labels = {
                "route": route if isinstance(route, str) else "unmatched",
                "method": method
                if (method := str(scope.get("method", ""))) in METHODS
                else "other",
                "status": str(status),
            }
            self._requests.add(1, labels)
            self._seconds.record(
                time.monotonic() - started, {"route": labels["route"], "method": labels["method"]}
            )
