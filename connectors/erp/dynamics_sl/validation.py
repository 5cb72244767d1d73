"""Business checks before an SL write; failures are final (not retryable) and write nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from connectors.erp.dynamics_sl import codes, lookups
from connectors.erp.dynamics_sl.ar_schema import ARDoc
from connectors.erp.dynamics_sl.base import fiscal_period, period_of, text
from connectors.erp.dynamics_sl.ledger_checks import check_accounts, read_setup
from connectors.erp.dynamics_sl.rows import Account, Posting
from connectors.erp.errors import (
    ClosedPeriodError,
    CustomerNotUsableError,
    ErpBusinessError,
    InvoiceNotOpenError,
    MissingGlAccountError,
)
from connectors.erp.locks import lock_rows
from domain.matching import normalize_invoice_number
from domain.models import Application

ZERO = Decimal(0)


def open_posting(conn: sa.Connection, day: date) -> Posting:
    """The AR period a document dated ``day`` posts to; refuse a closed one.

    SL closes AR periods by advancing ``ARSetup.PerNbr``; a date before it is closed.

    Raises:
        ClosedPeriodError: the period is closed, or beyond next fiscal year.
    """
    setup = read_setup(conn)
    ar = lookups.ar_setup(conn)
    current = text(ar.PerNbr)
    try:
        period = fiscal_period(setup, day, current)
    except ValueError as exc:
        raise ClosedPeriodError(f"no fiscal period covers {day.isoformat()}") from exc
    if not period.open:
        raise ClosedPeriodError(
            f"fiscal period {period.label} of {day.isoformat()} is closed in Dynamics SL AR"
            f" (current AR period {current[:4]}-{current[4:]})"
        )
    per_post, _, _ = period_of(setup, day)
    return Posting(per_post=per_post, per_ent=current, ledger_id=text(setup.LedgerID), doc_date=day)


def usable_customer(
    conn: sa.Connection, pt_field: str, customer_id: str, *, allow_hold: bool = False
) -> lookups.AnyRow:
    """The customer, refused when unknown, inactive or (unless allowed) on hold.

    Money PayTrace already moved back (refund, chargeback) is recorded for a customer on hold.

    Raises:
        CustomerNotUsableError: when it cannot take a document.
    """
    row = lookups.find_customer_row(conn, pt_field, customer_id=customer_id)
    if row is None:
        raise CustomerNotUsableError(f"customer {customer_id!r} does not exist in Dynamics SL")
    status = text(row.Status)
    if status in codes.HOLD_STATES and not allow_hold:
        raise CustomerNotUsableError(
            f"customer {text(row.CustId)} is on hold"
            f" ({'credit' if status == 'H' else 'administrative'} hold, Status {status})"
        )
    if status not in codes.USABLE_STATES and status not in codes.HOLD_STATES:
        raise CustomerNotUsableError(
            f"customer {text(row.CustId)} is not active (Status {status or 'blank'})"
        )
    return row


def normalized_numbers(
    applications: tuple[Application, ...], prefixes: tuple[str, ...]
) -> list[str]:
    """The applications' normalized invoice numbers; refuse one invoice twice.

    Raises:
        ErpBusinessError: for a duplicate.
    """
    wanted: list[str] = []
    for app in applications:
        number = normalize_invoice_number(app.invoice_number, prefixes)
        if number in wanted:
            raise ErpBusinessError(
                f"applies twice to invoice {app.invoice_number}; combine the applications"
            )
        wanted.append(number)
    return wanted


def lock_debit_docs(
    conn: sa.Connection, numbers: list[str], prefixes: tuple[str, ...]
) -> list[lookups.AnyRow]:
    """Lock the released debit documents with these numbers, then re-read them.

    The re-read (balances and pending applications) is a new statement, so it sees what racing
    writers committed while this one waited for the locks.

    Args:
        conn: a connection inside the write transaction.
        numbers: invoice numbers as typed.
        prefixes: prefixes dropped when normalizing.

    Returns:
        ``lookups.invoice_select`` rows.
    """
    candidates = sorted({c for n in numbers for c in lookups.ref_candidates(n, prefixes)})
    if not candidates:
        return []
    d = ARDoc.c
    types = lookups.doc_types(*codes.DEBIT_TYPES)
    where = (d.RefNbr.in_(candidates), d.DocType.in_(types), d.Rlsed == 1)
    keys = conn.execute(
        lock_rows(
            sa.select(d.CustId, d.DocType, d.RefNbr, d.BatNbr, d.BatSeq)
            .where(*where)
            .order_by(d.CustId, d.DocType, d.RefNbr, d.BatNbr, d.BatSeq),
            ARDoc,
        )
    ).all()
    if not keys:
        return []
    return list(conn.execute(lookups.invoice_select().where(*where)).all())


def pick_invoice(
    number: str, rows: list[lookups.AnyRow], prefixes: tuple[str, ...], cust_id: str
) -> lookups.AnyRow:
    """The customer's document among the locked rows whose number normalizes to ``number``.

    Raises:
        InvoiceNotOpenError: missing, or only another customer's.
    """
    wanted = normalize_invoice_number(number, prefixes)
    matching = [r for r in rows if normalize_invoice_number(text(r.RefNbr), prefixes) == wanted]
    own = [r for r in matching if text(r.CustId) == cust_id]
    if not own:
        if matching:
            raise InvoiceNotOpenError(
                f"invoice {number} belongs to customer {text(matching[0].CustId)}, not to {cust_id}"
            )
        raise InvoiceNotOpenError(f"invoice {number} does not exist")
    if len(own) > 1:
        raise InvoiceNotOpenError(f"invoice number {number} matches several documents")
    return own[0]


def check_application(number: str, row: lookups.AnyRow, taken: Decimal) -> Decimal:
    """Check an invoice can take ``taken`` (amount + write-off); return its payable balance.

    Raises:
        InvoiceNotOpenError: paid already, or too small.
    """
    available = lookups.available_balance(row)
    if available <= ZERO:
        raise InvoiceNotOpenError(
            f"invoice {number} is not open (balance {max(available, ZERO)}; already paid or"
            " fully applied by an unreleased batch)"
        )
    if taken > available:
        raise InvoiceNotOpenError(
            f"invoice {number}: applying {taken} exceeds its open balance {available}"
        )
    return available


def check_positive(label: str, amount: Decimal) -> None:
    """Refuse a zero or negative document amount.

    Raises:
        ErpBusinessError: when not positive.
    """
    if amount <= ZERO:
        raise ErpBusinessError(f"{label}: amount must be positive, not {amount}")


def check_gl_accounts(conn: sa.Connection, accounts: dict[str, Account]) -> None:
    """Refuse GL accounts (and subaccounts) that are blank, missing or inactive in SL.

    Args:
        conn: a connection.
        accounts: the accounts a document's lines use, by purpose (for the message).

    Raises:
        MissingGlAccountError: naming each bad account or subaccount.
    """
    for purpose, account in accounts.items():
        if not account.acct or not account.sub:
            raise MissingGlAccountError(
                f"no GL account and subaccount for {purpose} (configure accounts[{purpose!r}]"
                " or the ARSetup default)"
            )
    check_accounts(conn, {(a.acct, a.sub) for a in accounts.values()})
