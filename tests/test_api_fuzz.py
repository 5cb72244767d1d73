"""schemathesis against the api's published OpenAPI schema: no generated request gets a 5xx.

The api runs under uvicorn in a thread of its own (tests/fuzz_helpers.py ``served_api``),
against the session's Temporal dev server. Events are signed with the configured secret, so
generated bodies reach validation and, when valid, Temporal; unsigned ones test the 401 path.
"""

import json
import time

import httpx
import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.store import Store
from domain.events import sign
from tests.fuzz_helpers import SECRET, SILENT, served_api
from workers.api import TemporalGateway, create_api
from workers.settings import Settings


@pytest.fixture(scope="module")
def api_base(dev_env, tmp_path_factory):
    target = dev_env.client.service_client.config.target_host
    with served_api(tmp_path_factory.mktemp("fuzz"), target) as served:
        yield served


def published_schema():
    """The api's OpenAPI document, built from the app itself (no server needed)."""
    import tempfile
    from pathlib import Path

    plain = Settings(var_dir=Path(tempfile.mkdtemp()), codec="off")
    app = create_api(plain, Store(sa.create_engine("sqlite://")), TemporalGateway(plain))
    return schemathesis.openapi.from_dict(app.openapi())


SCHEMA = published_schema()
OPERATIONS = {
    f"{op.method.upper()} {op.path}": op for op in (r.ok() for r in SCHEMA.get_all_operations())
}
EXAMPLES = {"POST /webhooks/events": 250, "POST /webhooks/paytrace/silent-post/{token}": 120}


def send(base, case, signed: bool, right_token: bool) -> httpx.Response:
    kwargs = case.as_transport_kwargs(base_url=base)
    headers = {k: v for k, v in (kwargs.get("headers") or {}).items() if isinstance(v, str)}
    content = None
    if "json" in kwargs:
        content = json.dumps(kwargs["json"]).encode()
        headers["content-type"] = "application/json"
        if signed:
            headers = {k: v for k, v in headers.items() if not k.lower().startswith("x-tracepost-")}
            at = int(time.time())
            headers["x-tracepost-timestamp"] = str(at)
            headers["x-tracepost-signature"] = sign(SECRET.encode(), at, content)
    elif "data" in kwargs:
        data = kwargs["data"]
        content = data if isinstance(data, bytes) else str(data).encode()
    url = kwargs["url"]
    if case.path.startswith("/webhooks/paytrace/silent-post/") and right_token:
        url = f"{base}/webhooks/paytrace/silent-post/{SILENT}"
    return httpx.request(
        kwargs["method"],
        url,
        params=kwargs.get("params"),
        headers=headers,
        content=content,
        timeout=30,
    )


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_no_generated_request_gets_a_server_error(api_base, operation):
    base, _ = api_base
    seen: dict[int, int] = {}

    @given(case=OPERATIONS[operation].as_strategy(), signed=st.booleans(), right=st.booleans())
    @settings(
        max_examples=EXAMPLES.get(operation, 10),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )
    def run(case, signed, right):
        response = send(base, case, signed, right)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        assert response.status_code < 500 or (
            operation == "GET /readyz" and response.status_code == 503
        ), (response.status_code, response.text[:300])

    run()
    print(operation, dict(sorted(seen.items())))
    if operation == "POST /webhooks/events":
        assert seen.get(401) and seen.get(422)  # both the signature and validation were reached
