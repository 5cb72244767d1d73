"""Record the workflow histories that the replay tests replay.

Run ``.venv/bin/python -m tests.record_histories [scenario …]`` (all scenarios, or only those
named, e.g. ``chargebacks``) after a deliberate, compatible workflow change
(never to paper over a replay failure: that failure means running workflows would break). It
writes one history per scenario below; the older PaymentPosting histories in tests/histories
(``payment_posting_posted``, ``_parked_then_applied``, ``_declined`` and their ``_v1``) were
recorded by earlier versions of the code and are never re-recorded: they prove those runs still
replay.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from activities.starter import start_payment_posting
from domain.activity_io import InvoiceAmount, Resolution, ResolutionAction
from domain.models import PaymentSource
from domain.settlement_io import SettlementInput, SettlementSweepInput
from domain.start_io import StartKind
from tests.scenarios import company, parked, posted, sweep, today_for
from tests.stack import Stack, running_stack
from tests.temporal_envs import start_dev_server
from workflows.erp_refund_sweep import ErpRefundSweepInput
from workflows.registry import ErpRefundSweep, SettlementSweep, SettlementSync

HISTORIES = Path(__file__).parent / "histories"
Recorder = Callable[[Stack], Awaitable[dict[str, str]]]


async def payments(stack: Stack) -> dict[str, str]:
    """A payment parked (alert, SLA) and applied by an operator; an ACH payment."""
    queue = stack.settings.task_queue
    txn = await stack.sale("80.50", invoice="INV-77")
    await start_payment_posting(stack.client, queue, txn, "sweep")
    await parked(stack, f"payment-{txn}")
    await stack.handle(txn).execute_update(
        "resolve",
        Resolution(
            action=ResolutionAction.APPLY_TO,
            invoices=(InvoiceAmount(invoice_number="1002", amount=Decimal("80.50")),),
            operator="ops",
        ),
    )
    await stack.handle(txn).result()
    check = await stack.check_sale("40.00", invoice="1004")
    ach = await stack.start(StartKind.PAYMENT, check, method=PaymentSource.ACH)
    await ach.result()
    return {"payment_posting_parked_alerted": f"payment-{txn}", "payment_posting_ach": ach.id}


async def reversals(stack: Stack) -> dict[str, str]:
    """A void of a posted sale; a void while the payment waits; an ACH return."""
    voided = await posted(stack, "125.00", "1001")
    await stack.void(voided)
    waiting = await stack.sale("10.00", invoice="INV-404")
    await start_payment_posting(stack.client, stack.settings.task_queue, waiting, "sweep")
    await parked(stack, f"payment-{waiting}")
    await stack.void(waiting)
    check = await stack.check_sale("40.00", invoice="1004")
    await (await stack.start(StartKind.PAYMENT, check, method=PaymentSource.ACH)).result()
    await stack.return_check(check)
    lookback_id = await _sweep_id(stack, mode="lookback")
    for workflow_id in (f"void-{voided}", f"void-{waiting}", f"ach-return-{check}"):
        await stack.client.get_workflow_handle(workflow_id).result()
    return {
        "void_reversal_reversed": f"void-{voided}",
        "void_reversal_while_parked": f"void-{waiting}",
        "payment_posting_voided_while_parked": f"payment-{waiting}",
        "void_reversal_ach_return": f"ach-return-{check}",
        "transaction_sweep_lookback": lookback_id,
    }


async def refunds(stack: Stack) -> dict[str, str]:
    """A refund's credit memo; an ERP memo refunded; the refund tracepost made, recognised."""
    sale = await posted(stack, "100.00", "1001")
    await stack.settle()
    refund = await stack.refund(sale, "40.00")
    window_id = await _sweep_id(stack)
    await stack.client.get_workflow_handle(f"refund-{refund}").result()
    other = await posted(stack, "125.00", "1003")
    await stack.settle()
    assert stack.standin is not None
    number = f"CM{random.randrange(10**6, 10**7)}"
    stack.standin.add_credit_memo(
        stack.erp_engine,
        company_id=company(stack),
        customer_id="C0002",
        number=number,
        amount=Decimal("25.00"),
        memo_date=today_for(stack),
        comment=f"REFUND PT {other}",
    )
    erp_sweep_id = f"erp-refund-sweep-{uuid.uuid4().hex[:8]}"
    await stack.client.execute_workflow(
        ErpRefundSweep.run,
        ErpRefundSweepInput(lookback_days=2),
        id=erp_sweep_id,
        task_queue=stack.settings.task_queue,
    )
    (memo,) = stack.erp.flagged_refund_memos("REFUND PT", today_for(stack) - timedelta(days=1))
    memo_result = await stack.client.get_workflow_handle(
        f"memo-refund-{memo.erp_document}"
    ).result()
    await _sweep_id(stack)
    issued = memo_result["refund_transaction_id"]
    await stack.client.get_workflow_handle(f"refund-{issued}").result()
    return {
        "refund_to_credit_memo_posted": f"refund-{refund}",
        "transaction_sweep_window": window_id,
        "credit_memo_refund_refunded": f"memo-refund-{memo.erp_document}",
        "erp_refund_sweep": erp_sweep_id,
        "refund_to_credit_memo_erp_initiated": f"refund-{issued}",
    }


