"""OpenTelemetry tracing of a tracepost process: Temporal client, workflows, activities, FastAPI, httpx.

``TRACEPOST_OTEL_EXPORTER`` picks where spans go: ``none`` (the default; tests), ``console``
(stdout, for ``tracepost dev``) or ``otlp`` (OTLP/HTTP to a collector at
``TRACEPOST_OTEL_ENDPOINT``). ``configure_tracing`` installs the tracer provider once per
process and instruments httpx; ``connect()`` then adds ``client_interceptors()`` to its client,
so every workflow start, workflow and activity run is a span (the workers take the interceptor
from their client), and ``instrument_api`` adds the FastAPI server spans.

Every exported span passes ``RedactingSpanExporter`` first: attribute values, event attributes
(exception messages) and status descriptions are redacted (domain/redaction.py), and an outgoing
URL keeps its path only for PayTrace's host (an alert webhook's path is its secret).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Status
from opentelemetry.util.types import Attributes, AttributeValue
from temporalio.client import Interceptor as ClientInterceptor
from temporalio.contrib.opentelemetry import TracingInterceptor

from domain.redaction import redact
from workers.settings import Settings

log = logging.getLogger(__name__)

EXPORTERS = ("none", "console", "otlp")
TRACER_NAME = "tracepost"
URL_ATTRIBUTES = frozenset({"http.url", "url.full"})
HEALTH_PROBES = "/healthz,/readyz"
_installed: TracerProvider | None = None


def _redact_value(key: str, value: AttributeValue, path_hosts: frozenset[str]) -> AttributeValue:
    if isinstance(value, str):
        if key in URL_ATTRIBUTES:
            value = safe_url(value, path_hosts)
        return redact(value)
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        return [redact(v) if isinstance(v, str) else v for v in value]
    return value


def _redact_attributes(
    attributes: Attributes, path_hosts: frozenset[str]
) -> dict[str, AttributeValue]:
    return {k: _redact_value(k, v, path_hosts) for k, v in (attributes or {}).items()}


def safe_url(url: str, path_hosts: frozenset[str]) -> str:
    """An outgoing URL as a span may show it: no query, no user info; the path only for PayTrace.

    Args:
        url: the URL.
        path_hosts: hosts whose paths carry no secret (PayTrace's API, tracepost's own api).

    Returns:
        The URL reduced accordingly.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    path = parts.path if host in path_hosts else ""
    return urlunsplit((parts.scheme, netloc, path, "", ""))


class RedactingSpanExporter(SpanExporter):
    """Redacts every span before the wrapped exporter sees it.

    Args:
        inner: the exporter that sends the spans (OTLP, console, in-memory in tests).
        path_hosts: hosts whose URL paths may be shown (see ``safe_url``).
    """

    def __init__(self, inner: SpanExporter, path_hosts: frozenset[str] = frozenset()) -> None:
        self._inner = inner
        self._hosts = path_hosts

    def _clean(self, span: ReadableSpan) -> ReadableSpan:
        events = [
            Event(e.name, _redact_attributes(e.attributes, self._hosts), e.timestamp)
            for e in span.events
        ]
        status = span.status
        if status.description:
            status = Status(status.status_code, redact(status.description))
        return ReadableSpan(
            name=redact(span.name),
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=_redact_attributes(span.attributes, self._hosts),
            events=events,
            links=span.links,
            kind=span.kind,
            status=status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export the redacted copies of the spans."""
        return self._inner.export([self._clean(s) for s in spans])

    def shutdown(self) -> None:
        """Shut the wrapped exporter down."""
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the wrapped exporter."""
        return self._inner.force_flush(timeout_millis)


def otlp_traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector's endpoint (``/v1/traces`` added to a bare one).

    Args:
        endpoint: e.g. ``http://otel-collector:4318`` or a full ``…/v1/traces`` URL.

    Returns:
        The URL to post spans to.
    """
    parts = urlsplit(endpoint.strip())
    if parts.path in ("", "/"):
        parts = parts._replace(path="/v1/traces")
    return urlunsplit(parts)


def service_name(settings: Settings, process: str) -> str:
    """``TRACEPOST_OTEL_SERVICE_NAME``, else ``tracepost-<process>``."""
    return settings.otel_service_name.strip() or f"tracepost-{process}"


def build_tracer_provider(
    settings: Settings, process: str, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """The tracer provider the settings ask for, not installed.

    Args:
        settings: tracepost settings (exporter, endpoint, service name, PayTrace URL).
        process: ``worker``, ``api`` or ``dev`` (the default service name's suffix).
        exporter: an exporter to use instead of the configured one (tests).

    Returns:
        The provider; None when tracing is off (``none``) and no exporter is given.
    """
    if exporter is None:
        if settings.otel_exporter == "none":
            return None
        if settings.otel_exporter == "console":
            exporter = ConsoleSpanExporter()
        else:
            endpoint = settings.otel_endpoint.strip()
            exporter = OTLPSpanExporter(endpoint=otlp_traces_url(endpoint) if endpoint else None)
    hosts = frozenset(
        h for h in (urlsplit(settings.paytrace_base_url).hostname, settings.api_host) if h
    )
    resource = Resource.create(
        {"service.name": service_name(settings, process), "service.namespace": "tracepost"}
    )
    provider = TracerProvider(resource=resource)
    redacting = RedactingSpanExporter(exporter, hosts)
    # The console is for a person watching: spans appear as they end. OTLP goes in batches.
    processor = (
        SimpleSpanProcessor(redacting)
        if isinstance(exporter, ConsoleSpanExporter)
        else BatchSpanProcessor(redacting)
    )
    provider.add_span_processor(processor)
    return provider


def configure_tracing(settings: Settings, process: str) -> TracerProvider | None:
    """Install the process's tracer provider and instrument httpx, once, before connecting.

    Args:
        settings: tracepost settings.
        process: ``worker``, ``api`` or ``dev``.

    Returns:
        The provider (shut it down before the process ends: ``shutdown_tracing``); None when off.
    """
    global _installed
    if _installed is not None:
        return _installed
    provider = build_tracer_provider(settings, process)
    if provider is None:
        return None
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    _installed = provider
    log.info("tracing on: %s spans as %s", settings.otel_exporter, service_name(settings, process))
    return provider


def tracing_interceptors(provider: TracerProvider) -> list[ClientInterceptor]:
    """The Temporal interceptors that trace through ``provider``.

    Workflows started without a traced caller (schedules, the CLI) get spans too
    (``always_create_workflow_spans``).

    Args:
        provider: the tracer provider.

    Returns:
        The interceptors for ``Client.connect`` (workers take them from their client).
    """
    tracer = provider.get_tracer(TRACER_NAME)
    return [TracingInterceptor(tracer, always_create_workflow_spans=True)]


def client_interceptors() -> list[ClientInterceptor]:
    """The interceptors of this process's clients: tracing once ``configure_tracing`` ran."""
    return tracing_interceptors(_installed) if _installed is not None else []


def instrument_api(app: FastAPI, provider: TracerProvider | None) -> None:
    """Add FastAPI server spans to the api (the probes are left out).

    Args:
        app: the api application, before it serves.
        provider: the process's tracer provider; None: tracing is off, nothing is added.
    """
    if provider is not None:
        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=provider, excluded_urls=HEALTH_PROBES
        )


def shutdown_tracing(provider: TracerProvider | None) -> None:
    """Send the spans still buffered, then stop (the CLI ends with ``os._exit``: no atexit).

    Args:
        provider: the provider ``configure_tracing`` returned, or None.
    """
    if provider is not None:
        provider.shutdown()
