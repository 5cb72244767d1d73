"""Plain reads the matching engine and workflows make: customers, invoices, receipts, periods."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from connectors.erp.guard import erp_guard
from connectors.erp.sage500 import lookups
from connectors.erp.sage500.periods import read_period
from connectors.erp.sage500.schema import tarCustomer, tarInvoice
from connectors.erp.sage500.settings import ERP_LABEL, SageSettings
from domain.erp_documents import FiscalPeriod
from domain.models import ErpCustomer, OpenInvoice, PaymentSource, ReceiptRecord
from domain.money import quantize

ZERO = Decimal(0)


def find_customer(
    engine: sa.Engine, s: SageSettings, *, customer_id: str = "", paytrace_customer_id: str = ""
) -> ErpCustomer | None:
    """A customer by ``CustID``, else by the PayTrace id kept in ``paytrace_id_field``.

    Raises:
        ErpBusinessError: the PayTrace id is linked to more than one customer.
    """
    with erp_guard(ERP_LABEL, "find_customer"), engine.connect() as conn:
        row = lookups.find_customer_row(
            conn,
            s.company_id,
            s.paytrace_id_field,
            customer_id=customer_id,
            paytrace_customer_id=paytrace_customer_id,
        )
    return lookups.to_customer(row, s.paytrace_id_field) if row is not None else None


def invoice_by_number(engine: sa.Engine, s: SageSettings, number: str) -> OpenInvoice | None:
    """An AR invoice by the number PayTrace carried (normalized), paid ones included.

    The number is compared with the stored zero-padded ``TranNo`` through the
    ``(CompanyID, TranNo, TranType)`` index.

    Raises:
        ErpBusinessError: the number matches more than one invoice.
    """
    candidates = lookups.tran_no_candidates(number, s.invoice_prefixes)
    if not candidates:
        return None
    inv = tarInvoice.c
    with erp_guard(ERP_LABEL, "invoice_by_number"), engine.connect() as conn:
        rows = conn.execute(
            lookups.invoice_select().where(
                inv.CompanyID == s.company_id, inv.TranNo.in_(candidates)
            )
        ).all()
    if len(rows) > 1:
        raise lookups.several_invoices(number, list(rows))
    return lookups.to_open_invoice(rows[0], s.invoice_prefixes) if rows else None


def open_invoices(engine: sa.Engine, s: SageSettings, customer_id: str) -> list[OpenInvoice]:
    """A customer's invoices with a payable balance above zero, oldest due first.

    A posted balance of zero is payable again while a pending reversal reopens the invoice.
    """
    inv = tarInvoice.c
    with erp_guard(ERP_LABEL, "open_invoices"), engine.connect() as conn:
        rows = conn.execute(
            lookups.invoice_select()
            .where(
                tarCustomer.c.CompanyID == s.company_id,
                tarCustomer.c.CustID == customer_id.strip(),
                sa.or_(inv.Balance > 0, lookups.reopened_by_pending()),
            )
            .order_by(inv.DueDate, inv.TranNo)
        ).all()
    invoices = [lookups.to_open_invoice(r, s.invoice_prefixes) for r in rows]
    return [i for i in invoices if i.balance > ZERO]


def open_balance(engine: sa.Engine, s: SageSettings, customer_id: str) -> Decimal:
    """What the customer still owes on open invoices (pending applications deducted)."""
    return quantize(sum((i.balance for i in open_invoices(engine, s, customer_id)), ZERO), 2)


def fiscal_period(engine: sa.Engine, s: SageSettings, day: date) -> FiscalPeriod | None:
    """The fiscal period a date falls in, or None."""
    with erp_guard(ERP_LABEL, "fiscal_period"), engine.connect() as conn:
        return read_period(conn, s.company_id, day)


def find_receipt(
    engine: sa.Engine, paytrace_transaction_id: int, source: PaymentSource = PaymentSource.CARD
) -> ReceiptRecord | None:
    """The receipt written for a card or ACH payment (``tptPaytraceXref``), or None."""
    with erp_guard(ERP_LABEL, "find_receipt"), engine.connect() as conn:
        row = lookups.read_receipt_xref(conn, paytrace_transaction_id, source)
    return lookups.to_record(row) if row is not None else None
