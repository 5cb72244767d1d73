"""Prometheus metrics: one endpoint per process serving the Temporal SDK's metrics and tracepost's.

The real endpoint is scraped over HTTP after a real PaymentPosting ran on the dev server; the
store gauges and the api's request metrics are scraped the same way. Each test makes a Temporal
runtime of its own on a free port (a runtime's endpoint lives as long as the process).
"""

import re
import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import ValidationError
from temporalio.client import Client

from activities.starter import start_payment_posting
from domain.activity_io import PostingOutcome
from tests.ops_helpers import asgi_client, sqlite_store
from tests.stack import running_stack
from workers.api import TemporalGateway, create_api
from workers.http_metrics import HttpMetrics
from workers.metrics import MetricsEndpointError, prometheus_runtime
from workers.settings import Settings
from workers.store_gauges import StoreGauges

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(bind: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample of the endpoint: (name, labels, value)."""
    response = httpx.get(f"http://{bind}/metrics", timeout=5)
    assert response.status_code == 200
    samples = []
    for line in response.text.splitlines():
        if not line or line.startswith("#"):
            continue
        found = SAMPLE.match(line)
        assert found, f"not Prometheus text format: {line!r}"
        name, labels, value = found.groups()
        samples.append((name, dict(LABEL.findall(labels or "")), float(value)))
    return samples


def value(samples, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include ``labels``."""
    matching = [v for n, lab, v in samples if n == name and labels.items() <= lab.items()]
    assert matching, f"no sample {name} {labels}"
    return float(sum(matching))


async def test_one_endpoint_serves_sdk_and_tracepost_metrics_after_a_posting(dev_env, tmp_path):
    bind = f"127.0.0.1:{free_port()}"
    runtime = prometheus_runtime(bind)
    config = dev_env.client.config()
    client = await Client.connect(
        dev_env.client.service_client.config.target_host,
        namespace=config["namespace"],
        data_converter=config["data_converter"],
        runtime=runtime,
    )
    erp_url = f"sqlite:///{tmp_path}/erp.db"
    async with running_stack(client, tmp_path, erp_url) as stack:
        txn = await stack.sale("125.00", invoice="1001")
        await start_payment_posting(client, stack.settings.task_queue, txn, "test")
        result = await stack.handle(txn).result()
        assert result.outcome is PostingOutcome.POSTED
        samples = scrape(bind)

    queue = stack.settings.task_queue
    # the SDK's own metrics, for this test's task queue
    assert value(samples, "temporal_workflow_completed", workflow_type="PaymentPosting") >= 1
    assert value(samples, "temporal_activity_execution_latency_count", task_queue=queue) >= 1
    # tracepost's: the outcome, the decision, PayTrace latency, ERP write latency
    posted = value(samples, "tracepost_postings_total", workflow_type="PaymentPosting")
    assert posted == 1
    assert value(samples, "tracepost_postings_total", outcome="posted") == 1
    assert value(samples, "tracepost_match_decisions_total", outcome="apply") == 1
    fetched = value(
        samples,
        "tracepost_paytrace_call_seconds_count",
        activity_type="paytrace.fetch_transaction",
        outcome="ok",
    )
    assert fetched >= 1
    writes = value(samples, "tracepost_erp_write_seconds_count", activity_type="erp.write_receipt")
    assert writes == 1
    buckets = {
        lab["le"]
        for n, lab, _ in samples
        if n == "tracepost_erp_write_seconds_bucket" and lab.get("task_queue") == f"{queue}-erp"
    }
    assert {"0.01", "1", "60", "+Inf"} <= buckets  # seconds, not the SDK's millisecond buckets
    card = "4012000098765439"
    assert all(card not in str(lab) for _, lab, _ in samples)


async def test_store_gauges_show_needs_attention_and_sweep_lag(tmp_path):
    bind = f"127.0.0.1:{free_port()}"
    runtime = prometheus_runtime(bind)
    store = sqlite_store(tmp_path)
    now = datetime.now(UTC)
    store.save_sweep_cursor("paytrace-transactions", now - timedelta(minutes=10))
    item = store.open_dead_letter(
        workflow_id="payment-1000123",
        run_id="run-1",
        transaction_id=1000123,
        reason_kind="match_ambiguous",
        reason="two invoices",
        detail={},
        at=now - timedelta(hours=2),
    )
    gauges = StoreGauges(store, runtime.metric_meter)
    gauges.refresh(now)
    samples = scrape(bind)
    assert value(samples, "tracepost_attention_open") == 1
    assert value(samples, "tracepost_attention_oldest_age_seconds") == pytest.approx(7200, abs=2)
    lag = value(samples, "tracepost_sweep_lag_seconds", sweep="paytrace-transactions")
    assert lag == pytest.approx(600, abs=2)

    store.resolve_dead_letter(item, "handled", now)
    gauges.refresh(now)
    samples = scrape(bind)
    assert value(samples, "tracepost_attention_open") == 0
    assert value(samples, "tracepost_attention_oldest_age_seconds") == 0


async def test_api_requests_are_counted_by_route_never_by_the_secret_path(tmp_path):
    bind = f"127.0.0.1:{free_port()}"
    runtime = prometheus_runtime(bind)
    secret = "s3cret-path-token"
    settings = Settings(var_dir=tmp_path, codec="off", silent_post_secret=secret)
    app = create_api(settings, sqlite_store(tmp_path), TemporalGateway(settings))
    app.add_middleware(HttpMetrics, meter=runtime.metric_meter)
    async with asgi_client(app) as api:
        assert (await api.get("/healthz")).status_code == 200
        refused = await api.post(
            f"/webhooks/paytrace/silent-post/{secret}",
            content="ORDERID=1001",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert refused.status_code == 422
        assert (await api.get("/no/such/page")).status_code == 404
    samples = scrape(bind)
    route = "/webhooks/paytrace/silent-post/{token}"
    assert value(samples, "tracepost_api_requests_total", route=route, status="422") == 1
    assert value(samples, "tracepost_api_requests_total", route="/healthz", status="200") == 1
    assert value(samples, "tracepost_api_requests_total", route="unmatched", status="404") == 1
    assert value(samples, "tracepost_api_request_seconds_count", route=route) == 1
    assert all(secret not in str(lab) for _, lab, _ in samples)


def test_a_port_in_use_is_refused_with_its_address():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        bind = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(MetricsEndpointError, match=bind):
            prometheus_runtime(bind)


@pytest.mark.parametrize("bad", ["9464", ":9464", "0.0.0.0:", "0.0.0.0:http", "0.0.0.0:70000"])
def test_a_metrics_endpoint_is_host_and_port(bad):
    with pytest.raises(ValidationError, match="host:port"):
        Settings(metrics_bind=bad)
    assert Settings(metrics_bind=" 0.0.0.0:9464 ").metrics_bind == "0.0.0.0:9464"


def test_a_metrics_endpoint_host_is_an_ip_address_as_the_runtime_wants():
    with pytest.raises(ValidationError, match="IP address"):
        Settings(metrics_bind="localhost:9464")
    assert Settings(api_metrics_bind="[::]:9465").api_metrics_bind == "[::]:9465"