async def settlements(stack: Stack) -> dict[str, str]:
    """A batch with an unannounced sale, fees and a deposit; the daily sweep that starts it."""
    await posted(stack, "125.00", "1001")
    await stack.sale("80.50", invoice="1002")
    batch = await stack.settle()
    assert batch is not None
    sweep_id = f"settlement-sweep-{uuid.uuid4().hex[:8]}"
    await stack.client.execute_workflow(
        SettlementSweep.run,
        SettlementSweepInput(lookback_days=2),
        id=sweep_id,
        task_queue=stack.settings.task_queue,
    )
    await stack.client.get_workflow_handle(f"settlement-{batch}").result()
    rerun_id = f"settlement-rerun-{uuid.uuid4().hex[:8]}"
    await stack.client.execute_workflow(
        SettlementSync.run,
        SettlementInput(batch_number=batch),
        id=rerun_id,
        task_queue=stack.settings.task_queue,
    )
    return {
        "settlement_sync_deposited": f"settlement-{batch}",
        "settlement_sync_read_back": rerun_id,
        "settlement_sweep": sweep_id,
    }


async def chargebacks(stack: Stack) -> dict[str, str]:
    """A chargeback opened (fee, hold), won, then lost again: a flip, still waiting."""
    from tests.chargebacks import case_for, decide, open_case, wait_for

    txn = await posted(stack, "125.00", "1001")
    case = case_for(txn, "125.00")
    await open_case(stack, case)
    await wait_for(stack, case, "awaiting_deadline")
    await decide(stack, case, "won")
    await decide(stack, case, "lost")
    return {"chargeback_flipped": case.workflow_id}


async def autopay(stack: Stack) -> dict[str, str]:
    """The day's autopay charging one invoice; another declined and waiting to retry."""
    from domain.autopay_io import AutopaySweepInput
    from tests.autopay import autopay_customer, start_charge

    due = await autopay_customer(stack, "212.40")
    sweep_id = f"autopay-sweep-{uuid.uuid4().hex[:8]}"
    await stack.client.execute_workflow(
        "AutopaySweep", AutopaySweepInput(), id=sweep_id, task_queue=stack.settings.task_queue
    )
    await stack.client.get_workflow_handle(due.workflow_id).result()
    declined = await autopay_customer(stack, "80.51", due_in_days=3)
    await start_charge(stack, declined)
    await stack.wait_stage(declined.workflow_id, "dunning")
    return {
        "autopay_sweep": sweep_id,
        "autopay_charge_charged": due.workflow_id,
        "autopay_charge_dunning": declined.workflow_id,
    }


async def customers(stack: Stack) -> dict[str, str]:
    """A sync pushing an ERP change (a conflict), writing a card, linking by id; a link_to."""
    from activities.starter import start_customer_link
    from domain.customer_io import CustomerLinkResult
    from tests.customers import erp_customer, new_id, run_sync, vault_profile
    from workflows.registry import CustomerLink

    pt_id, cust_id = new_id("P"), new_id("K")
    await vault_profile(stack, pt_id, name="Old Name", email="old@vault.example")
    erp_customer(stack, cust_id, name="New Name Co", email="ap@new.example", paytrace_id=pt_id)
    exact = new_id("X")
    erp_customer(stack, exact)
    await vault_profile(stack, exact)
    sync_id, _ = await run_sync(stack, f"record-{uuid.uuid4().hex[:6]}")
    linked: CustomerLinkResult = await stack.client.get_workflow_handle_for(
        CustomerLink.run, f"customer-link-{exact}"
    ).result()
    assert linked.customer_id == exact
    first, second = new_id("A"), new_id("B")
    shared = f"{first.lower()}@shared.example"
    erp_customer(stack, first, email=shared)
    erp_customer(stack, second, email=shared)
    ambiguous = new_id("pa-")
    await vault_profile(stack, ambiguous, email=shared)
    await start_customer_link(stack.client, stack.settings.task_queue, ambiguous, "test")
    link = stack.client.get_workflow_handle(f"customer-link-{ambiguous}")
    await parked(stack, link.id)
    await link.execute_update(
        "resolve",
        Resolution(action=ResolutionAction.LINK_TO, customer_id=second, operator="ops"),
    )
    await link.result()
    return {
        "customer_profile_sync": sync_id,
        "customer_link_exact_id": f"customer-link-{exact}",
        "customer_link_resolved": link.id,
    }


