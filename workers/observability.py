"""Observability of one tracepost process, set up once at its start: tracing, metrics, log handlers.

``tracepost worker``, ``api`` and ``dev`` call ``start_observability`` before anything connects
to Temporal or builds an HTTP client, and ``close`` before they end (the CLI leaves with
``os._exit``, so nothing is flushed at exit by itself).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from temporalio.client import Client
from temporalio.common import MetricMeter

from workers.composition import Components
from workers.http_metrics import HttpMetrics
from workers.metrics import install_process_runtime
from workers.settings import Settings
from workers.store_gauges import store_gauges_running
from workers.telemetry import configure_tracing, instrument_api, shutdown_tracing
from workers.worker import run_workers


@dataclass
class Observability:
    """What a process set up: its metric meter (None: no endpoint) and tracer provider (None: off).

    Attributes:
        meter: the metric meter served by the process's Prometheus endpoint.
        tracer_provider: the process's tracer provider.
    """

    meter: MetricMeter | None = None
    tracer_provider: TracerProvider | None = None

    def instrument_api(self, app: FastAPI) -> FastAPI:
        """Add the request metrics and the FastAPI spans to the api, before it serves.

        Args:
            app: the api application.

        Returns:
            The same application.
        """
        if self.meter is not None:
            app.add_middleware(HttpMetrics, meter=self.meter)
        instrument_api(app, self.tracer_provider)
        return app

    def close(self) -> None:
        """Send the spans still buffered."""
        shutdown_tracing(self.tracer_provider)


def start_observability(settings: Settings, process: str, metrics_bind: str) -> Observability:
    """Install tracing (``TRACEPOST_OTEL_*``) and the process's Temporal runtime with its metrics.

    Args:
        settings: tracepost settings.
        process: ``worker``, ``api`` or ``dev``.
        metrics_bind: the process's Prometheus ``host:port``; blank: no endpoint.

    Returns:
        What was set up.

    Raises:
        MetricsEndpointError: the metrics endpoint cannot be bound.
    """
    provider = configure_tracing(settings, process)
    meter = install_process_runtime(metrics_bind, log_format=settings.log_format)
    return Observability(meter=meter, tracer_provider=provider)


async def run_observed_workers(
    client: Client, components: Components, stop: asyncio.Event, observability: Observability
) -> None:
    """Run the workers (``run_workers``) with the store gauges refreshed meanwhile.

    Args:
        client: the Temporal client.
        components: connectors to inject.
        stop: set it to stop.
        observability: the process's metrics (no meter: no gauges).
    """
    async with store_gauges_running(
        components.store, observability.meter, components.settings.metrics_refresh_seconds
    ):
        await run_workers(client, components, stop)
