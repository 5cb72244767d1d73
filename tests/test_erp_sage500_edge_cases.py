"""Sage 500 edge cases: sub-cent and oversized amounts, over-long keys, inactive accounts, late
period closes, ambiguous numbers, reversal and re-application ordering, comments, held customers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.erp.errors import (
    ClosedPeriodError,
    DocumentNotFoundError,
    ErpBusinessError,
    MissingGlAccountError,
)
from connectors.erp.sage500 import STAND_IN, Sage500Connector
from connectors.erp.sage500.schema import (
    tarCustomer,
    tarCustPmt,
    tarInvoice,
    tarPendCustPmt,
    tarPendInvoice,
    tcmCashAcct,
    tglAccount,
    tglFiscalPeriod,
    tglPosting,
    tptPaytraceXref,
)
from domain.erp_documents import (
    CreditMemo,
    CustomerProfile,
    Deposit,
    DocumentKind,
    JournalEntry,
    JournalLine,
    Reapplication,
    ReceiptReversal,
    ReversalReason,
)
from tests.erp_helpers import rows
from tests.test_erp_sage500 import NOW, PT_ID, TODAY, invoice_balance, receipt

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite\\+pysqlite does \\*not\\* support")

LONG_KEY = "k" * 41


@pytest.fixture
def engine(erp_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(erp_url)
    STAND_IN.seed_demo(eng, customers=50, invoices=196, today=TODAY)
    yield eng
    eng.dispose()


def connector(engine: sa.Engine, **kwargs: Any) -> Sage500Connector:
    return Sage500Connector(engine, clock=lambda: NOW, **kwargs)


def xref_count(engine: sa.Engine) -> int:
    return len(rows(engine, tptPaytraceXref))


def close_period(engine: sa.Engine, day: date) -> None:
    moment = datetime(day.year, day.month, day.day)
    per = tglFiscalPeriod.c
    with engine.begin() as conn:
        conn.execute(
            sa.update(tglFiscalPeriod)
            .where(per.StartDate <= moment, per.EndDate >= moment)
            .values(Status=2)
        )


# --- amounts finer than a cent -------------------------------------------------------------------


def test_receipt_with_sub_cent_applications_is_refused(engine: sa.Engine) -> None:
    # Rounded one by one to 3 places the applications (10.000 + 10.000) no longer add up to the
    # rounded amount (20.001): the batch would not balance.
    erp = connector(engine)
    with pytest.raises(ErpBusinessError, match="fractions of a cent"):
        erp.write_receipt(receipt(("1001", "10.0004"), ("1002", "10.0004"), amount="20.0008"))
    with pytest.raises(ErpBusinessError, match="fractions of a cent"):
        erp.write_receipt(receipt(("1001", "10.005")))
    with pytest.raises(ErpBusinessError, match="fractions of a cent"):
        erp.write_receipt(receipt(("1001", "10.00", "0.005")))
    assert xref_count(engine) == 0


def test_credit_memo_with_sub_cent_amount_is_refused(engine: sa.Engine) -> None:
    memo = CreditMemo(
        paytrace_transaction_id=2000001,
        customer_id="C0001",
        amount=Decimal("10.0051"),
        memo_date=TODAY,
        reference="refund",
        apply_to_invoice="1001",
    )
    with pytest.raises(ErpBusinessError, match="fractions of a cent"):
        connector(engine).write_credit_memo(memo)
    assert xref_count(engine) == 0


def test_journal_with_sub_cent_lines_is_refused(engine: sa.Engine) -> None:
    # 10.0004 + 10.0004 = 20.0008: the totals agree at 3 places, the stored lines do not.
    entry = JournalEntry(
        key="fees:batch:1",
        entry_date=TODAY,
        description="fees",
        lines=(
            JournalLine(account="6100", debit=Decimal("10.0004")),
            JournalLine(account="6100", debit=Decimal("10.0004")),
            JournalLine(account="1010", credit=Decimal("20.0008")),
        ),
    )
    with pytest.raises(ErpBusinessError, match="fractions of a cent"):
        connector(engine).write_journal(entry)
    assert xref_count(engine) == 0


def test_deposit_with_sub_cent_amount_is_refused(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "10.00")))
    deposit = Deposit(
        batch_number=77,
        deposit_date=TODAY,
        amount=Decimal("9.995"),
        receipt_transaction_ids=(PT_ID,),
    )
    with pytest.raises(ErpBusinessError, match="fractions of a cent"):
        erp.write_deposit(deposit)
    assert xref_count(engine) == 1


# --- keys longer than tptPaytraceXref.SourceKey (40) ----------------------------------------------


def posted(engine: sa.Engine) -> Sage500Connector:
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "25.00")))
    erp.post_receipt(PT_ID)
    return erp


def test_reversal_key_longer_than_the_xref_column_is_a_business_error(engine: sa.Engine) -> None:
    erp = posted(engine)
    before = xref_count(engine)
    with pytest.raises(ErpBusinessError, match="40"):
        erp.reverse_receipt(
            ReceiptReversal(
                key=LONG_KEY,
                paytrace_transaction_id=PT_ID,
                reason=ReversalReason.CHARGEBACK,
                reversal_date=TODAY,
            )
        )
    assert xref_count(engine) == before


def test_reapplication_key_longer_than_the_xref_column_is_a_business_error(
    engine: sa.Engine,
) -> None:
    erp = posted(engine)
    erp.reverse_receipt(
        ReceiptReversal(
            key="cb:1",
            paytrace_transaction_id=PT_ID,
            reason=ReversalReason.CHARGEBACK,
            reversal_date=TODAY,
        )
    )
    before = xref_count(engine)
    with pytest.raises(ErpBusinessError, match="40"):
        erp.reapply_receipt(
            Reapplication(key=LONG_KEY, paytrace_transaction_id=PT_ID, reapply_date=TODAY)
        )
    assert xref_count(engine) == before


def test_journal_key_longer_than_the_xref_column_is_a_business_error(engine: sa.Engine) -> None:
    entry = JournalEntry(
        key=LONG_KEY,
        entry_date=TODAY,
        description="fees",
        lines=(
            JournalLine(account="6100", debit=Decimal("1.00")),
            JournalLine(account="1010", credit=Decimal("1.00")),
        ),
    )
    with pytest.raises(ErpBusinessError, match="40"):
        connector(engine).write_journal(entry)
    assert xref_count(engine) == 0


# --- GL accounts on the AR side ------------------------------------------------------------------


def test_receipt_to_an_inactive_cash_account_is_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(tglAccount).where(tglAccount.c.GLAcctNo == "1010").values(Status=2))
    with pytest.raises(MissingGlAccountError, match="1010"):
        connector(engine).write_receipt(receipt(("1001", "25.00")))
    assert xref_count(engine) == 0


# --- emulated posting into a period closed since the write ---------------------------------------


def test_receipt_batch_is_not_posted_into_a_period_closed_since_it_was_written(
    engine: sa.Engine,
) -> None:
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "25.00")))
    close_period(engine, TODAY)
    with pytest.raises(ClosedPeriodError):
        erp.post_receipt(PT_ID)
    assert rows(engine, tarCustPmt) == []
    assert invoice_balance(engine, 1001) == Decimal("125.000")


def test_memo_batch_is_not_posted_into_a_period_closed_since_it_was_written(
    engine: sa.Engine,
) -> None:
    erp = connector(engine)
    memo = CreditMemo(
        paytrace_transaction_id=2000001,
        customer_id="C0001",
        amount=Decimal("10.00"),
        memo_date=TODAY,
        reference="refund",
        apply_to_invoice="1001",
    )
    erp.write_credit_memo(memo)
    close_period(engine, TODAY)
    with pytest.raises(ClosedPeriodError):
        erp.post_document(DocumentKind.CREDIT_MEMO, "2000001")
    assert invoice_balance(engine, 1001) == Decimal("125.000")


# --- an invoice number that means two invoices ----------------------------------------------------


def add_unpadded_twin(engine: sa.Engine, number: int) -> None:
    """An imported invoice whose TranNo is ``"1001"`` next to Sage's ``"0000001001"``."""
    inv = tarInvoice.c
    with engine.begin() as conn:
        row = dict(
            conn.execute(sa.select(tarInvoice).where(inv.TranNo == f"{number:010d}")).one()._mapping
        )
        top = conn.execute(sa.select(sa.func.max(inv.InvcKey))).scalar_one()
        row.update(InvcKey=int(top) + 1000, TranNo=str(number), TranID=f"{number}-IN")
        conn.execute(sa.insert(tarInvoice), [row])


