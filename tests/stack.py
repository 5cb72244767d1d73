"""An in-process tracepost stack for integration tests: real workers on a real Temporal server,
the PayTrace simulator behind the real client, an ERP stand-in (Sage 500 or Dynamics SL), the
store."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa
from pydantic import SecretStr
from temporalio.client import Client, WorkflowHandle

from activities.starter import start_workflow
from connectors.erp.protocol import ErpConnector
from connectors.erp.standin import stand_in
from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.models import BankAccount, CheckSaleRequest, CreditCard, KeyedSaleRequest
from connectors.paytrace.simulator import SimulatorConfig, create_app
from connectors.store import Store
from domain.erp_documents import DocumentKind
from domain.models import PaymentSource
from domain.start_io import StartKind, WorkflowStart
from tests.erp_rows import posted_payments
from tests.serving import served
from tests.toml_out import dumps, merged
from workers.composition import Components, build_erp
from workers.mapping_file import load_mapping, starter_path
from workers.settings import Settings
from workers.worker import build_workers
from workflows.registry import PaymentPosting

TEST_CARD = "4012000098765439"
# ACH tests: a routing number with a valid checksum (JPMorgan Chase's published 021000021) and an
# account number that is nobody's.
TEST_ROUTING = "021000021"
TEST_ACCOUNT = "000123456789"


@dataclass
class Stack:
    client: Client
    settings: Settings
    paytrace: PaytraceClient
    erp: ErpConnector
    erp_engine: sa.Engine
    store: Store
    simulator: Any = None
    standin: Any = None
    clock: list[datetime] | None = None
    started: list[str] = field(default_factory=list)

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

    async def sim(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the simulator's test surface (``/_sim/...``)."""
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.simulator), base_url="http://sim"
        ) as admin:
            return await admin.request(method, path, **kwargs)

    async def settle(self) -> int | None:
        """Settle the open batch now (the sandbox's ``/v1/transactions/settle``)."""
        return await self.paytrace.settle()

    async def refund(self, transaction_id: int, amount: str | None = None) -> int:
        """Refund a settled sale in PayTrace, as a person at the virtual terminal would."""
        answer = await self.paytrace.refund_transaction(
            transaction_id, Decimal(amount) if amount else None
        )
        return answer.transaction_id

    async def void(self, transaction_id: int) -> None:
        await self.paytrace.void(transaction_id)

    async def check_sale(self, amount: str, invoice: str = "") -> int:
        """An ACH debit of a (fictitious) bank account; ``.51`` is not processed."""
        from connectors.paytrace.errors import PaytraceDeclined

        request = CheckSaleRequest(
            amount=Decimal(amount),
            check=BankAccount(account_number=SecretStr(TEST_ACCOUNT), routing_number=TEST_ROUTING),
            invoice_id=invoice,
        )
        try:
            return (await self.paytrace.check_sale(request)).check_transaction_id
        except PaytraceDeclined as exc:
            assert exc.transaction_id is not None
            return exc.transaction_id

    async def return_check(self, check_id: int, reason: str = "R01 Insufficient Funds") -> None:
        """The bank returns an ACH debit (the simulator's test surface)."""
        resp = await self.sim(
            "POST", f"/_sim/checks/{check_id}/return", json={"ach_message": reason}
        )
        assert resp.status_code == 200, resp.text

    async def start(
        self,
        kind: StartKind,
        transaction_id: int = 0,
        *,
        method: PaymentSource = PaymentSource.CARD,
        memo: Any = None,
        source: str = "test",
    ) -> WorkflowHandle[Any, Any]:
        """Start (or join) a workflow by its business key, as the starters do."""
        start = WorkflowStart(
            kind=kind, transaction_id=transaction_id, method=method, memo=memo, source=source
        )
        await start_workflow(self.client, self.settings.task_queue, start)
        self.started.append(start.workflow_id)
        return self.client.get_workflow_handle(start.workflow_id)

    async def wait_stage(self, workflow_id: str, stage: str, seconds: float = 30) -> None:
        """Wait until a workflow's ``TracepostStatus`` is ``stage``."""
        handle = self.client.get_workflow_handle(workflow_id)
        for _ in range(int(seconds * 10)):
            described = await handle.describe()
            attrs = {p.key.name: p.value for p in described.typed_search_attributes}
            if attrs.get("TracepostStatus") == stage:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{workflow_id} never reached {stage}: {attrs}")

    @property
    def tz(self) -> ZoneInfo:
        """The merchant's time zone."""
        return ZoneInfo(self.settings.paytrace_timezone)

    def period_label(self, day: date) -> str:
        period = self.erp.fiscal_period(day)
        assert period is not None
        return period.label


