"""eCommerce order scenarios on both ERP stand-ins and both databases: an ``order.paid`` event
becomes a customer, a sales order with its lines and an unapplied prepayment, exactly once, and
the sweep's PaymentPosting of the same sale never posts it a second time."""

import asyncio
import base64
import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.client import Client

from activities.order_starter import start_order_sync
from activities.starter import start_payment_posting
from domain.activity_io import AttentionInfo, PostingOutcome, ResolutionAction
from domain.erp_documents import CustomerProfile
from domain.order_io import OrderOutcome, OrderSyncResult, new_customer_id
from tests.orders import (
    ORDERS_MAPPING,
    OrderLineRow,
    account_customer,
    new_email,
    order_counts,
    order_line_rows,
    paid_order,
    payment_rows,
)
from tests.scenarios import parked, resolve, result_of, sweep
from tests.stack import Stack, running_stack
from workers.settings import Settings
from workers.temporal_client import data_converter
from workflows.registry import OrderSync, PaymentPosting

pytestmark = pytest.mark.erp_diagonal  # each ERP once, each database once (conftest)

ADDRESS = {"line1": "1 Shop St", "city": "Portland", "state": "OR", "postal_code": "97201"}


def guest(email: str, name: str = "Ada Lovelace") -> dict[str, object]:
    return {"name": name, "email": email, "phone": "555-0142", "address": ADDRESS}


async def synced(stack: Stack, workflow_id: str) -> OrderSyncResult:
    result: OrderSyncResult = await result_of(stack, OrderSync.run, workflow_id)
    return result


async def parked_again(stack: Stack, workflow_id: str, before: AttentionInfo) -> AttentionInfo:
    """The next park after ``before`` (a retried workflow answers the old one for a moment)."""
    for _ in range(300):
        info = await parked(stack, workflow_id)
        if info.since != before.since:
            return info
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} did not park again")


def assert_prepaid(stack: Stack, result: OrderSyncResult, amount: str) -> None:
    """One payment in the ERP: the whole amount unapplied, naming the sales order."""
    (row,) = payment_rows(stack, result.transaction_id)
    assert row.customer_id == result.customer_id
    assert (row.amount, row.unapplied) == (Decimal(amount), Decimal(amount))
    if stack.erp.erp_name == "sage500":
        assert row.kind == "posted" and f"PREPAY SO {result.sales_order}" in row.reference
    else:
        assert row.kind == "PP" and row.reference == result.sales_order


async def test_a_guest_order_creates_the_customer_the_sales_order_and_its_prepayment(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=ORDERS_MAPPING
    ) as stack:
        email = new_email()
        order = await paid_order(stack, guest(email))
        result = await synced(stack, order.workflow_id)
        assert result.outcome is OrderOutcome.SYNCED, result.reason
        assert (result.customer_rule, result.customer_created) == ("derived_id", True)
        assert result.customer_id == new_customer_id("WEB", email)
        created = stack.erp.get_customer(result.customer_id)
        assert created is not None
        assert (created.name, created.email, created.address.city) == (
            "Ada Lovelace",
            email,
            "Portland",
        )
        assert order_line_rows(stack, result.sales_order) == [
            OrderLineRow("WIDGET", Decimal("3"), Decimal("29.97")),
            OrderLineRow("GADGET", Decimal("1"), Decimal("20.00")),
        ]
        assert_prepaid(stack, result, "49.97")
        assert stack.erp.open_balance(result.customer_id) == Decimal("0.00")  # no invoice paid
        assert (stack.store.posting(order.transaction_id) or {})["status"] == "posted"
        so = stack.store.posting(order.transaction_id, kind="sales_order") or {}
        assert so["erp_document"] == result.sales_order

        # The same shopper again: found by the e-mail, not created twice.
        again = await paid_order(stack, guest(email.upper(), name="Ada L."))
        second = await synced(stack, again.workflow_id)
        assert (second.customer_id, second.customer_rule) == (result.customer_id, "email")
        assert not second.customer_created and second.sales_order != result.sales_order
        assert_prepaid(stack, second, "49.97")