def test_receipt_to_an_ambiguous_invoice_number_is_refused(engine: sa.Engine) -> None:
    add_unpadded_twin(engine, 1001)
    with pytest.raises(ErpBusinessError, match="several invoices"):
        connector(engine).write_receipt(receipt(("1001", "10.00")))
    assert xref_count(engine) == 0


def test_credit_memo_to_an_ambiguous_invoice_number_is_refused(engine: sa.Engine) -> None:
    add_unpadded_twin(engine, 1001)
    memo = CreditMemo(
        paytrace_transaction_id=2000001,
        customer_id="C0001",
        amount=Decimal("10.00"),
        memo_date=TODAY,
        reference="refund",
        apply_to_invoice="1001",
    )
    with pytest.raises(ErpBusinessError, match="several invoices"):
        connector(engine).write_credit_memo(memo)
    assert xref_count(engine) == 0


@pytest.mark.parametrize("account", ["6990", "6999"], ids=["inactive", "missing"])
def test_receipt_with_a_write_off_needs_a_usable_write_off_account(
    engine: sa.Engine, account: str
) -> None:
    erp = connector(engine, accounts={"write_off": account})
    with pytest.raises(MissingGlAccountError, match=f"write-off.*{account}"):
        erp.write_receipt(receipt(("1002", "80.00", "0.50")))
    assert xref_count(engine) == 0
    erp.write_receipt(receipt(("1002", "80.50")))  # no write-off: the account is not needed
    assert xref_count(engine) == 1


