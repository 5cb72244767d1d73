"""Tracing: a posting is one trace from the client's start through its workflow and activities,
the activities name the PayTrace transaction and the ERP document, FastAPI requests are spans,
and nothing secret reaches an exporter."""

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from temporalio.client import Client

from activities.observability import SPAN_ERP_DOCUMENT, SPAN_TRANSACTION_ID
from activities.starter import start_payment_posting
from domain.activity_io import PostingOutcome
from tests.ops_helpers import asgi_client, sqlite_store
from tests.stack import TEST_CARD, running_stack
from workers.api import TemporalGateway, create_api
from workers.settings import Settings
from workers.telemetry import (
    build_tracer_provider,
    client_interceptors,
    instrument_api,
    otlp_traces_url,
    safe_url,
    tracing_interceptors,
)

SECRET = "s3cret-path-token"


def everything(spans) -> str:
    """All text of the spans an exporter received: names, attributes, events, statuses."""
    parts = []
    for span in spans:
        parts += [span.name, str(dict(span.attributes or {})), span.status.description or ""]
        parts += [f"{e.name} {dict(e.attributes or {})}" for e in span.events]
    return "\n".join(parts)


async def test_a_posting_is_one_trace_naming_its_transaction_and_erp_document(dev_env, tmp_path):
    exporter = InMemorySpanExporter()
    provider = build_tracer_provider(Settings(var_dir=tmp_path), "worker", exporter=exporter)
    assert provider is not None
    client = Client(**{**dev_env.client.config(), "interceptors": tracing_interceptors(provider)})
    async with running_stack(client, tmp_path, f"sqlite:///{tmp_path}/erp.db") as stack:
        txn = await stack.sale("125.00", invoice="1001")
        await start_payment_posting(client, stack.settings.task_queue, txn, "test")
        result = await stack.handle(txn).result()
    assert result.outcome is PostingOutcome.POSTED
    provider.force_flush()
    spans = exporter.get_finished_spans()

    start = next(s for s in spans if s.name == "StartWorkflow:PaymentPosting")
    trace_id = start.context.trace_id
    ours = [s for s in spans if s.context.trace_id == trace_id]
    names = {s.name for s in ours}
    assert {"RunWorkflow:PaymentPosting", "RunActivity:paytrace.fetch_transaction"} <= names
    assert {"RunActivity:erp.write_receipt", "RunActivity:erp.post_receipt"} <= names
    write_span = next(s for s in ours if s.name == "RunActivity:erp.write_receipt")
    assert write_span.kind is SpanKind.SERVER
    assert write_span.status.status_code is not StatusCode.ERROR
    write = dict(write_span.attributes or {})
    assert write[SPAN_TRANSACTION_ID] == txn
    assert write[SPAN_ERP_DOCUMENT] == result.erp_document
    assert write["temporalWorkflowID"] == f"payment-{txn}"
    fetch = next(s for s in ours if s.name == "RunActivity:paytrace.fetch_transaction")
    assert dict(fetch.attributes or {})[SPAN_TRANSACTION_ID] == txn
    assert TEST_CARD not in everything(spans)
    provider.shutdown()


