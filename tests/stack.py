"""An in-process tracepost stack for integration tests: real workers on a real Temporal server,
the PayTrace simulator behind the real client, an ERP stand-in (Sage 500 or Dynamics SL), the
store."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from pydantic import SecretStr
from temporalio.client import Client, WorkflowHandle

from connectors.erp.protocol import ErpConnector
from connectors.erp.standin import ConnectorOptions, stand_in
from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.models import CreditCard, KeyedSaleRequest
from connectors.paytrace.simulator import SimulatorConfig, create_app
from connectors.store import Store
from domain.erp_documents import DocumentKind
from tests.erp_rows import posted_payments
from workers.composition import Components
from workers.http import embedded_server
from workers.settings import Settings
from workers.worker import build_workers
from workflows import PaymentPosting

TEST_CARD = "4012000098765439"


@dataclass
class Stack:
    client: Client
    settings: Settings
    paytrace: PaytraceClient
    erp: ErpConnector
    erp_engine: sa.Engine
    store: Store
    simulator: Any = None

    async def fault(self, **rule: Any) -> None:
        """Install a fault rule in the simulator (``/_sim/faults``)."""
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.simulator), base_url="http://sim"
        ) as admin:
            resp = await admin.post("/_sim/faults", json=rule)
            assert resp.status_code == 201, resp.text

    async def sale(self, amount: str, invoice: str = "", customer: str = "") -> int:
        """Charge the published Visa test card through the simulator, as any client would."""
        from connectors.paytrace.errors import PaytraceDeclined

        request = KeyedSaleRequest(
            amount=Decimal(amount),
            credit_card=CreditCard(
                number=SecretStr(TEST_CARD), expiration_month="12", expiration_year="2030"
            ),
            invoice_id=invoice,
            customer_reference_id=customer,
        )
        try:
            return (await self.paytrace.sale_keyed(request)).transaction_id
        except PaytraceDeclined as exc:
            assert exc.transaction_id is not None
            return exc.transaction_id

    def balance(self, invoice: str) -> Decimal:
        found = self.erp.invoice_by_number(invoice)
        assert found is not None
        return found.balance

    def receipts(self, transaction_id: int) -> tuple[int, int]:
        """(posted payments in the ERP's own tables, documents tracepost recorded) for a payment."""
        docs = self.erp.documents_for_transaction(transaction_id)
        return (
            posted_payments(self.erp_engine, self.erp.erp_name, transaction_id),
            sum(1 for d in docs if d.kind is DocumentKind.RECEIPT),
        )

    def handle(self, transaction_id: int) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle_for(PaymentPosting.run, f"payment-{transaction_id}")


@asynccontextmanager
async def running_stack(
    client: Client,
    tmp_path: Path,
    erp_url: str,
    *,
    real_http: bool = False,
    erp_name: str = "sage500",
) -> AsyncIterator[Stack]:
    """Worker, simulator, ERP stand-in and store for one test.

    With ``real_http`` the simulator is served by uvicorn on a free port and the client uses a
    1-second read timeout, so slow answers really time out (in-process calls never do).
    """
    queue = f"tracepost-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        task_queue=queue,
        var_dir=tmp_path,
        erp=erp_name,
        erp_url=erp_url,
        sweep_first_lookback_days=1,
        paytrace_in_flight_grace_seconds=3,
    )
    # Transaction ids are workflow ids: every stack on the shared dev server gets its own range.
    first_id = random.randrange(10**6, 10**12)
    app = create_app(
        SimulatorConfig(db_path=str(tmp_path / "sim.db"), first_transaction_id=first_id)
    )
    server = None
    if real_http:
        server = embedded_server(app, "127.0.0.1", 0)
        serving = asyncio.create_task(server.serve())
        async with asyncio.timeout(10):
            while not server.started:
                assert not serving.done(), "the simulator did not start"
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        timeout = httpx.Timeout(connect=2.0, read=1.0, write=2.0, pool=2.0)
        paytrace = PaytraceClient(f"http://127.0.0.1:{port}", "demo", "demo", timeout=timeout)
    else:
        transport = httpx.ASGITransport(app=app)
        paytrace = PaytraceClient("http://sim", "demo", "demo", transport=transport)
    erp_engine = sa.create_engine(erp_url)
    standin = stand_in(erp_name)
    standin.seed_demo(erp_engine, customers=20, invoices=60)
    erp = standin.build_connector(erp_engine, ConnectorOptions())
    store = Store(sa.create_engine(f"sqlite:///{tmp_path}/store.db"))
    store.create_schema()
    components = Components(
        settings=settings, paytrace=paytrace, erp_engine=erp_engine, erp=erp, store=store
    )
    with ThreadPoolExecutor(max_workers=8) as executor:
        workers = build_workers(client, components, executor)
        tasks = [asyncio.create_task(w.run()) for w in workers]
        try:
            yield Stack(client, settings, paytrace, erp, erp_engine, store, app)
        finally:
            await asyncio.gather(*(w.shutdown() for w in workers))
            await asyncio.gather(*tasks, return_exceptions=True)
            await paytrace.aclose()
            if server is not None:
                server.should_exit = True
                await serving
            erp_engine.dispose()
            store.engine.dispose()