# --- a pending reversal reopens the invoice in every read -----------------------------------------


def test_pending_reversal_makes_a_paid_invoice_open_again(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "125.00")))
    erp.post_receipt(PT_ID)
    assert [i.invoice_number for i in erp.open_invoices("C0001")] == ["1002"]
    erp.reverse_receipt(
        ReceiptReversal(
            key="cb:1",
            paytrace_transaction_id=PT_ID,
            reason=ReversalReason.CHARGEBACK,
            reversal_date=TODAY,
        )
    )  # pending (e.g. the manual strategy): the invoice is owed again
    reopened = erp.invoice_by_number("1001")
    assert reopened is not None and reopened.balance == Decimal("125.00")
    assert sorted((i.invoice_number, i.balance) for i in erp.open_invoices("C0001")) == [
        ("1001", Decimal("125.00")),
        ("1002", Decimal("80.50")),
    ]
    assert erp.open_balance("C0001") == Decimal("205.50")


def test_amount_too_large_for_decimal_15_3_is_a_business_error(engine: sa.Engine) -> None:
    # PostgreSQL / SQL Server refuse it with a raw DataError (numeric overflow).
    erp = connector(engine)
    with pytest.raises(ErpBusinessError, match="too large"):
        erp.write_receipt(receipt(on_account="1000000000000.00"))
    entry = JournalEntry(
        key="fees:big",
        entry_date=TODAY,
        description="fees",
        lines=(
            JournalLine(account="6100", debit=Decimal("1000000000000.00")),
            JournalLine(account="1010", credit=Decimal("1000000000000.00")),
        ),
    )
    with pytest.raises(ErpBusinessError, match="too large"):
        erp.write_journal(entry)
    assert xref_count(engine) == 0
    erp.write_receipt(receipt(on_account="999999999999.99"))  # the largest that fits
    assert xref_count(engine) == 1


# --- reapplication never applies more than the invoice still owes --------------------------------


def test_reapplication_rounds_a_sub_cent_balance_down_not_up(engine: sa.Engine) -> None:
    # Sage keeps 3 places: a balance of 40.005 (keyed in Sage) can take 40.00, not 40.01.
    erp = connector(engine)
    erp.write_receipt(receipt(("1002", "80.00")))
    erp.post_receipt(PT_ID)
    erp.reverse_receipt(
        ReceiptReversal(
            key="cb:1",
            paytrace_transaction_id=PT_ID,
            reason=ReversalReason.CHARGEBACK,
            reversal_date=TODAY,
        )
    )
    erp.post_document(DocumentKind.REVERSAL, "cb:1")
    with engine.begin() as conn:
        conn.execute(
            sa.update(tarInvoice)
            .where(tarInvoice.c.TranNo == "0000001002")
            .values(Balance=Decimal("40.005"), BalanceHC=Decimal("40.005"))
        )
    erp.reapply_receipt(
        Reapplication(key="cb:1:won", paytrace_transaction_id=PT_ID, reapply_date=TODAY)
    )
    erp.post_document(DocumentKind.REAPPLICATION, "cb:1:won")
    assert invoice_balance(engine, 1002) == Decimal("0.005")


# --- customer profile values that do not fit ------------------------------------------------------


def test_upsert_with_a_paytrace_id_longer_than_the_user_field_is_a_business_error(
    engine: sa.Engine,
) -> None:
    erp = connector(engine)
    for cust_id in ("C0001", "NEW01"):  # update and create
        with pytest.raises(ErpBusinessError, match="1 to 15 characters"):
            erp.upsert_customer(
                CustomerProfile(customer_id=cust_id, name="X", paytrace_customer_id="p" * 16)
            )
    assert erp.find_customer(customer_id="NEW01") is None


