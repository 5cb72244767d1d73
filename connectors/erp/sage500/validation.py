"""Business checks on a receipt before anything is written; failures are final (not retryable)."""

from __future__ import annotations

from decimal import Decimal

from connectors.erp.errors import ErpBusinessError, InvoiceNotOpenError
from connectors.erp.sage500.lookups import AnyRow, available_balance
from domain.models import CashReceipt
from domain.money import quantize

ZERO = Decimal(0)


def check_amounts(receipt: CashReceipt) -> None:
    """Check that a receipt adds up: positive amount, applications + on account = amount.

    Args:
        receipt: the receipt to write.

    Raises:
        ErpBusinessError: if it does not.
    """
    pt_id = receipt.paytrace_transaction_id
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
