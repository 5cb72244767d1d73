"""Helpers of the eCommerce order scenarios: a paid order, its event, and the ERP's own rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import SecretStr

from activities.order_starter import start_order_sync
from connectors.erp.tags import paytrace_tag
from connectors.paytrace.models import CreditCard, KeyedSaleRequest
from domain.erp_documents import CustomerProfile
from domain.order_io import OrderPaid
from domain.workflow_ids import order_workflow_id
from tests.stack import TEST_CARD, Stack

ORDERS_MAPPING: dict[str, Any] = {"orders": {"reference_prefix": "WEB-", "wait_minutes": 60}}
LINES = (
    {"item_id": "WIDGET", "description": "Widget", "quantity": "3", "unit_price": "9.99"},
    {"item_id": "GADGET", "quantity": "1", "unit_price": "20.00"},
)
"""Two demo items of both stand-ins: 3 x 9.99 + 20.00 = 49.97."""
LINES_TOTAL = "49.97"


def new_order_id() -> str:
    """A fresh store order number (``WEB-…``): workflow ids are global on the shared server."""
    return f"WEB-{uuid.uuid4().hex[:8].upper()}"


def new_email() -> str:
    """A fresh guest e-mail (its derived customer id is fresh too)."""
    return f"guest-{uuid.uuid4().hex[:10]}@shop.example"


def account_customer(stack: Stack, name: str = "Account Customer Co") -> dict[str, Any]:
    """A fresh, usable ERP customer, as the store names it in an event (id, name, e-mail).

    The demo company's customers are partly on hold or inactive by design: tests make their own.
    """
    customer_id = f"K{uuid.uuid4().hex[:7].upper()}"
    email = f"{customer_id.lower()}@account.example"
    stack.erp.upsert_customer(CustomerProfile(customer_id=customer_id, name=name, email=email))
    return {"customer_id": customer_id, "name": name, "email": email}


async def pay(stack: Stack, amount: str, order_id: str, email: str = "") -> int:
    """The store's card payment of an order: a PayTrace sale whose invoice_id is the order."""
    request = KeyedSaleRequest(
        amount=Decimal(amount),
        credit_card=CreditCard(
            number=SecretStr(TEST_CARD), expiration_month="12", expiration_year="2030"
        ),
        invoice_id=order_id,
        email=email,
    )
    return (await stack.paytrace.sale_keyed(request)).transaction_id


def event(order_id: str, transaction_id: int, customer: dict[str, Any], **fields: Any) -> OrderPaid:
    """An ``order.paid`` event as the store sends it (the two demo lines unless told)."""
    body: dict[str, Any] = {
        "order_id": order_id,
        "transaction_id": transaction_id,
        "customer": customer,
        "lines": list(LINES),
        **fields,
    }
    return OrderPaid.model_validate(body)


@dataclass
class PaidOrder:
    """An order paid in PayTrace and announced to tracepost."""

    order_id: str
    transaction_id: int
    event: OrderPaid

    @property
    def workflow_id(self) -> str:
        """``order-<order id>``."""
        return order_workflow_id(self.order_id)


async def paid_order(
    stack: Stack,
    customer: dict[str, Any],
    *,
    amount: str = LINES_TOTAL,
    start: bool = True,
    **fields: Any,
) -> PaidOrder:
    """Pay an order in PayTrace and (unless ``start`` is False) start its OrderSync."""
    order_id = new_order_id()
    txn = await pay(stack, amount, order_id, str(customer.get("email", "")))
    order = PaidOrder(order_id, txn, event(order_id, txn, customer, **fields))
    if start:
        assert await start_order_sync(stack.client, stack.settings.task_queue, order.event, "test")
    return order


@dataclass(frozen=True)
class OrderLineRow:
    """One sales order line as the ERP's own tables hold it."""

    item_id: str
    quantity: Decimal
    extension: Decimal