async def test_fastapi_requests_are_spans_without_the_silent_post_secret(tmp_path):
    exporter = InMemorySpanExporter()
    settings = Settings(var_dir=tmp_path, codec="off", silent_post_secret=SECRET)
    provider = build_tracer_provider(settings, "api", exporter=exporter)
    app = create_api(settings, sqlite_store(tmp_path), TemporalGateway(settings))
    instrument_api(app, provider)
    async with asgi_client(app) as api:
        refused = await api.post(
            f"/webhooks/paytrace/silent-post/{SECRET}?token=abc",
            content=f"ORDERID=1001&NOTE={TEST_CARD}",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert refused.status_code == 422
        assert (await api.get("/healthz")).status_code == 200
    assert provider is not None
    provider.force_flush()
    spans = exporter.get_finished_spans()
    server = [s for s in spans if s.kind is SpanKind.SERVER]
    # the route template itself reads like a secret path: the redaction masks it too
    assert [s.name for s in server] == ["POST /webhooks/paytrace/silent-post/[REDACTED]"]
    attributes = dict(server[0].attributes or {})
    assert attributes.get("http.status_code", attributes.get("http.response.status_code")) == 422
    text = everything(spans)
    assert SECRET not in text and TEST_CARD not in text and "abc" not in text
    assert "/silent-post/[REDACTED]" in text
    provider.shutdown()


def test_the_exporter_sees_no_card_number_password_or_webhook_secret(tmp_path):
    exporter = InMemorySpanExporter()
    settings = Settings(var_dir=tmp_path, paytrace_base_url="https://api.sandbox.example:8443")
    provider = build_tracer_provider(settings, "worker", exporter=exporter)
    assert provider is not None
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("RunActivity:alerts.deliver", kind=SpanKind.CLIENT) as span:
        span.set_attribute("http.url", "https://hooks.chat.example/services/T0/B0/XyZsecret?k=1")
        span.set_attribute("note", "card 4111 1111 1111 1111 csc=123 password=hunter2")
        span.set_attribute("tags", ["account_number=000123456789", "ok"])
        span.record_exception(ValueError(f"declined {TEST_CARD}, Authorization: Bearer abc.def"))
        span.set_status(StatusCode.ERROR, f"PaytraceError: {TEST_CARD}")
    with tracer.start_as_current_span("POST", kind=SpanKind.CLIENT) as span:
        span.set_attribute(
            "url.full", "https://api.sandbox.example:8443/v1/transactions/export/by_id?x=1"
        )
    provider.force_flush()
    text = everything(exporter.get_finished_spans())
    for secret in ("XyZsecret", "4111 1111 1111 1111", TEST_CARD, "hunter2", "abc.def"):
        assert secret not in text
    assert "000123456789" not in text and "csc=123" not in text
    assert "https://hooks.chat.example'" in text  # the alert webhook's origin only
    assert "https://api.sandbox.example:8443/v1/transactions/export/by_id'" in text
    assert "xxxxxxxxxxxx5439" in text  # masked the way PayTrace masks
    provider.shutdown()


def test_tracing_is_off_unless_configured(tmp_path):
    assert build_tracer_provider(Settings(var_dir=tmp_path), "worker") is None
    assert client_interceptors() == []  # this test process never installs a provider
    console = build_tracer_provider(Settings(var_dir=tmp_path, otel_exporter="console"), "dev")
    assert console is not None
    assert console.resource.attributes["service.name"] == "tracepost-dev"
    named = Settings(var_dir=tmp_path, otel_exporter="OTLP", otel_service_name="ar-sync")
    assert named.otel_exporter == "otlp"
    otlp = build_tracer_provider(named, "api")
    assert otlp is not None and otlp.resource.attributes["service.name"] == "ar-sync"
    console.shutdown()
    otlp.shutdown()


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://otel-collector:4318", "http://otel-collector:4318/v1/traces"),
        ("http://otel-collector:4318/", "http://otel-collector:4318/v1/traces"),
        ("https://otlp.example/custom/traces", "https://otlp.example/custom/traces"),
    ],
)
def test_otlp_endpoint(endpoint, url):
    assert otlp_traces_url(endpoint) == url


def test_urls_keep_their_path_only_for_known_hosts():
    hosts = frozenset({"api.paytrace.com"})
    assert safe_url("https://u:p@hooks.example/T/B/secret?x=1", hosts) == "https://hooks.example"
    assert (
        safe_url("https://api.paytrace.com/v1/transactions/sale?t=1", hosts)
        == "https://api.paytrace.com/v1/transactions/sale"
    )


def test_an_unknown_exporter_is_refused():
    with pytest.raises(ValueError, match="TRACEPOST_OTEL_EXPORTER must be none, console or otlp"):
        Settings(otel_exporter="jaeger")
