"""Contract of the chargeback / autopay / profile-sync / order-sync additions to ``ErpConnector``.

Dispute flips (reverse, reapply, reverse, reapply ...), credit hold, invoice write-offs, the
autopay flag, the card on file and sales-order prepayments; every ERP, SQLite and PostgreSQL,
through the protocol and the stand-in only.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql

from connectors.erp.errors import (
    ClosedPeriodError,
    CustomerNotUsableError,
    DocumentNotFoundError,
    ErpBusinessError,
    InvoiceNotOpenError,
    MissingGlAccountError,
)
from connectors.erp.standin import ERP_NAMES
from domain.erp_documents import (
    DocumentKind,
    DocumentStatus,
    InvoiceWriteOff,
    Reapplication,
    ReceiptReversal,
    ReversalReason,
    SalesOrder,
    SalesOrderLine,
)
from domain.models import CashReceipt, ReceiptStatus
from tests.erp_helpers import captured
from tests.test_erp_contract import TODAY, Erp, app, balance, normalized, paid_and_posted, receipt

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite\\+pysqlite does \\*not\\* support")

REV, REAPP, RECEIPT = DocumentKind.REVERSAL, DocumentKind.REAPPLICATION, DocumentKind.RECEIPT


@pytest.fixture(params=ERP_NAMES)
def erp(request: pytest.FixtureRequest, erp_url: str) -> Iterator[Erp]:
    engine = sa.create_engine(erp_url)
    try:
        yield Erp(request.param, engine)
    finally:
        engine.dispose()


def chargeback(key: str, pt_id: int = 5201) -> ReceiptReversal:
    return ReceiptReversal(
        key=key,
        paytrace_transaction_id=pt_id,
        reason=ReversalReason.CHARGEBACK,
        reversal_date=TODAY,
        reference=f"case {key}",
    )


def won(key: str, pt_id: int = 5201) -> Reapplication:
    return Reapplication(key=key, paytrace_transaction_id=pt_id, reapply_date=TODAY)


def owed(erp: Erp) -> tuple[Decimal, Decimal]:
    return balance(erp, "1003"), balance(erp, "1004")


OPEN = (Decimal("1250.00"), Decimal("40.00"))
PAID = (Decimal("0.00"), Decimal("0.00"))


# --- 1. dispute flips ---------------------------------------------------------------------------


def test_a_payment_cycles_reverse_reapply_reverse_reapply(erp: Erp) -> None:
    c = erp.connector
    paid_and_posted(erp, 5201, "C0002", "1300.00", app("1003", "1250.00"), app("1004", "40.00"))
    with pytest.raises(ErpBusinessError, match="5201"):
        c.reapply_receipt(won("cb-0:won"))  # never reversed
    steps: list[tuple[DocumentKind, str]] = [(RECEIPT, "5201")]
    for cycle in (1, 2):
        reversed_ = c.reverse_receipt(chargeback(f"cb-{cycle}"))
        assert reversed_.created and reversed_.kind is REV
        assert normalized(reversed_.applied_to) == {"1003", "1004"}
        assert not c.reverse_receipt(chargeback(f"cb-{cycle}")).created  # same key: read back
        # Reapplying before the reversal is posted would take the invoices below zero.
        with pytest.raises(ErpBusinessError, match="5201"):
            c.reapply_receipt(won(f"cb-{cycle}:won"))
        assert c.post_document(REV, f"cb-{cycle}").status is DocumentStatus.POSTED
        assert owed(erp) == OPEN
        assert c.open_balance("C0002") == Decimal("1290.00")
        with pytest.raises(ErpBusinessError, match="already reversed"):
            c.reverse_receipt(chargeback(f"cb-{cycle}:again"))  # reversed now: refused
        reapplied = c.reapply_receipt(won(f"cb-{cycle}:won"))
        assert reapplied.created and reapplied.kind is REAPP
        assert normalized(reapplied.applied_to) == {"1003", "1004"}
        assert reapplied.amount == Decimal("1300.00")
        assert not c.reapply_receipt(won(f"cb-{cycle}:won")).created
        with pytest.raises(ErpBusinessError, match="already reapplied"):
            c.reapply_receipt(won(f"cb-{cycle}:won-again"))  # in force now: refused
        c.post_document(REAPP, f"cb-{cycle}:won")
        assert owed(erp) == PAID
        steps += [(REV, f"cb-{cycle}"), (REAPP, f"cb-{cycle}:won")]
    assert [(d.kind, d.key) for d in c.documents_for_transaction(5201)] == steps
    assert c.find_document(REV, "cb-1:again") is None
    # A third flip: lost again reverses the second reapplication, the invoices reopen.
    third = c.reverse_receipt(chargeback("cb-3"))
    assert normalized(third.applied_to) == {"1003", "1004"}
    c.post_document(REV, "cb-3")
    assert owed(erp) == OPEN


def test_second_reversal_reopens_only_what_the_reapplication_paid(erp: Erp) -> None:
    c = erp.connector
    paid_and_posted(erp, 5202, "C0001", "205.50", app("1001", "125.00"), app("1002", "80.50"))
    c.reverse_receipt(chargeback("cb-a", 5202))
    c.post_document(REV, "cb-a")
    paid_and_posted(erp, 5203, "C0001", "80.50", app("1002", "80.50"))  # 1002 paid another way
    again = c.reapply_receipt(won("cb-a:won", 5202))
    assert normalized(again.applied_to) == {"1001"}  # the rest (80.50) goes on account
    c.post_document(REAPP, "cb-a:won")
    assert (balance(erp, "1001"), balance(erp, "1002")) == (Decimal("0.00"), Decimal("0.00"))
    lost = c.reverse_receipt(chargeback("cb-b", 5202))
    assert normalized(lost.applied_to) == {"1001"}
    c.post_document(REV, "cb-b")
    # 1001 reopens; 1002 stays paid by the other payment; the on-account rest is taken back.
    assert (balance(erp, "1001"), balance(erp, "1002")) == (Decimal("125.00"), Decimal("0.00"))
    assert c.open_balance("C0001") == Decimal("125.00")
    # The next win applies what the payment first paid, where still open.
    final = c.reapply_receipt(won("cb-b:won", 5202))
    assert normalized(final.applied_to) == {"1001"}
    c.post_document(REAPP, "cb-b:won")
    assert c.open_balance("C0001") == Decimal("0.00")


def test_a_void_of_a_never_reapplied_payment_is_reversed_once(erp: Erp) -> None:
    c = erp.connector
    paid_and_posted(erp, 5204, "C0001", "125.00", app("1001", "125.00"))
    void = ReceiptReversal(
        key="void:5204",
        paytrace_transaction_id=5204,
        reason=ReversalReason.VOID,
        reversal_date=TODAY,
    )
    assert c.reverse_receipt(void).created
    with pytest.raises(ErpBusinessError, match="already reversed"):
        c.reverse_receipt(void.model_copy(update={"key": "void:5204:b"}))
    c.post_document(REV, "void:5204")
    with pytest.raises(ErpBusinessError, match="already reversed"):
        c.reverse_receipt(void.model_copy(update={"key": "void:5204:c"}))
    assert [d.kind for d in c.documents_for_transaction(5204)] == [RECEIPT, REV]


# --- 2. credit hold -----------------------------------------------------------------------------


def test_credit_hold_is_set_and_released_idempotently(erp: Erp) -> None:
    c = erp.connector
    held = c.set_credit_hold("C0001", True)
    assert held.on_hold and held.active and held.customer_id == "C0001"
    assert c.set_credit_hold("C0001", True) == held
    assert c.get_customer("C0001") == held
    with pytest.raises(CustomerNotUsableError, match="hold"):
        c.write_receipt(receipt(5301, "C0001", "125.00", app("1001", "125.00")))
    released = c.set_credit_hold("C0001", False)
    assert not released.on_hold and released.active
    assert c.set_credit_hold("C0001", False) == released
    assert c.write_receipt(receipt(5301, "C0001", "125.00", app("1001", "125.00"))).created
    with pytest.raises(CustomerNotUsableError):
        c.set_credit_hold("NOBODY", True)


# --- 3. invoice write-offs ----------------------------------------------------------------------


def write_off(
    key: str,
    number: str = "1004",
    amount: str = "15.00",
    customer_id: str = "C0002",
    paytrace_transaction_id: int | None = None,
) -> InvoiceWriteOff:
    return InvoiceWriteOff(
        key=key,
        invoice_number=number,
        customer_id=customer_id,
        amount=Decimal(amount),
        write_off_date=TODAY,
        reference="chargeback lost",
        paytrace_transaction_id=paytrace_transaction_id,
    )


def test_write_off_lowers_the_invoice_once_and_posts(erp: Erp) -> None:
    c = erp.connector
    written = c.write_off_invoice(write_off("cb-9-w1-1004", paytrace_transaction_id=5401))
    assert written.created and written.kind is DocumentKind.WRITE_OFF
    assert written.status is DocumentStatus.PENDING and written.amount == Decimal("15.00")
    assert normalized(written.applied_to) == {"1004"} and written.customer_id == "C0002"
    assert balance(erp, "1004") == Decimal("25.00")  # pending already counts
    again = c.write_off_invoice(write_off("cb-9-w1-1004", paytrace_transaction_id=5401))
    assert again == written.model_copy(update={"created": False})
    assert c.find_document(DocumentKind.WRITE_OFF, "cb-9-w1-1004") == again
    assert [d.kind for d in c.documents_for_transaction(5401)] == [DocumentKind.WRITE_OFF]
    posted = c.post_document(DocumentKind.WRITE_OFF, "cb-9-w1-1004")
    assert posted.status is DocumentStatus.POSTED
    assert c.post_document(DocumentKind.WRITE_OFF, "cb-9-w1-1004").status is DocumentStatus.POSTED
    assert balance(erp, "1004") == Decimal("25.00")
    # The rest, for a customer on credit hold (a lost chargeback usually puts it there).
    c.set_credit_hold("C0002", True)
    c.write_off_invoice(write_off("cb-9-w2-1004", amount="25.00"))
    c.post_document(DocumentKind.WRITE_OFF, "cb-9-w2-1004")
    assert balance(erp, "1004") == Decimal("0.00")
    assert c.open_balance("C0002") == Decimal("1250.00")


def test_write_off_refusals_write_nothing(erp: Erp) -> None:
    c = erp.connector
    with pytest.raises(ErpBusinessError):
        c.write_off_invoice(write_off("wo-zero", amount="0.00"))
    with pytest.raises(ErpBusinessError):
        c.write_off_invoice(write_off("wo-neg", amount="-1.00"))
    with pytest.raises(ErpBusinessError):
        c.write_off_invoice(write_off("wo-mill", amount="1.005"))
    with pytest.raises(InvoiceNotOpenError):
        c.write_off_invoice(write_off("wo-over", amount="40.01"))
    with pytest.raises(InvoiceNotOpenError):
        c.write_off_invoice(write_off("wo-other", number="1001"))  # C0001's invoice
    with pytest.raises(InvoiceNotOpenError):
        c.write_off_invoice(write_off("wo-none", number="999999"))
    with pytest.raises(CustomerNotUsableError):
        c.write_off_invoice(write_off("wo-nobody", customer_id="NOBODY"))
    paid_and_posted(erp, 5402, "C0002", "40.00", app("1004", "40.00"))
    with pytest.raises(InvoiceNotOpenError):
        c.write_off_invoice(write_off("wo-paid", amount="1.00"))
    missing = erp.build(accounts={"write_off": "99999"})
    with pytest.raises(MissingGlAccountError):
        missing.write_off_invoice(write_off("wo-acct", number="1003"))
    erp.standin.set_period_open(erp.engine, company_id=erp.company, day=TODAY, is_open=False)
    with pytest.raises(ClosedPeriodError):
        c.write_off_invoice(write_off("wo-closed", number="1003"))
    keys = ("wo-zero", "wo-neg", "wo-mill", "wo-over", "wo-other", "wo-none", "wo-nobody")
    for key in (*keys, "wo-paid", "wo-acct", "wo-closed"):
        assert c.find_document(DocumentKind.WRITE_OFF, key) is None
    assert balance(erp, "1003") == Decimal("1250.00")


# --- 4. autopay ---------------------------------------------------------------------------------


def test_autopay_customers_follow_the_flag(erp: Erp) -> None:
    c = erp.connector
    assert c.autopay_customers() == []
    assert not c.get_customer("C0001").autopay  # type: ignore[union-attr]
    on = c.set_autopay("C0002", True)
    assert on.autopay and c.set_autopay("C0002", True) == on
    c.set_autopay("C0001", True)
    listed = c.autopay_customers()
    assert [d.customer_id for d in listed] == ["C0001", "C0002"]
    assert all(d.autopay for d in listed)
    assert listed[1] == c.get_customer("C0002")
    c.set_credit_hold("C0001", True)  # on hold is still active: listed, on_hold says so
    assert [(d.customer_id, d.on_hold) for d in c.autopay_customers()] == [
        ("C0001", True),
        ("C0002", False),
    ]
    erp.standin.add_customer(
        erp.engine, company_id=erp.company, customer_id="Z9", name="Gone", active=False
    )
    c.set_autopay("Z9", True)
    assert [d.customer_id for d in c.autopay_customers()] == ["C0001", "C0002"]
    off = c.set_autopay("C0001", False)
    assert not off.autopay
    assert [d.customer_id for d in c.autopay_customers()] == ["C0002"]
    with pytest.raises(CustomerNotUsableError):
        c.set_autopay("NOBODY", True)


def test_autopay_and_card_fields_must_differ_from_the_paytrace_id_field(erp: Erp) -> None:
    pt_field = "UserFld1" if erp.name == "sage500" else "User1"
    with pytest.raises(ValueError, match="different"):
        erp.build(autopay_field=pt_field)
    with pytest.raises(ValueError, match="different"):
        erp.build(card_field=pt_field)
    with pytest.raises(ValueError):
        erp.build(autopay_field="CustName" if erp.name == "sage500" else "Name")


# --- 5. card on file ----------------------------------------------------------------------------


def test_card_on_file_is_written_without_counting_as_an_erp_change(erp: Erp) -> None:
    c = erp.connector
    page = c.customers_changed_since("", limit=1000)
    while page.more:
        page = c.customers_changed_since(page.cursor, limit=1000)
    before = c.customers_changed_since(page.cursor, limit=1000)
    original = c.get_customer("C0001")
    assert original is not None and original.card_on_file == ""
    card = c.set_card_on_file("C0001", " x1111 12/2028 ")
    assert card.card_on_file == "x1111 12/2028"
    assert card == original.model_copy(update={"card_on_file": "x1111 12/2028"})
    assert c.set_card_on_file("C0001", "x1111 12/2028") == card
    after = c.customers_changed_since(page.cursor, limit=1000)
    assert [d.customer_id for d in after.customers] == [d.customer_id for d in before.customers]
    assert c.set_card_on_file("C0001", "").card_on_file == ""
    with pytest.raises(CustomerNotUsableError):
        c.set_card_on_file("NOBODY", "x1111 12/2028")


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "x11112 12/28",
        "x1111 122028",
    ],
)
def test_card_text_that_could_be_a_card_number_is_refused(erp: Erp, text: str) -> None:
    with pytest.raises(ErpBusinessError, match="card"):
        erp.connector.set_card_on_file("C0001", text)
    assert erp.connector.get_customer("C0001").card_on_file == ""  # type: ignore[union-attr]


def test_card_text_longer_than_the_field_is_refused(erp: Erp) -> None:
    width = 15 if erp.name == "sage500" else 30
    with pytest.raises(ErpBusinessError, match="fit"):
        erp.connector.set_card_on_file("C0001", "VISA x1111 exp 12/28 " + "x" * width)


# --- 6. sales-order prepayments -----------------------------------------------------------------


ORDER = SalesOrder(
    order_id="WEB-7001",
    customer_id="C0001",
    order_date=TODAY,
    lines=(SalesOrderLine(item_id="WIDGET", quantity=Decimal("2"), unit_price=Decimal("25.00")),),
    paytrace_transaction_id=5501,
)


def prepayment(pt_id: int = 5501, order: str = "WEB-7001", **kw: object) -> CashReceipt:
    return receipt(pt_id, str(kw.pop("customer", "C0001")), "50.00", sales_order=order, **kw)


def test_prepayment_of_a_sales_order_stays_unapplied(erp: Erp) -> None:
    c = erp.connector
    c.write_sales_order(ORDER)
    written = c.write_receipt(prepayment())
    assert written.created and written.status is ReceiptStatus.PENDING
    assert written.amount == Decimal("50.00") and written.customer_id == "C0001"
    assert c.find_receipt(5501) == written.model_copy(update={"created": False})
    # A later PaymentPosting of the same transaction reads it back as written.
    plain = receipt(5501, "C0001", "50.00", app("1001", "50.00"))
    assert not c.write_receipt(plain).created
    assert c.post_receipt(5501).status is ReceiptStatus.POSTED
    assert c.open_balance("C0001") == Decimal("205.50")  # no invoice was paid
    doc = c.find_document(RECEIPT, "5501")
    assert doc is not None and doc.applied_to == ()
    assert {d.kind for d in c.documents_for_transaction(5501)} == {
        RECEIPT,
        DocumentKind.SALES_ORDER,
    }
    void = ReceiptReversal(
        key="void:5501",
        paytrace_transaction_id=5501,
        reason=ReversalReason.VOID,
        reversal_date=TODAY,
    )
    assert c.reverse_receipt(void).applied_to == ()
    assert c.post_document(REV, "void:5501").status is DocumentStatus.POSTED
    assert c.open_balance("C0001") == Decimal("205.50")


def test_prepayment_refusals(erp: Erp) -> None:
    c = erp.connector
    c.write_sales_order(ORDER)
    applied = receipt(5502, "C0001", "50.00", app("1001", "50.00"), sales_order="WEB-7001")
    with pytest.raises(ErpBusinessError, match="prepay"):
        c.write_receipt(applied)
    with pytest.raises(DocumentNotFoundError, match="WEB-NONE"):
        c.write_receipt(prepayment(5503, "WEB-NONE"))
    with pytest.raises(ErpBusinessError, match="WEB-7001"):
        c.write_receipt(prepayment(5504, customer="C0002"))
    for pt_id in (5502, 5503, 5504):
        assert c.find_receipt(pt_id) is None


# --- SQL Server: the new Sage 500 statements compile ---------------------------------------------


def test_new_sage500_statements_compile_for_mssql(erp: Erp) -> None:
    if erp.name != "sage500" or erp.engine.dialect.name != "sqlite":
        pytest.skip("compiled once, from the Sage 500 stand-in on SQLite")
    c = erp.connector
    with captured(erp.engine) as statements:
        paid_and_posted(erp, 5201, "C0002", "1300.00", app("1003", "1250.00"), app("1004", "40.00"))
        for step in ("a", "b"):
            c.reverse_receipt(chargeback(f"cb-{step}"))
            c.post_document(REV, f"cb-{step}")
            c.reapply_receipt(won(f"cb-{step}:won"))
            c.post_document(REAPP, f"cb-{step}:won")
        c.documents_for_transaction(5201)
        c.set_credit_hold("C0002", True)
        c.set_autopay("C0001", True)
        c.set_card_on_file("C0001", "x1111 12/2028")
        c.autopay_customers()
        c.write_off_invoice(write_off("wo-sql", number="1002", customer_id="C0001"))
        c.post_document(DocumentKind.WRITE_OFF, "wo-sql")
        c.write_sales_order(ORDER)
        c.write_receipt(prepayment())
    dialect = mssql.dialect()
    compiled = [str(s.compile(dialect=dialect)) for s in statements]
    assert not any("FOR UPDATE" in s or "LIMIT" in s for s in compiled)
    assert any("upper(ltrim(rtrim([tarCustomer].[UserFld2]))) IN" in s for s in compiled)
    assert any("[tarCustomer] WITH (UPDLOCK, ROWLOCK)" in s for s in compiled)