@asynccontextmanager
async def running_stack(
    client: Client,
    tmp_path: Path,
    erp_url: str,
    *,
    real_http: bool = False,
    erp_name: str = "sage500",
    mapping: dict[str, Any] | None = None,
    timezone: str = "America/New_York",
    clock: list[datetime] | None = None,
    cutoff: time = time(3, 0),
    demo_today: date | None = None,
    **settings_overrides: Any,
) -> AsyncIterator[Stack]:
    """Worker, simulator, ERP stand-in and store for one test.

    With ``real_http`` the simulator is served by uvicorn on a free port and the client uses a
    1-second read timeout, so slow answers really time out (in-process calls never do).
    ``mapping`` is laid over the ERP's starter mapping; ``clock`` (a one-item list the test
    moves) is the simulator's time; ``demo_today`` the demo company's today.
    """
    queue = f"tracepost-{uuid.uuid4().hex[:8]}"
    mapping_file = tmp_path / "mapping.toml"
    starter = load_mapping(starter_path(erp_name)).model_dump(mode="json")
    mapping_file.write_text(dumps(merged(starter, mapping or {})))
    settings = Settings(
        task_queue=queue,
        var_dir=tmp_path,
        erp=erp_name,
        erp_url=erp_url,
        mapping_file=mapping_file,
        sweep_first_lookback_days=1,
        paytrace_in_flight_grace_seconds=3,
        paytrace_timezone=timezone,
        **settings_overrides,
    )
    # Transaction ids are workflow ids: every stack on the shared dev server gets its own range.
    first_id = random.randrange(10**6, 10**12)
    app = create_app(
        SimulatorConfig(
            db_path=str(tmp_path / "sim.db"),
            first_transaction_id=first_id,
            first_check_id=first_id + 5 * 10**11,
            first_batch_number=random.randrange(1, 10**9),
            timezone=timezone,
            settlement_cutoff=cutoff,
        ),
        clock=(lambda: clock[0]) if clock else None,
    )
    exits = AsyncExitStack()
    if real_http:
        url = await exits.enter_async_context(served(app, "simulator"))
        timeout = httpx.Timeout(connect=2.0, read=1.0, write=2.0, pool=2.0)
        paytrace = PaytraceClient(url, "demo", "demo", timeout=timeout)
    else:
        transport = httpx.ASGITransport(app=app)
        paytrace = PaytraceClient("http://sim", "demo", "demo", transport=transport)
    erp_engine = sa.create_engine(erp_url)
    standin = stand_in(erp_name)
    standin.seed_demo(erp_engine, customers=20, invoices=60, today=demo_today)
    erp = build_erp(settings, erp_engine)
    store = Store(sa.create_engine(f"sqlite:///{tmp_path}/store.db"))
    store.create_schema()
    components = Components(
        settings=settings, paytrace=paytrace, erp_engine=erp_engine, erp=erp, store=store
    )
    with ThreadPoolExecutor(max_workers=8) as executor:
        workers = build_workers(client, components, executor)
        tasks = [asyncio.create_task(w.run()) for w in workers]
        try:
            yield Stack(client, settings, paytrace, erp, erp_engine, store, app, standin, clock)
        finally:
            await asyncio.gather(*(w.shutdown() for w in workers))
            await asyncio.gather(*tasks, return_exceptions=True)
            await paytrace.aclose()
            await exits.aclose()
            erp_engine.dispose()
            store.engine.dispose()