async def test_an_account_customer_is_kept_and_the_difference_recorded(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=ORDERS_MAPPING
    ) as stack:
        account = account_customer(stack)
        before = stack.erp.get_customer(account["customer_id"])
        assert before is not None
        customer = {**account, "name": "Renamed By The Shop"}
        order = await paid_order(
            stack,
            customer,
            amount="54.97",
            shipping="5.00",
            customer_po="PO-77",
        )
        parked_on = await parked(stack, order.workflow_id)  # no shipping item is mapped
        assert parked_on.reason_kind == "order_shipping_unmapped"
        await resolve(stack, order.workflow_id, ResolutionAction.MARK_HANDLED, note="by hand")
        assert (await synced(stack, order.workflow_id)).outcome is OrderOutcome.HANDLED
        assert payment_rows(stack, order.transaction_id) == []

        other = await paid_order(stack, customer, customer_po="PO-78")
        result = await synced(stack, other.workflow_id)
        assert result.outcome is OrderOutcome.SYNCED, result.reason
        assert (result.customer_id, result.customer_rule) == (before.customer_id, "given_id")
        assert not result.customer_created
        assert stack.erp.get_customer(before.customer_id) == before  # the ERP owns the customer
        (decision,) = stack.store.decisions(transaction_id=other.transaction_id)
        assert (decision.outcome, decision.customer_id) == ("kept_erp", before.customer_id)
        assert "name" in decision.reason
        assert_prepaid(stack, result, "49.97")


async def test_shipping_becomes_a_line_of_the_mapped_item(dev_env, tmp_path, erp_url, erp_name):
    mapping = {"orders": {**ORDERS_MAPPING["orders"], "shipping_item": "GADGET"}}
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=mapping
    ) as stack:
        new_id = f"N{uuid.uuid4().hex[:7].upper()}"
        customer = {"customer_id": new_id, "name": "New Account Co", "email": "ap@new.example"}
        order = await paid_order(stack, customer, amount="57.47", shipping="7.50")
        result = await synced(stack, order.workflow_id)
        assert result.outcome is OrderOutcome.SYNCED, result.reason
        assert (result.customer_id, result.customer_created) == (new_id, True)
        lines = order_line_rows(stack, result.sales_order)
        assert lines[-1] == OrderLineRow("GADGET", Decimal("1"), Decimal("7.50"))
        assert len(lines) == 3
        assert_prepaid(stack, result, "57.47")


async def test_a_duplicate_event_changes_nothing(dev_env, tmp_path, erp_url, erp_name):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=ORDERS_MAPPING
    ) as stack:
        order = await paid_order(stack, account_customer(stack))
        queue = stack.settings.task_queue
        assert not await start_order_sync(stack.client, queue, order.event, "webhook")  # joins
        result = await synced(stack, order.workflow_id)
        assert result.outcome is OrderOutcome.SYNCED
        counts = order_counts(stack)
        payments = payment_rows(stack, order.transaction_id)
        changed = order.event.model_copy(update={"customer_po": "PO-DUP"})
        assert not await start_order_sync(stack.client, queue, changed, "webhook")  # finished
        assert (await synced(stack, order.workflow_id)) == result
        assert order_counts(stack) == counts
        assert payment_rows(stack, order.transaction_id) == payments
        assert len(payments) == 1


