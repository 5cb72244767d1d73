"""An in-process tracepost stack for integration tests: real workers on a real Temporal server,
the PayTrace simulator behind the real client, the Sage 500 stand-in, the store."""

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

from connectors.erp.sage500 import Sage500Connector, create_schema, seed_demo
from connectors.erp.sage500.schema import tarCustPmt, tptPaytraceXref
from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.models import CreditCard, KeyedSaleRequest
from connectors.paytrace.simulator import SimulatorConfig, create_app
from connectors.store import Store
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
    erp: Sage500Connector
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
        """(posted receipts carrying the reference, cross-reference rows) for a transaction."""
        with self.erp_engine.connect() as conn:
            xref = conn.execute(
                sa.select(sa.func.count())
                .select_from(tptPaytraceXref)
                .where(tptPaytraceXref.c.PaytraceTranID == transaction_id)
            ).scalar_one()
            pmts = conn.execute(
                sa.select(sa.func.count())
                .select_from(tarCustPmt)
                .where(tarCustPmt.c.TranCmnt.contains(f"PT {transaction_id}"))
            ).scalar_one()
        return int(pmts), int(xref)

    def handle(self, transaction_id: int) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle_for(PaymentPosting.run, f"payment-{transaction_id}")


@asynccontextmanager
async def running_stack(
    client: Client, tmp_path: Path, erp_url: str, *, real_http: bool = False
) -> AsyncIterator[Stack]:
    """Worker, simulator, ERP stand-in and store for one test.

    With ``real_http`` the simulator is served by uvicorn on a free port and the client uses a
    1-second read timeout, so slow answers really time out (in-process calls never do).
    """
    queue = f"tracepost-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        task_queue=queue,
        var_dir=tmp_path,
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
    create_schema(erp_engine)
    seed_demo(erp_engine)
    erp = Sage500Connector(erp_engine)
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