def test_reapplication_waits_for_the_reversal_to_be_posted(engine: sa.Engine) -> None:
    # Counting the pending reversal as money given back, a reapplication posted before it would
    # take the invoice below zero: a permanent InvoiceNotOpenError at posting.
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "125.00")))
    erp.post_receipt(PT_ID)
    void = ReceiptReversal(
        key="void:1", paytrace_transaction_id=PT_ID, reason=ReversalReason.VOID, reversal_date=TODAY
    )
    erp.reverse_receipt(void)
    won = Reapplication(key="cb:1:won", paytrace_transaction_id=PT_ID, reapply_date=TODAY)
    before = xref_count(engine)
    with pytest.raises(DocumentNotFoundError, match=r"reversal .* is not posted"):
        erp.reapply_receipt(won)
    assert xref_count(engine) == before
    erp.post_document(DocumentKind.REVERSAL, "void:1")
    assert erp.reapply_receipt(won).applied_to == ("1001",)
    erp.post_document(DocumentKind.REAPPLICATION, "cb:1:won")
    assert invoice_balance(engine, 1001) == Decimal("0.000")


# --- a deposit clears the account the receipts went to --------------------------------------------


def test_deposit_clears_the_configured_cash_account_by_default(engine: sa.Engine) -> None:
    # A deployment that names only its cash account: receipts debit 1020, so the deposit must
    # credit 1020, not the default 1010 (which would leave 1020 uncleared and 1010 negative).
    with engine.begin() as conn:
        top = conn.execute(sa.select(sa.func.max(tglAccount.c.GLAcctKey))).scalar_one()
        conn.execute(
            sa.insert(tglAccount),
            [
                {
                    "GLAcctKey": int(top) + 100,
                    "CompanyID": "SOA",
                    "GLAcctNo": "1020",
                    "Description": "Card clearing 2",
                    "Status": 1,
                }
            ],
        )
        conn.execute(
            sa.insert(tcmCashAcct),
            [
                {
                    "CashAcctKey": 900,
                    "CompanyID": "SOA",
                    "CashAcctID": "CLEARING-2",
                    "Description": "Card clearing 2",
                    "GLAcctKey": int(top) + 100,
                }
            ],
        )
    erp = connector(engine, cash_account="1020")
    erp.write_receipt(receipt(("1001", "25.00")))
    erp.write_deposit(
        Deposit(
            batch_number=77,
            deposit_date=TODAY,
            amount=Decimal("25.00"),
            receipt_transaction_ids=(PT_ID,),
        )
    )
    acct = {r["GLAcctKey"]: r["GLAcctNo"] for r in rows(engine, tglAccount)}
    lines = sorted((acct[r["GLAcctKey"]], r["PostAmt"]) for r in rows(engine, tglPosting))
    assert lines == [("1000", Decimal("25.000")), ("1020", Decimal("-25.000"))]


# --- the comment a Sage user searches starts with the right PayTrace id ---------------------------


@pytest.mark.parametrize(
    "reference",
    [
        "payment for web order 1234567890 from the customer portal PT 1000123",  # tag cut off
        "PT 10001234 retry",  # another transaction's id, not this one's
    ],
)
def test_receipt_and_memo_comments_carry_their_own_paytrace_id(
    engine: sa.Engine, reference: str
) -> None:
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "25.00")).model_copy(update={"reference": reference}))
    erp.write_credit_memo(
        CreditMemo(
            paytrace_transaction_id=PT_ID + 1,
            customer_id="C0001",
            amount=Decimal("5.00"),
            memo_date=TODAY,
            reference=reference.replace("1000123", str(PT_ID + 1)),
        )
    )
    (pmt,) = rows(engine, tarPendCustPmt)
    assert pmt["TranCmnt"].startswith(f"PT {PT_ID} ")
    assert len(pmt["TranCmnt"]) <= 50
    (memo,) = rows(engine, tarPendInvoice)
    assert memo["TranCmnt"].startswith(f"PT {PT_ID + 1} ")


# --- a refund PayTrace already paid is recorded even on credit hold -------------------------------


def test_credit_memo_for_a_customer_on_credit_hold_is_written(engine: sa.Engine) -> None:
    # The money already left through PayTrace: refusing the memo (permanently) would leave the
    # refund out of AR. Credit hold stops new credit, not credits (as in the Dynamics SL adapter).
    with engine.begin() as conn:
        conn.execute(sa.update(tarCustomer).where(tarCustomer.c.CustID == "C0001").values(Hold=1))
    doc = connector(engine).write_credit_memo(
        CreditMemo(
            paytrace_transaction_id=2000001,
            customer_id="C0001",
            amount=Decimal("10.00"),
            memo_date=TODAY,
            reference="refund",
            apply_to_invoice="1001",
        )
    )
    assert (doc.created, doc.applied_to, doc.customer_id) == (True, ("1001",), "C0001")
