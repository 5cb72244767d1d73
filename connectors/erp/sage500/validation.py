"""Business checks on a receipt before anything is written; failures are final (not retryable)."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from connectors.erp.amounts import check_cents
from connectors.erp.errors import (
    CustomerNotUsableError,
    ErpBusinessError,
    InvoiceNotOpenError,
    MissingGlAccountError,
)
from connectors.erp.sage500 import codes
from connectors.erp.sage500.lookups import AnyRow, available_balance, find_customer_row
from connectors.erp.sage500.schema import tcmCashAcct, tglAccount
from domain.models import CashReceipt
from domain.money import quantize

ZERO = Decimal(0)
ACCOUNT_ACTIVE = 1


def check_amounts(receipt: CashReceipt) -> None:
    """Check that a receipt adds up: positive amount, applications + on account = amount.

    Args:
        receipt: the receipt to write.

    Raises:
        ErpBusinessError: if it does not.
    """
    pt_id = receipt.paytrace_transaction_id
    check_cents(
        f"receipt for PayTrace transaction {pt_id}",
        receipt.amount,
        receipt.on_account,
        *(a.amount for a in receipt.applications),
        *(a.write_off for a in receipt.applications),
    )
    if receipt.amount <= ZERO:
        raise ErpBusinessError(f"receipt for PayTrace transaction {pt_id}: amount must be positive")
    if receipt.on_account < ZERO:
        raise ErpBusinessError(
            f"receipt for PayTrace transaction {pt_id}: on-account amount is negative"
        )
    for app in receipt.applications:
        if app.amount < ZERO or app.write_off < ZERO or app.amount + app.write_off <= ZERO:
            raise ErpBusinessError(
                f"receipt for PayTrace transaction {pt_id}: application to invoice"
                f" {app.invoice_number} must have a positive amount and no negative write-off"
            )
    applied = sum((a.amount for a in receipt.applications), ZERO)
    if quantize(applied + receipt.on_account, 3) != quantize(receipt.amount, 3):
        raise ErpBusinessError(
            f"receipt for PayTrace transaction {pt_id}: applications {applied} + on account"
            f" {receipt.on_account} do not add up to the amount {receipt.amount}"
        )


def check_application(
    number: str,
    amount: Decimal,
    write_off: Decimal,
    row: AnyRow | None,
    customer: AnyRow,
) -> None:
    """Check that one application's invoice exists, is the customer's, open and big enough.

    Args:
        number: the invoice number as the application names it.
        amount: the amount applied.
        write_off: the amount written off.
        row: the locked ``invoice_select`` row, or None when not found.
        customer: the paying customer's row.

    Raises:
        InvoiceNotOpenError: if the invoice cannot take the application.
    """
    if row is None:
        raise InvoiceNotOpenError(f"invoice {number} does not exist")
    if int(row.CustKey) != int(customer.CustKey):
        raise InvoiceNotOpenError(
            f"invoice {number} belongs to customer {row.CustID}, not to {customer.CustID}"
        )
    available = available_balance(row)
    if available <= ZERO:
        raise InvoiceNotOpenError(f"invoice {number} is not open (balance {available})")
    if quantize(amount + write_off, 3) > available:
        raise InvoiceNotOpenError(
            f"invoice {number}: applying {amount} plus write-off {write_off} exceeds its open"
            f" balance {available}"
        )


def usable_customer(
    conn: sa.Connection,
    company_id: str,
    paytrace_id_field: str,
    customer_id: str,
    what: str,
    *,
    allow_hold: bool = False,
) -> AnyRow:
    """The customer a document is written for: it must exist, be active and not on hold.

    Args:
        conn: a connection.
        company_id: the Sage company.
        paytrace_id_field: the configured PayTrace id column (read along).
        customer_id: the ``CustID``.
        what: the document, for messages (``"receipts"``).
        allow_hold: accept a customer on credit hold (credit memos: the refund already left).

    Returns:
        The customer row.

    Raises:
        CustomerNotUsableError: unknown, inactive or on hold.
    """
    row = find_customer_row(conn, company_id, paytrace_id_field, customer_id=customer_id)
    if row is None:
        raise CustomerNotUsableError(
            f"customer {customer_id!r} does not exist in Sage 500 company {company_id}"
        )
    if int(row.Status) != codes.CUST_STATUS_ACTIVE:
        raise CustomerNotUsableError(
            f"customer {row.CustID} is not active (Status {row.Status}); {what} need an"
            " active customer"
        )
    if row.Hold and not allow_hold:
        raise CustomerNotUsableError(f"customer {row.CustID} is on credit hold")
    return row


def gl_account_keys(conn: sa.Connection, company_id: str, numbers: list[str]) -> list[int]:
    """``GLAcctKey`` of each account number, in order (journals, deposits, write-offs).

    Raises:
        MissingGlAccountError: an account does not exist or is not active.
    """
    acct = tglAccount.c
    found = {
        str(r.GLAcctNo).strip(): r
        for r in conn.execute(
            sa.select(acct.GLAcctKey, acct.GLAcctNo, acct.Status).where(
                acct.CompanyID == company_id, acct.GLAcctNo.in_(sorted(set(numbers)))
            )
        )
    }
    keys = []
    for number in numbers:
        row = found.get(number)
        if row is None:
            raise MissingGlAccountError(
                f"GL account {number} does not exist in Sage 500 company {company_id} (tglAccount)"
            )
        if int(row.Status) != ACCOUNT_ACTIVE:
            raise MissingGlAccountError(
                f"GL account {number} of company {company_id} is not active (Status {row.Status})"
            )
        keys.append(int(row.GLAcctKey))
    return keys


def check_write_off_account(conn: sa.Connection, company_id: str, gl_acct_no: str) -> None:
    """Refuse short-pay write-offs when their GL account is missing or inactive.

    Posting a write-off books it to that account; finding out at posting (or in Sage's GL
    register) leaves an entered receipt that cannot be posted.

    Raises:
        MissingGlAccountError: naming the write-off account.
    """
    try:
        gl_account_keys(conn, company_id, [gl_acct_no])
    except MissingGlAccountError as exc:
        raise MissingGlAccountError(f"write-off account (accounts['write_off']): {exc}") from exc


def cash_acct_key(conn: sa.Connection, company_id: str, gl_acct_no: str) -> int:
    """``tcmCashAcct.CashAcctKey`` of the cash account booked to an active GL account.

    Raises:
        MissingGlAccountError: the GL account is missing, inactive, or not a cash account.
    """
    acct = tglAccount.c
    row = conn.execute(
        sa.select(acct.Status, tcmCashAcct.c.CashAcctKey)
        .select_from(tglAccount)
        .outerjoin(tcmCashAcct, acct.GLAcctKey == tcmCashAcct.c.GLAcctKey)
        .where(acct.CompanyID == company_id, acct.GLAcctNo == gl_acct_no)
        .order_by(tcmCashAcct.c.CashAcctKey)
    ).first()
    if row is None:
        raise MissingGlAccountError(
            f"cash account: GL account {gl_acct_no} does not exist in Sage 500 company"
            f" {company_id} (tglAccount)"
        )
    if int(row.Status) != ACCOUNT_ACTIVE:
        raise MissingGlAccountError(
            f"cash account: GL account {gl_acct_no} of company {company_id} is not active"
            f" (Status {row.Status})"
        )
    if row.CashAcctKey is None:
        raise MissingGlAccountError(
            f"GL account {gl_acct_no} of company {company_id} is not set up as a cash account"
            " (tcmCashAcct)"
        )
    return int(row.CashAcctKey)
