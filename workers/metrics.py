"""Prometheus metrics of a tracepost process: the Temporal SDK's and tracepost's own, one endpoint.

A process makes one Temporal ``Runtime`` with a Prometheus endpoint (``TRACEPOST_METRICS_BIND``
for the worker and ``tracepost dev``, ``TRACEPOST_API_METRICS_BIND`` for the api) and sets it as
the default before any client connects. The SDK's metrics (``temporal_*``) and tracepost's
(``tracepost_*``, created on the runtime's metric meter) are then scraped at
``http://<bind>/metrics``. Blank: no endpoint.

Besides the counters the activities record (activities/observability.py), the
``ActivityMetrics`` interceptor times PayTrace calls and ERP writes and counts their error
classes; workers/store_gauges.py refreshes the gauges read from the store; workers/http_metrics.py
counts the api's requests.
"""

from __future__ import annotations

import re
import time
from typing import Any

from temporalio import activity
from temporalio.common import MetricMeter
from temporalio.exceptions import ApplicationError
from temporalio.runtime import (
    LoggingConfig,
    LoggingFormat,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
)
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

PAYTRACE_SECONDS = "tracepost_paytrace_call_seconds"
PAYTRACE_ERRORS = "tracepost_paytrace_errors_total"
ERP_WRITE_SECONDS = "tracepost_erp_write_seconds"
ERP_WRITE_ERRORS = "tracepost_erp_write_errors_total"
API_REQUESTS = "tracepost_api_requests_total"
API_SECONDS = "tracepost_api_request_seconds"
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Seconds: the buckets of tracepost's latency histograms (the SDK's own keep theirs)."""
HISTOGRAMS = (PAYTRACE_SECONDS, ERP_WRITE_SECONDS, API_SECONDS)
# ERP activities that write (erp.write_receipt, erp.post_document, …); the rest only read.
_ERP_WRITES = re.compile(r"^erp\.(?:write|post|reverse|reapply|set|link)_")
_ERROR_LABEL = re.compile(r"[A-Za-z0-9_.-]{1,60}")


class MetricsEndpointError(RuntimeError):
    """The Prometheus endpoint could not be started (a bad address, a port in use)."""


def prometheus_runtime(bind: str, *, log_format: str = "text") -> Runtime:
    """A Temporal runtime, with a Prometheus endpoint on ``bind`` unless it is blank.

    Args:
        bind: ``host:port`` to serve ``/metrics`` on; blank: no endpoint.
        log_format: ``json`` makes the SDK core's own log lines JSON too.

    Returns:
        The runtime (not set as the default: see ``install_process_runtime``).

    Raises:
        MetricsEndpointError: the endpoint cannot be bound.
    """
    metrics = (
        PrometheusConfig(
            bind_address=bind,
            histogram_bucket_overrides={name: LATENCY_BUCKETS for name in HISTOGRAMS},
        )
        if bind
        else None
    )
    logging = LoggingConfig(
        filter=LoggingConfig.default.filter,
        format=LoggingFormat.JSON if log_format == "json" else None,
    )
    try:
        return Runtime(telemetry=TelemetryConfig(logging=logging, metrics=metrics))
    except ValueError as exc:
        raise MetricsEndpointError(f"metrics endpoint {bind}: {exc}") from exc


def install_process_runtime(bind: str, *, log_format: str = "text") -> MetricMeter | None:
    """Make the process's Temporal runtime the default, before any client connects.

    Args:
        bind: ``host:port`` of the process's Prometheus endpoint; blank: none.
        log_format: ``text`` or ``json`` (the SDK core's log lines follow it).

    Returns:
        The runtime's metric meter when an endpoint serves it, else None.

    Raises:
        MetricsEndpointError: the endpoint cannot be bound.
        RuntimeError: a client connected before (the default runtime exists already).
    """
    runtime = prometheus_runtime(bind, log_format=log_format)
    Runtime.set_default(runtime)
    return runtime.metric_meter if bind else None


def error_class(exc: BaseException) -> str:
    """The label of an error: an ``ApplicationError``'s type (``paytrace_timeout``), else its class.

    Args:
        exc: the error.

    Returns:
        A bounded label value.
    """
    cause = exc
    if not isinstance(cause, ApplicationError) and isinstance(exc.__cause__, ApplicationError):
        cause = exc.__cause__
    name = (cause.type if isinstance(cause, ApplicationError) else None) or type(cause).__name__
    return name if _ERROR_LABEL.fullmatch(name) else "other"


def timed_kind(activity_type: str) -> tuple[str, str] | None:
    """Which latency histogram and error counter an activity feeds, if any.

    Args:
        activity_type: the activity's name (activities/names.py).

    Returns:
        (histogram, error counter) for PayTrace calls and ERP writes; None for the rest.
    """
    if activity_type.startswith("paytrace."):
        return PAYTRACE_SECONDS, PAYTRACE_ERRORS
    if _ERP_WRITES.match(activity_type):
        return ERP_WRITE_SECONDS, ERP_WRITE_ERRORS
    return None


class ActivityMetrics(Interceptor):
    """Times PayTrace activities and ERP writes, and counts their errors by class.

    Recorded on the activity's metric meter (labels ``activity_type``, ``task_queue``,
    ``namespace`` and ``outcome`` = ``ok`` / ``error`` / ``cancelled``), so they are served by the endpoint of the
    client's runtime. The activity's result or error is passed on unchanged.
    """

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        """Wrap the activity inbound chain."""
        return _TimedActivity(next)


class _TimedActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        kind = timed_kind(activity.info().activity_type)
        if kind is None:
            return await self.next.execute_activity(input)
        histogram, errors = kind
        meter = activity.metric_meter()
        started = time.monotonic()
        outcome = "ok"
        try:
            return await self.next.execute_activity(input)
        except Exception as exc:
            outcome = "error"
            meter.create_counter(errors, "failed attempts, by error class").add(
                1, {"error_type": error_class(exc)}
            )
            raise
        except BaseException:  # asyncio.CancelledError: the activity was cancelled
            outcome = "cancelled"
            raise
        finally:
            meter.create_histogram_float(histogram, "duration of an attempt", "s").record(
                time.monotonic() - started, {"outcome": outcome}
            )