def order_line_rows(stack: Stack, erp_document: str) -> list[OrderLineRow]:
    """The lines of a sales order in the ERP's tables (Sage ``tsoSOLine``, SL ``SOLine``)."""
    with stack.erp_engine.connect() as conn:
        if stack.erp.erp_name == "sage500":
            from connectors.erp.sage500.schema import (
                timItem,
                tsoSalesOrder,
                tsoSOLine,
                tsoSOLineDist,
            )

            rows: list[tuple[Any, Any, Any]] = [
                tuple(r)
                for r in conn.execute(
                    sa.select(timItem.c.ItemID, tsoSOLineDist.c.QtyOrd, tsoSOLineDist.c.ExtAmt)
                    .select_from(tsoSalesOrder)
                    .join(tsoSOLine, tsoSOLine.c.SOKey == tsoSalesOrder.c.SOKey)
                    .join(tsoSOLineDist, tsoSOLineDist.c.SOLineKey == tsoSOLine.c.SOLineKey)
                    .join(timItem, timItem.c.ItemKey == tsoSOLine.c.ItemKey)
                    .where(tsoSalesOrder.c.TranID == erp_document)
                    .order_by(tsoSOLine.c.SOLineNo)
                )
            ]
        else:
            from connectors.erp.dynamics_sl.ledger_schema import SOLine

            rows = [
                (r.InvtID, r.QtyOrd, r.TotOrd)
                for r in conn.execute(sa.select(SOLine).order_by(SOLine.c.LineRef))
                if str(r.OrdNbr).strip() == erp_document.strip()
            ]
    return [
        OrderLineRow(str(item).strip(), Decimal(str(qty)).normalize(), _cents(ext))
        for item, qty, ext in rows
    ]


@dataclass(frozen=True)
class PaymentRow:
    """A customer payment carrying a PayTrace tag, as the ERP's own tables hold it."""

    kind: str
    customer_id: str
    amount: Decimal
    unapplied: Decimal
    reference: str


def payment_rows(stack: Stack, transaction_id: int) -> list[PaymentRow]:
    """Every payment document, pending or posted, of a PayTrace card transaction.

    Sage 500: ``tarPendCustPmt`` and ``tarCustPmt`` rows whose comment carries ``PT <id>``
    (kind ``pending`` / ``posted``, reference the comment); Dynamics SL: ``ARDoc`` payments
    (``PA``) and prepayments (``PP``) whose description starts with the tag (kind the doc type,
    reference ``CustOrdNbr``), unapplied being the document's balance.
    """
    tag = paytrace_tag(transaction_id)
    found: list[PaymentRow] = []
    with stack.erp_engine.connect() as conn:
        if stack.erp.erp_name == "sage500":
            from connectors.erp.sage500.schema import tarCustomer, tarCustPmt, tarPendCustPmt

            for kind, table in (("pending", tarPendCustPmt), ("posted", tarCustPmt)):
                for row in conn.execute(
                    sa.select(
                        tarCustomer.c.CustID,
                        table.c.TranAmt,
                        table.c.UnappliedAmt,
                        table.c.TranCmnt,
                    )
                    .join(tarCustomer, tarCustomer.c.CustKey == table.c.CustKey)
                    .where(table.c.TranCmnt.contains(tag))
                ):
                    comment = str(row.TranCmnt)
                    if f"{tag} " not in f"{comment} ":
                        continue  # PT 10001 is not PT 100012
                    found.append(
                        PaymentRow(
                            kind,
                            str(row.CustID).strip(),
                            _cents(row.TranAmt),
                            _cents(row.UnappliedAmt),
                            comment.strip(),
                        )
                    )
        else:
            from connectors.erp.dynamics_sl.ar_schema import ARDoc

            doc = ARDoc.c
            for sl in conn.execute(
                sa.select(
                    doc.DocType, doc.CustId, doc.OrigDocAmt, doc.DocBal, doc.CustOrdNbr, doc.DocDesc
                ).where(doc.DocType.in_(("PA", "PP")))
            ):
                desc = str(sl.DocDesc).rstrip()
                if desc != tag and not desc.startswith(f"{tag} "):
                    continue
                found.append(
                    PaymentRow(
                        str(sl.DocType).strip(),
                        str(sl.CustId).strip(),
                        _cents(sl.OrigDocAmt),
                        _cents(sl.DocBal),
                        str(sl.CustOrdNbr).strip(),
                    )
                )
    return found


def order_counts(stack: Stack) -> tuple[int, int, int]:
    """(sales order headers, sales order lines, customers) in the ERP's own tables."""
    with stack.erp_engine.connect() as conn:
        if stack.erp.erp_name == "sage500":
            from connectors.erp.sage500.schema import tarCustomer, tsoSalesOrder, tsoSOLine

            tables = (tsoSalesOrder, tsoSOLine, tarCustomer)
        else:
            from connectors.erp.dynamics_sl.ar_schema import Customer
            from connectors.erp.dynamics_sl.ledger_schema import SOHeader, SOLine

            tables = (SOHeader, SOLine, Customer)
        heads, lines, customers = (
            int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
            for t in tables
        )
    return heads, lines, customers


def _cents(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))