async def orders(stack: Stack) -> dict[str, str]:
    """A guest's order (customer created); an order whose posting waited for it; a mismatch."""
    from activities.order_starter import start_order_sync
    from tests.orders import account_customer, new_email, paid_order

    queue = stack.settings.task_queue
    guest = await paid_order(stack, {"name": "Ada Lovelace", "email": new_email()})
    await stack.client.get_workflow_handle(guest.workflow_id).result()
    account = {**account_customer(stack), "name": "Renamed By The Shop"}
    waited = await paid_order(stack, account, start=False)
    await start_payment_posting(stack.client, queue, waited.transaction_id, "sweep")
    await stack.wait_stage(f"payment-{waited.transaction_id}", "awaiting_order")
    await start_order_sync(stack.client, queue, waited.event, "webhook")
    await stack.client.get_workflow_handle(waited.workflow_id).result()
    await stack.handle(waited.transaction_id).result()
    mismatch = await paid_order(stack, account_customer(stack), amount="40.00")
    await parked(stack, mismatch.workflow_id)
    await stack.client.get_workflow_handle(mismatch.workflow_id).execute_update(
        "resolve",
        Resolution(action=ResolutionAction.MARK_HANDLED, note="refunded", operator="ops"),
    )
    await stack.client.get_workflow_handle(mismatch.workflow_id).result()
    return {
        "order_sync_new_customer": guest.workflow_id,
        "order_sync_customer_kept": waited.workflow_id,
        "payment_posting_order_synced": f"payment-{waited.transaction_id}",
        "order_sync_amount_mismatch": mismatch.workflow_id,
    }


async def alerts(stack: Stack) -> dict[str, str]:
    """The outbox delivered by e-mail and to the webhook (real local receivers)."""
    from temporalio.worker import Worker

    from activities.alerts import AlertDeliveryActivities
    from connectors.notify import SmtpSender, WebhookSender
    from domain.alert_io import AlertDeliveryInput
    from domain.store_io import AlertKind, AlertRequest
    from tests.alert_receivers import http_receiver, smtp_receiver
    from workflows.registry import AlertDelivery

    now = datetime.now(UTC)
    for key, kind, detail in [
        ("settlement", AlertKind.SETTLEMENT_DISCREPANCY, {"batch_number": 1}),
        ("customer", AlertKind.CUSTOMER_NOTICE, {"to": "ap@customer.example"}),
    ]:
        stack.store.raise_alert(
            AlertRequest(
                alert_key=f"record/{key}/{uuid.uuid4().hex[:8]}",
                kind=kind,
                subject=f"{kind.value} subject",
                message=f"{kind.value} message",
                detail=detail,
                at=now,
            )
        )
    queue = f"alerts-{uuid.uuid4().hex[:8]}"
    workflow_id = f"alert-delivery-{uuid.uuid4().hex[:8]}"
    with smtp_receiver() as smtp:
        async with http_receiver() as hook:
            acts = AlertDeliveryActivities(
                stack.store,
                email=SmtpSender("127.0.0.1", smtp.port, sender="tracepost@acme.example"),
                email_to=("finance@acme.example",),
                webhook=WebhookSender(hook.url),
            )
            async with Worker(
                stack.client,
                task_queue=queue,
                workflows=[AlertDelivery],
                activities=[acts.deliver_alerts],
            ):
                report = await stack.client.execute_workflow(
                    AlertDelivery.run, AlertDeliveryInput(), id=workflow_id, task_queue=queue
                )
    assert report.delivered == 3, report
    return {"alert_delivery": workflow_id}


async def _sweep_id(stack: Stack, **request: Any) -> str:
    workflow_id = f"sweep-{uuid.uuid4().hex[:10]}"
    await sweep(stack, workflow_id, **request)
    return workflow_id


SCENARIOS: list[tuple[Recorder, dict[str, Any]]] = [
    (payments, {}),
    (reversals, {}),
    (refunds, {"mapping": {"refunds": {"from_erp": True}}}),
    (
        chargebacks,
        {
            "mapping": {
                "accounts": {"chargeback_fees": "6110", "bank": "1000"},
                "chargebacks": {"credit_hold": True},
            }
        },
    ),
    (autopay, {"mapping": {"autopay": {"enabled": True, "notify_customer": True}}}),
    (customers, {}),
    (alerts, {}),
    (orders, {"mapping": {"orders": {"reference_prefix": "WEB-"}}}),
    (
        settlements,
        {
            "mapping": {
                "settlement": {"fees": "daily", "fee_percent": "2.9", "fee_per_transaction": "0.30"}
            }
        },
    ),
]


async def _record(only: set[str]) -> None:
    env = await start_dev_server()
    try:
        for recorder, options in SCENARIOS:
            if only and recorder.__name__ not in only:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                async with running_stack(
                    env.client, Path(tmp), f"sqlite:///{tmp}/erp.db", **options
                ) as stack:
                    named = await recorder(stack)
                    for name, workflow_id in named.items():
                        history = await stack.client.get_workflow_handle(
                            workflow_id
                        ).fetch_history()
                        path = HISTORIES / f"{name}.json"
                        path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
                        print(f"wrote {path}")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    import sys

    asyncio.run(_record(set(sys.argv[1:])))