async def test_a_payment_that_does_not_match_the_order_parks(dev_env, tmp_path, erp_url, erp_name):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=ORDERS_MAPPING
    ) as stack:
        account = account_customer(stack)
        counts = order_counts(stack)
        order = await paid_order(stack, account, amount="40.00")
        info = await parked(stack, order.workflow_id)
        assert info.reason_kind == "order_amount_mismatch"
        assert "40.00" in info.reason and "49.97" in info.reason
        assert info.allowed == (ResolutionAction.RETRY, ResolutionAction.MARK_HANDLED)
        await resolve(stack, order.workflow_id, ResolutionAction.RETRY)
        again = await parked_again(stack, order.workflow_id, info)
        assert again.reason_kind == "order_amount_mismatch"
        await resolve(stack, order.workflow_id, ResolutionAction.MARK_HANDLED, note="refunded")
        result = await synced(stack, order.workflow_id)
        assert result.outcome is OrderOutcome.HANDLED and result.reason == "refunded"
        assert order_counts(stack) == counts
        assert payment_rows(stack, order.transaction_id) == []

        voided = await paid_order(stack, account, start=False)
        await stack.void(voided.transaction_id)
        await start_order_sync(stack.client, stack.settings.task_queue, voided.event, "test")
        assert (await synced(stack, voided.workflow_id)).outcome is OrderOutcome.VOIDED
        assert order_counts(stack) == counts


async def test_the_posting_started_first_waits_for_the_order(dev_env, tmp_path, erp_url, erp_name):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=ORDERS_MAPPING
    ) as stack:
        order = await paid_order(stack, account_customer(stack), start=False)
        txn = order.transaction_id
        await start_payment_posting(stack.client, stack.settings.task_queue, txn, "sweep")
        await stack.wait_stage(f"payment-{txn}", "awaiting_order")
        assert payment_rows(stack, txn) == []
        await start_order_sync(stack.client, stack.settings.task_queue, order.event, "webhook")
        result = await synced(stack, order.workflow_id)
        assert result.outcome is OrderOutcome.SYNCED
        posting = await stack.handle(txn).result()
        assert (posting.outcome, posting.rule) == (PostingOutcome.POSTED, "order_sync")
        assert posting.erp_document == result.receipt
        assert_prepaid(stack, result, "49.97")
        assert stack.receipts(txn)[1] == 1


async def test_the_order_synced_first_leaves_the_sweep_nothing_to_post(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=ORDERS_MAPPING
    ) as stack:
        order = await paid_order(stack, account_customer(stack))
        result = await synced(stack, order.workflow_id)
        assert result.outcome is OrderOutcome.SYNCED
        swept = await sweep(stack)
        assert swept.started >= 1
        posting = await result_of(stack, PaymentPosting.run, f"payment-{order.transaction_id}")
        assert (posting.outcome, posting.rule) == (PostingOutcome.POSTED, "read_back")
        assert_prepaid(stack, result, "49.97")


async def test_an_order_payment_nobody_syncs_parks_then_the_late_order_parks_too(
    own_skipping_env, tmp_path, erp_url, erp_name
):
    env = own_skipping_env
    async with running_stack(
        env.client, tmp_path, erp_url, erp_name=erp_name, mapping=ORDERS_MAPPING
    ) as stack:
        account = account_customer(stack)
        order = await paid_order(stack, account, start=False)
        txn = order.transaction_id
        await start_payment_posting(stack.client, stack.settings.task_queue, txn, "sweep")
        await stack.wait_stage(f"payment-{txn}", "awaiting_order")
        await env.sleep(timedelta(minutes=61))
        info = await parked(stack, f"payment-{txn}")
        assert info.reason_kind == "order_not_synced"
        assert ResolutionAction.POST_ON_ACCOUNT in info.allowed
        await resolve(
            stack,
            f"payment-{txn}",
            ResolutionAction.POST_ON_ACCOUNT,
            customer_id=account["customer_id"],
        )
        await stack.wait_stage(f"payment-{txn}", "posted")
        (row,) = payment_rows(stack, txn)
        assert row.unapplied == Decimal("49.97") and row.customer_id == account["customer_id"]

        await start_order_sync(stack.client, stack.settings.task_queue, order.event, "late")
        late = await parked(stack, order.workflow_id)
        assert late.reason_kind == "order_payment_posted"
        await resolve(stack, order.workflow_id, ResolutionAction.MARK_HANDLED, note="applied")
        await stack.wait_stage(order.workflow_id, "handled")
        assert len(payment_rows(stack, txn)) == 1


async def test_a_derived_customer_id_someone_else_holds_parks_and_link_to_picks_the_customer(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=ORDERS_MAPPING
    ) as stack:
        email = new_email()
        stack.erp.upsert_customer(
            CustomerProfile(
                customer_id=new_customer_id("WEB", email), name="Squatter", email="x@other.example"
            )
        )
        account = account_customer(stack)
        order = await paid_order(stack, guest(email))
        info = await parked(stack, order.workflow_id)
        assert info.reason_kind == "order_customer_id_taken"
        assert ResolutionAction.LINK_TO in info.allowed
        await resolve(
            stack, order.workflow_id, ResolutionAction.LINK_TO, customer_id=account["customer_id"]
        )
        result = await synced(stack, order.workflow_id)
        assert result.outcome is OrderOutcome.SYNCED, result.reason
        assert (result.customer_id, result.customer_rule) == (account["customer_id"], "given_id")
        assert_prepaid(stack, result, "49.97")


async def test_orders_replay_starts_a_saved_event_once(dev_env, tmp_path, erp_url, erp_name):
    # The command and the worker both encrypt payloads, with the same key (as in production).
    keys = f"t{uuid.uuid4().hex[:8]}:{base64.b64encode(os.urandom(32)).decode()}"
    converter = data_converter(Settings(var_dir=tmp_path, codec_keys=SecretStr(keys)))
    encrypted = Client(**{**dev_env.client.config(), "data_converter": converter})
    async with running_stack(
        encrypted,
        tmp_path,
        erp_url,
        erp_name=erp_name,
        mapping=ORDERS_MAPPING,
        codec_keys=SecretStr(keys),
    ) as stack:
        order = await paid_order(stack, account_customer(stack), start=False)
        saved = tmp_path / "event.json"
        saved.write_text(
            json.dumps({"type": "order.paid", "data": order.event.model_dump(mode="json")})
        )
        env = {
            "TRACEPOST_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
            "TRACEPOST_TASK_QUEUE": stack.settings.task_queue,
            "TRACEPOST_CODEC": "on",
            "TRACEPOST_CODEC_KEYS": keys,
        }
        first = await tracepost(tmp_path, "orders", "replay", str(saved), **env)
        assert first.returncode == 0, first.stderr
        assert f"{order.workflow_id}: started" in first.stdout
        result = await synced(stack, order.workflow_id)
        assert result.outcome is OrderOutcome.SYNCED
        stored = await dev_env.client.get_workflow_handle(order.workflow_id).fetch_history()
        (given,) = stored.events[0].workflow_execution_started_event_attributes.input.payloads
        assert given.metadata["encoding"] == b"binary/encrypted"  # the command encrypted it
        again = await tracepost(tmp_path, "orders", "replay", str(saved), **env)
        assert again.returncode == 0 and "already known" in again.stdout
        shown = await tracepost(tmp_path, "orders", "show", order.order_id, **env)
        assert shown.returncode == 0 and f"sales order {result.sales_order}" in shown.stdout
        assert len(payment_rows(stack, order.transaction_id)) == 1
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({**order.event.model_dump(mode="json"), "lines": []}))
        refused = await tracepost(tmp_path, "orders", "replay", str(bad), **env)
        assert refused.returncode == 1 and "lines" in refused.stderr


async def tracepost(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the ``tracepost`` command without blocking the event loop the stack runs on."""
    return await asyncio.to_thread(
        subprocess.run,
        [str(Path(sys.executable).parent / "tracepost"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "TRACEPOST_VAR_DIR": str(cwd / "var"), **env},
    )
